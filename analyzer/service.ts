// The analyzer on Kafka: a member of consumer group `tapwatch-analyzer` on tapwatch.inspection
// (keyed by device, so a device's records and baseline live on one analyzer at a time), anomaly
// events to tapwatch.anomalies keyed by device, and each touched device's state checkpointed to a
// compacted topic keyed by device before the batch's offsets are committed. On every partition
// assignment the analyzer reads the checkpoint topic to its end and restores the devices it does
// not hold yet, so one that takes over partitions after a failure goes on alarming without
// re-learning from zero. Delivery is at least once: a batch processed but not committed when an
// analyzer dies is processed again by its successor.

import type { Logger } from 'pino';
import { inspectionRecords, type InspectionRecord } from '../contracts/inspection-record.js';
import { backoffMs, sleep, Stopped } from '../net/backoff.js';
import { createKafka, type Kafka } from '../kafka/client.js';
import { ConsumerLoop, consumerStats, jsonDecoder, type ConsumedBatch } from '../kafka/consumer.js';
import { MAX_MESSAGE_BYTES, Producer, type OutMessage } from '../kafka/producer.js';
import { readTopic } from '../kafka/topic-reader.js';
import { ensureTopics, TOPICS } from '../kafka/topics.js';
import { createAnalyzer, type Analyzer, type DeviceStateJSON } from './analyzer.js';
import type { AnalyzerConfig } from './rules.js';
import { countBy } from '../net/counts.js';
import { CHECKPOINT_VERSION, deviceKey, groupKey, layoutFingerprint, readCheckpoint, type GroupCheckpoint } from './checkpoint.js';

export interface AnalyzerServiceOptions {
  brokers: string[];
  config: AnalyzerConfig;
  log: Logger;
  groupId?: string;
  inputTopic?: string;
  eventsTopic?: string;
  stateTopic?: string;
  partitions?: number;
  /** How long the first restore attempt may take before it is tried again; each retry allows twice as long, up to 10 minutes (default 60 s). */
  restoreTimeoutMs?: number;
  replicationFactor?: number;
  /** The configured interval (config file): records of another length are warned about once. */
  intervalSeconds?: number;
  /** How often the groups' fleet state is checkpointed (default 10 s; and at stop). */
  groupCheckpointMs?: number;
}

/**
 * The consumer loop's counts and the analyzer's: records, events, checkpoints, devices (restored) and groups
 * (restoredGroups) restored, and checkpoints discarded because they did not fit this configuration or layout
 * (the device or group relearns); the interval length of the last record (records carry it; the analyzer has
 * no default of its own); events by "behavior/alarm".
 */
function analyzerServiceStats() {
  return Object.assign(consumerStats('records', 'events', 'checkpoints', 'restored', 'restoredGroups', 'discarded'), {
    intervalSeconds: undefined as number | undefined,
    eventKinds: {} as Record<string, number>,
  });
}
export type AnalyzerServiceStats = ReturnType<typeof analyzerServiceStats>;

export class AnalyzerService {
  readonly stats = analyzerServiceStats();
  private readonly analyzer: Analyzer;
  readonly kafka: Kafka;
  readonly producer: Producer;
  private readonly consumer: ConsumerLoop<InspectionRecord>;
  private readonly input: string;
  private readonly events: string;
  private readonly state: string;
  private readonly stopping = new AbortController();
  private readonly fingerprint: string;
  private groupsWrittenAt = 0;

  constructor(private readonly o: AnalyzerServiceOptions) {
    this.analyzer = createAnalyzer(o.config);
    this.fingerprint = layoutFingerprint(this.analyzer.layout);
    this.kafka = createKafka({ brokers: o.brokers, clientId: 'tapwatch-analyzer', log: o.log });
    this.input = o.inputTopic ?? TOPICS.inspection;
    this.events = o.eventsTopic ?? TOPICS.anomalies;
    this.state = o.stateTopic ?? TOPICS.analyzerState;
    this.producer = new Producer(this.kafka, o.log, 'analyzer');
    this.consumer = new ConsumerLoop<InspectionRecord>({
      kafka: this.kafka,
      groupId: o.groupId ?? 'tapwatch-analyzer',
      topics: [this.input],
      log: o.log,
      what: 'inspection record',
      decode: jsonDecoder(inspectionRecords.errors),
      handle: (b) => this.onBatch(b),
      onAssign: () => this.restoreWithRetry(),
      stats: this.stats,
    });
  }

  /** Devices of this analyzer's partitions still warming up, and when the last of them is through (record time). */
  warming(): { devices: number; until: string | null } {
    return this.analyzer.warming();
  }

  async start(): Promise<void> {
    await ensureTopics(this.kafka, [
      { topic: this.input },
      { topic: this.events },
      // Compacted (the latest state of each device is all a restore needs), and taking a large group's checkpoint (MAX_MESSAGE_BYTES; the broker's default is 1 MB).
      { topic: this.state, config: { 'cleanup.policy': 'compact', 'max.message.bytes': String(MAX_MESSAGE_BYTES) } },
    ], { partitions: this.o.partitions ?? 6, replicationFactor: this.o.replicationFactor, attempts: Infinity, signal: this.stopping.signal, log: this.o.log });
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Stopped());
    await this.consumer.stop();
    // The groups' latest state, so the next analyzer does not start its fleet model from nothing; bounded,
    // since a broker that is away must not hold the stop up.
    if (this.stats.records > 0) {
      let timer: NodeJS.Timeout | undefined;
      const STOP_CHECKPOINT_MS = 3000;
      await Promise.race([
        this.producer.send(this.state, this.groupCheckpoints()).then(() => this.o.log.info('group state checkpointed')),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not acknowledged within ${STOP_CHECKPOINT_MS} ms`)), STOP_CHECKPOINT_MS))),
      ]).catch((err: Error) => this.o.log.warn({ err: err.message }, 'could not checkpoint group state at stop: the next analyzer restores the last periodic one'));
      clearTimeout(timer);
    }
    await this.producer.close();
  }

  private async onBatch(batch: ConsumedBatch<InspectionRecord>): Promise<'done'> {
    const touched = new Set<string>();
    const out: { key: string; value: string }[] = [];
    for (const { value: record } of batch.messages) {
      this.stats.records++;
      if (record.interval.seconds !== this.stats.intervalSeconds) this.onInterval(record);
      touched.add(record.device.id);
      for (const e of this.analyzer.process(record)) {
        countBy(this.stats.eventKinds, `${e.behavior}/${e.alarm}`);
        out.push({ key: record.device.id, value: JSON.stringify(e) });
      }
    }
    await this.producer.send(this.events, out);
    this.stats.events += out.length;
    // State first, offsets second: a successor never restores a device older than the records it skips.
    const states = [...touched].map((id) => this.envelope('device', id, this.analyzer.snapshot(id)!));
    if (Date.now() - this.groupsWrittenAt >= (this.o.groupCheckpointMs ?? 10_000)) states.push(...this.groupCheckpoints());
    await this.producer.send(this.state, states);
    this.stats.checkpoints += states.length;
    return 'done';
  }

  private onInterval(record: InspectionRecord): void {
    const configured = this.o.intervalSeconds;
    if (configured !== undefined && record.interval.seconds !== configured) {
      this.o.log.warn({ recordSeconds: record.interval.seconds, configuredSeconds: configured, device: record.device.id },
        'records of another interval than the configuration says: is the collector run with the same config file?');
    }
    this.stats.intervalSeconds = record.interval.seconds;
  }

  private envelope(kind: 'device', id: string, state: DeviceStateJSON): OutMessage;
  private envelope(kind: 'group', id: string, state: GroupCheckpoint): OutMessage;
  private envelope(kind: 'device' | 'group', id: string, state: DeviceStateJSON | GroupCheckpoint): OutMessage {
    const c = { v: CHECKPOINT_VERSION, fingerprint: this.fingerprint, kind, id, state };
    return { key: kind === 'device' ? deviceKey(id) : groupKey(id), value: JSON.stringify(c) };
  }

  /** Every group's fleet state (statistics, sketch, model): written every groupCheckpointMs and at stop. */
  private groupCheckpoints(): OutMessage[] {
    this.groupsWrittenAt = Date.now();
    const fleet = this.analyzer.snapshotFleet();
    return Object.entries(fleet.groups).map(([name, state]) => this.envelope('group', name, state));
  }

  /** A restore that fails (a broker away, the topic not readable in time) is logged and tried again, until the service stops. */
  private async restoreWithRetry(): Promise<void> {
    const signal = this.stopping.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        return await this.restoreState(backoffMs(attempt - 1, { baseMs: this.o.restoreTimeoutMs ?? 60_000, maxMs: 600_000 }));
      } catch (err) {
        if (signal.aborted) break;
        this.o.log.warn({ err: (err as Error).message, attempt }, 'restoring device state failed; retrying');
        await abortable(sleep(backoffMs(attempt)), signal).catch(() => undefined);
      }
    }
    this.o.log.info('restore abandoned: the analyzer is stopping');
  }

  /** Reads the checkpoint topic to its end and restores every device it knows better than this analyzer, and the groups it holds nothing of. */
  private async restoreState(timeoutMs: number): Promise<void> {
    const devices = new Map<string, DeviceStateJSON>();
    const groups = new Map<string, GroupCheckpoint>();
    const discarded = new Map<string, { count: number; keys: string[] }>();
    const reader = await readTopic(this.kafka, this.state, (m) => {
      const key = m.key?.toString('utf8') ?? null;
      const r = readCheckpoint(key, m.value, this.fingerprint);
      if ('ok' in r) {
        if (r.ok.kind === 'device') devices.set(r.ok.id, r.ok.state);
        else groups.set(r.ok.id, r.ok.state);
        return;
      }
      // A later checkpoint of the same key replaces a discarded one (compaction keeps the last).
      if (key?.startsWith('device:')) devices.delete(key.slice(7));
      else if (key?.startsWith('group:')) groups.delete(key.slice(6));
      if (r.discard === 'tombstone') return;
      const d = discarded.get(r.discard) ?? { count: 0, keys: [] };
      d.count++;
      if (d.keys.length < 5) d.keys.push(String(key));
      discarded.set(r.discard, d);
    }, { group: `tapwatch-analyzer-restore-${process.pid}-${Date.now()}`, timeoutMs });
    try {
      await abortable(reader.caughtUp, this.stopping.signal);
    } finally {
      await reader.stop();
    }
    // The groups this analyzer learned itself, before restoring devices (which registers their groups).
    const learned = new Set(Object.keys(this.analyzer.snapshotFleet().groups));
    let restored = 0;
    let refused = 0;
    for (const [id, state] of devices) {
      // Only a checkpoint that has seen more of the device than this analyzer has (a device it never
      // held, or held before its partition moved away and back).
      if ((this.analyzer.snapshot(id)?.records ?? -1) >= state.records) continue;
      if (this.analyzer.restore(id, state)) restored++;
      else refused++;
    }
    // A group this analyzer holds nothing of (a restart, a new member) starts from its checkpoint; one it
    // has learned itself keeps its own statistics.
    const adopted = [...groups].filter(([name]) => !learned.has(name));
    const fleet = this.analyzer.snapshotFleet();
    if (adopted.length) {
      for (const [name, g] of adopted) fleet.groups[name] = g;
      this.analyzer.restoreFleet(fleet);
    }
    const discards = [...discarded.values()].reduce((a, d) => a + d.count, 0) + refused;
    this.stats.discarded += discards;
    this.stats.restored += restored;
    this.stats.restoredGroups += adopted.length;
    if (discards > 0) {
      this.o.log.warn({ discarded: discards, reasons: Object.fromEntries([...discarded].map(([why, d]) => [why, d])), refusedByAnalyzer: refused },
        'checkpoints that do not fit this analyzer were discarded: those devices and groups relearn');
    }
    this.o.log.info({ restored, checkpointed: devices.size, groupsRestored: adopted.length, groupsCheckpointed: groups.size, discarded: discards, analyzerDevices: this.analyzer.deviceIds().length }, 'device state restored');
  }
}

/** `p`, or a rejection as soon as `signal` aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

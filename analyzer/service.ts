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
import { ConsumerLoop, jsonDecoder, type ConsumedBatch } from '../kafka/consumer.js';
import { Producer } from '../kafka/producer.js';
import { readTopic } from '../kafka/topic-reader.js';
import { ensureTopics, TOPICS } from '../kafka/topics.js';
import { createAnalyzer, type Analyzer, type DeviceStateJSON } from './analyzer.js';
import type { AnalyzerConfig } from './rules.js';

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
}

export class AnalyzerServiceStats {
  records = 0;
  events = 0;
  checkpoints = 0;
  restored = 0;
}

export class AnalyzerService {
  readonly stats = new AnalyzerServiceStats();
  private readonly analyzer: Analyzer;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly consumer: ConsumerLoop<InspectionRecord>;
  private readonly input: string;
  private readonly events: string;
  private readonly state: string;
  private readonly stopping = new AbortController();

  constructor(private readonly o: AnalyzerServiceOptions) {
    this.analyzer = createAnalyzer(o.config);
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
    });
  }

  get consumerStats() {
    return this.consumer.stats;
  }

  /** Devices of this analyzer's partitions still warming up, and when the last of them is through (record time). */
  warming(): { devices: number; until: string | null } {
    return this.analyzer.warming();
  }

  async start(): Promise<void> {
    await ensureTopics(this.kafka, [
      { topic: this.input },
      { topic: this.events },
      // Compacted: the latest state of each device is all a restore needs.
      { topic: this.state, config: { 'cleanup.policy': 'compact' } },
    ], { partitions: this.o.partitions ?? 6, attempts: Infinity, signal: this.stopping.signal, onRetry: (err, attempt) => this.o.log.warn({ err: err.message, attempt }, 'kafka not ready; retrying') });
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Stopped());
    await this.consumer.stop();
    await this.producer.close();
  }

  private async onBatch(batch: ConsumedBatch<InspectionRecord>): Promise<'done'> {
    const touched = new Set<string>();
    const out: { key: string; value: string }[] = [];
    for (const { value: record } of batch.messages) {
      this.stats.records++;
      touched.add(record.device.id);
      for (const e of this.analyzer.process(record)) out.push({ key: record.device.id, value: JSON.stringify(e) });
    }
    await this.producer.send(this.events, out);
    this.stats.events += out.length;
    // State first, offsets second: a successor never restores a device older than the records it skips.
    const states = [...touched].map((id) => ({ key: id, value: JSON.stringify(this.analyzer.snapshot(id)) }));
    await this.producer.send(this.state, states);
    this.stats.checkpoints += states.length;
    return 'done';
  }

  /** A restore that fails (a broker away, the topic not readable in time) is logged and tried again. */
  private async restoreWithRetry(): Promise<void> {
    for (let attempt = 1; !this.stopping.signal.aborted; attempt++) {
      try {
        return await this.restoreState(Math.min(600_000, (this.o.restoreTimeoutMs ?? 60_000) * 2 ** (attempt - 1)));
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message, attempt }, 'restoring device state failed; retrying');
        await sleep(backoffMs(attempt));
      }
    }
  }

  /** Reads the checkpoint topic to its end and restores every device it knows better than this analyzer. */
  private async restoreState(timeoutMs: number): Promise<void> {
    const latest = new Map<string, DeviceStateJSON>();
    const reader = await readTopic(this.kafka, this.state, (m) => {
      if (m.key && m.value) latest.set(m.key.toString(), JSON.parse(m.value.toString()) as DeviceStateJSON);
    }, { group: `tapwatch-analyzer-restore-${process.pid}-${Date.now()}`, timeoutMs });
    try {
      await reader.caughtUp;
    } finally {
      await reader.stop();
    }
    let restored = 0;
    for (const [id, state] of latest) {
      // Only a checkpoint that has seen more of the device than this analyzer has (a device it never
      // held, or held before its partition moved away and back).
      if ((this.analyzer.snapshot(id)?.records ?? -1) >= state.records) continue;
      this.analyzer.restore(id, state);
      restored++;
    }
    this.stats.restored += restored;
    this.o.log.info({ restored, checkpointed: latest.size, analyzerDevices: this.analyzer.deviceIds().length }, 'device state restored');
  }
}

// The analyzer on Kafka: a member of consumer group `tapwatch-analyzer` on tapwatch.inspection
// (keyed by device, so a device's records and baseline live on one analyzer at a time), anomaly
// events to tapwatch.anomalies keyed by device, and each touched device's state checkpointed to a
// compacted topic keyed by device before the batch's offsets are committed. On every partition
// assignment the analyzer reads the checkpoint topic to its end and restores the devices it does
// not hold yet, so one that takes over partitions after a failure goes on alarming without
// re-learning from zero. Delivery is at least once: a batch processed but not committed when an
// analyzer dies is processed again by its successor.

import { Kafka, logLevel, CompressionTypes, type Consumer, type EachBatchPayload, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { recordErrors } from '../contracts/inspection-record.js';
import { createAnalyzer, type Analyzer, type DeviceStateJSON } from './analyzer.js';
import { ensureTopics } from '../kafka/topics.js';
import { tailTopic } from '../kafka/topic-reader.js';
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
}

export class AnalyzerServiceStats {
  records = 0;
  events = 0;
  invalid = 0;
  checkpoints = 0;
  restored = 0;
}

export class AnalyzerService {
  readonly stats = new AnalyzerServiceStats();
  private readonly analyzer: Analyzer;
  private readonly kafka: Kafka;
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private restoring: Promise<void> = Promise.resolve();
  private readonly input: string;
  private readonly events: string;
  private readonly state: string;

  constructor(private readonly o: AnalyzerServiceOptions) {
    this.analyzer = createAnalyzer(o.config);
    this.kafka = new Kafka({ clientId: 'tapwatch-analyzer', brokers: o.brokers, logLevel: logLevel.NOTHING, retry: { retries: 10 } });
    this.input = o.inputTopic ?? 'tapwatch.inspection';
    this.events = o.eventsTopic ?? 'tapwatch.anomalies';
    this.state = o.stateTopic ?? 'tapwatch.analyzer-state';
  }

  async start(): Promise<void> {
    await this.ensureTopics();
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.consumer = this.kafka.consumer({ groupId: this.o.groupId ?? 'tapwatch-analyzer', sessionTimeout: 10_000, heartbeatInterval: 1000 });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.o.log.info({ assignment: e.payload.memberAssignment }, 'partitions assigned; restoring device state');
      this.restoring = this.restoreWithRetry();
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.input], fromBeginning: true });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }

  private async ensureTopics(): Promise<void> {
    const partitions = this.o.partitions ?? 6;
    await ensureTopics(this.kafka, [
      { topic: this.events, numPartitions: partitions },
      // Compacted: the latest state of each device is all a restore needs.
      { topic: this.state, numPartitions: partitions, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
    ], { onRetry: (err, attempt) => this.o.log.warn({ err: err.message, attempt }, 'creating topics failed; retrying') });
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    await this.restored(heartbeat);
    const touched = new Set<string>();
    const out: { key: string; value: string }[] = [];
    for (const m of batch.messages) {
      let record: InspectionRecord;
      try {
        record = JSON.parse(m.value?.toString('utf8') ?? '');
        const problem = recordErrors(record);
        if (problem) throw new Error(problem);
      } catch (err) {
        this.stats.invalid++;
        this.o.log.warn({ partition: batch.partition, offset: m.offset, err: (err as Error).message }, 'skipping a message that is not a valid inspection record');
        continue;
      }
      this.stats.records++;
      touched.add(record.device.id);
      for (const e of this.analyzer.process(record)) out.push({ key: record.device.id, value: JSON.stringify(e) });
    }
    if (!isRunning() || isStale()) return;
    if (out.length) {
      await this.producer!.send({ topic: this.events, acks: -1, compression: CompressionTypes.GZIP, messages: out });
      this.stats.events += out.length;
    }
    // State first, offsets second: a successor never restores a device older than the records it skips.
    const states = [...touched].map((id) => ({ key: id, value: JSON.stringify(this.analyzer.snapshot(id)) }));
    if (states.length) {
      await this.producer!.send({ topic: this.state, acks: -1, compression: CompressionTypes.GZIP, messages: states });
      this.stats.checkpoints += states.length;
    }
    resolveOffset(batch.lastOffset());
    await this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }]);
    await heartbeat();
  }

  /** Waits for the restore in progress, heartbeating meanwhile: a restore slower than the session timeout must
   *  not get this member evicted, or every rejoin would start another restore and the group would never settle. */
  private async restored(heartbeat: () => Promise<void>): Promise<void> {
    let done = false;
    const restoring = this.restoring.then(() => (done = true));
    while (!done) {
      await Promise.race([restoring, new Promise((r) => setTimeout(r, 1000))]);
      if (!done) await heartbeat();
    }
  }

  /** A restore that fails (the group is rebalancing, a broker is away) is logged and tried again. */
  private async restoreWithRetry(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.restoreState();
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message, attempt }, 'restoring device state failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  /** Reads the checkpoint topic to its end and restores every device it knows better than this analyzer. */
  private async restoreState(): Promise<void> {
    const latest = new Map<string, DeviceStateJSON>();
    const tail = await tailTopic(this.kafka, this.state, (m) => {
      if (m.key && m.value) latest.set(m.key.toString(), JSON.parse(m.value.toString()));
    }, { group: `tapwatch-analyzer-restore-${process.pid}-${Date.now()}` });
    try {
      await tail.caughtUp;
    } finally {
      await tail.stop();
    }
    for (const [id, state] of latest) {
      // Only a checkpoint that has seen more of the device than this analyzer has (a device it never
      // held, or held before its partition moved away and back).
      if ((this.analyzer.snapshot(id)?.records ?? -1) >= state.records) continue;
      this.analyzer.restore(id, state);
      this.stats.restored++;
    }
    this.o.log.info({ restored: this.stats.restored, checkpointed: latest.size, analyzerDevices: this.analyzer.deviceIds().length }, 'device state restored');
  }
}

// The responder on Kafka: a member of consumer group `tapwatch-responder` on tapwatch.anomalies,
// ActionEvents to tapwatch.actions keyed by device. Its ledger is the actions topic itself: read from
// the beginning before the first anomaly is consumed, then followed, so a restarted responder (or one
// that takes over another's partitions) neither repeats nor forgets an action. An anomaly's offset is
// committed only after its ActionEvents are published; one redelivered after a crash gets the same
// action ids, which the ledger and the control API's Idempotency-Key both recognise.

import { Kafka, logLevel, type Consumer, type EachBatchPayload, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { ControlClient } from '../control/model.js';
import { actionEventErrors, type ActionEvent } from '../contracts/action-event.js';
import { eventErrors, type AnomalyEvent } from '../contracts/anomaly-event.js';
import type { Policy } from './policy.js';
import { createResponder, type Responder, type ResponderOptions } from './responder.js';
import { ensureTopics } from '../kafka/topics.js';
import { tailTopic, type TopicTail } from '../kafka/topic-reader.js';

export interface ResponderServiceOptions {
  brokers: string[];
  policy: Policy;
  client: ControlClient;
  log: Logger;
  groupId?: string;
  anomaliesTopic?: string;
  actionsTopic?: string;
  partitions?: number;
  /** How often TTL releases are looked for. */
  releaseCheckMs?: number;
  /** How often the fleet is listed again from the control API (for the breaker's share). */
  fleetRefreshMs?: number;
  enforcer?: string;
  /** Where notify decisions are delivered (responder/notify.ts). */
  notifiers?: ResponderOptions['notifiers'];
}

export class ResponderServiceStats {
  messages = 0;
  /** Anomaly messages that are not valid AnomalyEvents: counted, logged, skipped. */
  invalid = 0;
  published = 0;
  /** ActionEvents read from the actions topic into the ledger (own ones included). */
  ledgerEvents = 0;
  ledgerInvalid = 0;
}

export class ResponderService {
  readonly stats = new ResponderServiceStats();
  readonly responder: Responder;
  private readonly kafka: Kafka;
  private readonly anomalies: string;
  private readonly actions: string;
  private producer: Producer | null = null;
  private consumer: Consumer | null = null;
  private tail: TopicTail | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private fleetListedAt = -Infinity;

  constructor(private readonly o: ResponderServiceOptions) {
    this.kafka = new Kafka({ clientId: 'tapwatch-responder', brokers: o.brokers, logLevel: logLevel.NOTHING, retry: { retries: 10 } });
    this.anomalies = o.anomaliesTopic ?? 'tapwatch.anomalies';
    this.actions = o.actionsTopic ?? 'tapwatch.actions';
    this.responder = createResponder({ policy: o.policy, client: o.client, log: o.log, enforcer: o.enforcer, notifiers: o.notifiers, publish: (ev) => this.publish(ev) });
  }

  async start(): Promise<void> {
    await this.ensureTopics();
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    // Topics another service has just created may not have leaders yet: a start-up step that fails is retried.
    await this.retrying('rebuilding the ledger from the actions topic', async () => {
      this.tail = await tailTopic(this.kafka, this.actions, (m, partition) => this.observe(m.value, partition, m.offset), {
        group: `tapwatch-responder-ledger-${process.pid}-${Date.now()}`,
        onCrash: (err) => this.o.log.error({ err: err.message }, 'reading tapwatch.actions crashed'),
      });
      try {
        await this.tail.caughtUp;
      } catch (err) {
        await this.tail.stop();
        throw err;
      }
    });
    this.o.log.info({ events: this.stats.ledgerEvents, invalid: this.stats.ledgerInvalid }, 'ledger rebuilt from the actions topic');
    await this.refreshFleet();
    this.consumer = this.kafka.consumer({ groupId: this.o.groupId ?? 'tapwatch-responder', sessionTimeout: 30_000, heartbeatInterval: 3000 });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => this.o.log.info({ assignment: e.payload.memberAssignment }, 'partitions assigned'));
    this.consumer.on(this.consumer.events.CRASH, (e) => this.o.log.error({ err: e.payload.error.message, restart: e.payload.restart }, 'consumer crashed'));
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.anomalies], fromBeginning: true });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
    this.timer = setInterval(() => void this.tick(), this.o.releaseCheckMs ?? 10_000);
  }

  private async retrying(what: string, step: () => Promise<unknown>, attempts = 20): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await step();
        return;
      } catch (err) {
        if (attempt === attempts) throw err;
        this.o.log.warn({ err: (err as Error).message, attempt }, `${what} failed; retrying`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.consumer?.disconnect();
    await this.responder.idle();
    await this.tail?.stop();
    await this.producer?.disconnect();
  }

  /** One message of the anomalies topic, handled at `now`; what is not a valid AnomalyEvent is counted and skipped. */
  async consume(value: Buffer | null, now: Date, at: { partition?: number; offset?: string } = {}): Promise<ActionEvent[]> {
    this.stats.messages++;
    let event: AnomalyEvent;
    try {
      event = JSON.parse(value?.toString('utf8') ?? '');
      const problem = eventErrors(event);
      if (problem) throw new Error(problem);
    } catch (err) {
      this.stats.invalid++;
      this.o.log.warn({ ...at, err: (err as Error).message }, 'skipping a message that is not a valid anomaly event');
      return [];
    }
    return this.responder.handle(event, now);
  }

  private async ensureTopics(): Promise<void> {
    const numPartitions = this.o.partitions ?? 6;
    await ensureTopics(this.kafka, [this.anomalies, this.actions].map((topic) => ({ topic, numPartitions })), {
      onRetry: (err, attempt) => this.o.log.warn({ err: err.message, attempt }, 'creating topics failed; retrying'),
    });
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    let next: bigint | null = null;
    // An API call retried with backoff can outlast the session timeout: keep the membership alive meanwhile.
    const beat = setInterval(() => heartbeat().catch(() => undefined), 3000);
    try {
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break;
        await this.consume(m.value, new Date(), { partition: batch.partition, offset: m.offset });
        resolveOffset(m.offset);
        next = BigInt(m.offset) + 1n;
      }
    } finally {
      clearInterval(beat);
    }
    if (next !== null) await this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next.toString() }]);
    await heartbeat();
  }

  private async publish(ev: ActionEvent): Promise<void> {
    await this.producer!.send({ topic: this.actions, acks: -1, messages: [{ key: ev.device.id, value: JSON.stringify(ev) }] });
    this.stats.published++;
    const line = { action_id: ev.action_id, device: ev.device.id, action: ev.action, result: ev.result };
    if (ev.result === 'failed') this.o.log.warn({ ...line, err: ev.error?.message }, 'action failed');
    else this.o.log.info(line, ev.reason);
  }

  private observe(value: Buffer | null, partition: number, offset: string): void {
    let ev: ActionEvent;
    try {
      ev = JSON.parse(value?.toString('utf8') ?? '');
      const problem = actionEventErrors(ev);
      if (problem) throw new Error(problem);
    } catch (err) {
      this.stats.ledgerInvalid++;
      this.o.log.warn({ partition, offset, err: (err as Error).message }, 'skipping a message of the actions topic that is not a valid action event');
      return;
    }
    this.stats.ledgerEvents++;
    this.responder.observe(ev);
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.responder.releaseDue(new Date());
      if (Date.now() - this.fleetListedAt >= (this.o.fleetRefreshMs ?? 600_000)) await this.refreshFleet();
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'release check failed; trying again at the next one');
    } finally {
      this.ticking = false;
    }
  }

  /** A control API that does not answer yet is not fatal: the breaker then takes its share of the devices seen in events. */
  private async refreshFleet(): Promise<void> {
    try {
      const subscribers = await this.responder.refreshFleet();
      this.fleetListedAt = Date.now();
      this.o.log.info({ subscribers }, 'fleet listed from the control API');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'cannot list subscribers from the control API; trying again later');
    }
  }
}

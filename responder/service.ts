// The responder on Kafka: a member of consumer group `tapwatch-responder` on tapwatch.anomalies,
// ActionEvents to tapwatch.actions keyed by device. Its ledger is the actions topic itself: read from
// the beginning before the first anomaly is consumed, then followed, so a restarted responder (or one
// that takes over another's partitions) neither repeats nor forgets an action. An anomaly's offset is
// committed only after its ActionEvents are published; one redelivered after a crash gets the same
// action ids, which the ledger and the control API's Idempotency-Key both recognise.

import type { Logger } from 'pino';
import type { ControlClient } from '../control/model.js';
import { actionEventErrors, type ActionEvent } from '../contracts/action-event.js';
import { eventErrors, type AnomalyEvent } from '../contracts/anomaly-event.js';
import { createKafka, type Kafka } from '../kafka/client.js';
import { ConsumerLoop, consumerStats, jsonDecoder, type ConsumedBatch } from '../kafka/consumer.js';
import { Producer } from '../kafka/producer.js';
import { readTopic, type TopicReader } from '../kafka/topic-reader.js';
import { ensureTopics, TOPICS } from '../kafka/topics.js';
import { backoffMs, sleep, Stopped } from '../net/backoff.js';
import { OutageLog } from '../net/outage-log.js';
import { countBy } from '../net/counts.js';
import type { Policy } from './policy.js';
import { createResponder, type Responder, type ResponderOptions } from './responder.js';

export interface ResponderServiceOptions {
  brokers: string[];
  policy: Policy;
  client: ControlClient;
  log: Logger;
  groupId?: string;
  anomaliesTopic?: string;
  actionsTopic?: string;
  partitions?: number;
  replicationFactor?: number;
  /** How often TTL releases are looked for. */
  releaseCheckMs?: number;
  /** How often the fleet is listed again from the control API (for the breaker's share). */
  fleetRefreshMs?: number;
  enforcer?: string;
  /** Where notify decisions are delivered (responder/notify.ts). */
  notifiers?: ResponderOptions['notifiers'];
}

/**
 * The consumer loop's counts and the service's: action events published, read from the actions topic into
 * the ledger (ledgerEvents, own ones included) or skipped there (ledgerInvalid); published ones by "action/result".
 */
function responderServiceStats() {
  return Object.assign(consumerStats('published', 'ledgerEvents', 'ledgerInvalid'), { actionKinds: {} as Record<string, number> });
}
export type ResponderServiceStats = ReturnType<typeof responderServiceStats>;

export class ResponderService {
  readonly stats = responderServiceStats();
  readonly responder: Responder;
  readonly kafka: Kafka;
  private readonly anomalies: string;
  private readonly actions: string;
  readonly producer: Producer;
  private readonly consumer: ConsumerLoop<AnomalyEvent>;
  private readonly stopping = new AbortController();
  private ledger: TopicReader | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private fleetListedAt = -Infinity;

  constructor(private readonly o: ResponderServiceOptions) {
    this.kafka = createKafka({ brokers: o.brokers, clientId: 'tapwatch-responder', log: o.log });
    this.anomalies = o.anomaliesTopic ?? TOPICS.anomalies;
    this.actions = o.actionsTopic ?? TOPICS.actions;
    this.producer = new Producer(this.kafka, o.log, 'responder');
    this.responder = createResponder({ policy: o.policy, client: o.client, log: o.log, enforcer: o.enforcer, notifiers: o.notifiers, publish: (ev) => this.publish(ev) });
    this.consumer = new ConsumerLoop<AnomalyEvent>({
      kafka: this.kafka,
      groupId: o.groupId ?? 'tapwatch-responder',
      topics: [this.anomalies],
      log: o.log,
      what: 'anomaly event',
      decode: jsonDecoder(eventErrors),
      handle: (b) => this.onBatch(b),
      // One anomaly may take API calls retried with backoff: small batches keep the member responsive.
      maxBatch: 50,
      stats: this.stats,
    });
  }

  async start(): Promise<void> {
    const signal = this.stopping.signal;
    await ensureTopics(this.kafka, [{ topic: this.anomalies }, { topic: this.actions }], {
      partitions: this.o.partitions ?? 6,
      replicationFactor: this.o.replicationFactor,
      attempts: Infinity,
      signal,
      log: this.o.log,
    });
    const outage = new OutageLog(this.o.log, 'kafka', { fields: { step: 'rebuilding the ledger from the actions topic' } });
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      try {
        this.ledger = await readTopic(this.kafka, this.actions, (m, partition) => this.observe(m.value, partition, m.offset), {
          group: `tapwatch-responder-ledger-${process.pid}-${Date.now()}`,
        });
        await this.ledger.caughtUp;
        outage.ok();
        break;
      } catch (err) {
        await this.ledger?.stop();
        outage.failed(err as Error);
        await sleep(backoffMs(attempt));
      }
    }
    this.o.log.info({ events: this.stats.ledgerEvents, invalid: this.stats.ledgerInvalid }, 'ledger rebuilt from the actions topic');
    await this.refreshFleet();
    signal.throwIfAborted();
    await this.consumer.start();
    this.timer = setInterval(() => void this.tick(), this.o.releaseCheckMs ?? 10_000);
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Stopped());
    if (this.timer) clearInterval(this.timer);
    await this.consumer.stop();
    await this.responder.idle();
    await this.ledger?.stop();
    await this.producer.close();
  }

  /** One anomaly, handled at `now` (wall time on Kafka). */
  handle(event: AnomalyEvent, now: Date): Promise<ActionEvent[]> {
    return this.responder.handle(event, now);
  }

  private async onBatch(batch: ConsumedBatch<AnomalyEvent>): Promise<'done'> {
    for (const m of batch.messages) await this.handle(m.value, new Date());
    return 'done';
  }

  private async publish(ev: ActionEvent): Promise<void> {
    await this.producer.send(this.actions, [{ key: ev.device.id, value: JSON.stringify(ev) }]);
    this.stats.published++;
    countBy(this.stats.actionKinds, `${ev.action}/${ev.result}`);
    const line = { action_id: ev.action_id, device: ev.device.id, action: ev.action, result: ev.result };
    if (ev.result === 'failed') this.o.log.warn({ ...line, err: ev.error?.message }, 'action failed');
    else this.o.log.info(line, ev.reason);
  }

  private observe(value: Buffer | null, partition: number, offset: string): void {
    let ev: ActionEvent;
    try {
      ev = JSON.parse(value?.toString('utf8') ?? '') as ActionEvent;
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

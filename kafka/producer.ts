// The one producer every service writes with: idempotent, acks from all in-sync replicas, gzip, keyed
// messages (key = device id, so a device's records, anomalies and actions stay in order on one
// partition). librdkafka retries a send itself, with the same sequence numbers, while the broker is
// away (up to message.timeout.ms), which is what keeps a retried send from being written twice; this
// wrapper only says so while it lasts, and sends again should librdkafka give up.

import type { Logger } from 'pino';
import { backoffMs, sleep } from '../net/backoff.js';
import type { Kafka, Producer as KafkaProducer } from './client.js';

export interface OutMessage {
  key: string;
  /** JSON text (a Buffer: the collector's record bytes, as written). */
  value: string | Buffer;
}

export class ProducerStats {
  /** Messages the brokers acknowledged. */
  delivered = 0;
  /** Sends tried again after librdkafka gave up on them. */
  resends = 0;
  /** Times a send was still waiting for the broker after WAIT_LOG_MS (logged once each). */
  waits = 0;
}

const WAIT_LOG_MS = 2000;

/**
 * The largest message the producer takes, uncompressed (librdkafka's default is 1,000,000 and it refuses a
 * larger one as it is queued, which the retry loop would then try for ever): an analyzer group's checkpoint
 * is ~0.7 MB with no device in it and grows with the group. The broker checks the compressed batch against
 * the topic's max.message.bytes (the analyzer creates its state topic with this one). 8 MiB: eleven times an
 * empty group's; a cluster whose policy caps a topic lower refuses the state topic at start, and the
 * analyzer says so (TWQ0002) rather than stall.
 */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/**
 * Messages handed to librdkafka at once. Its queue takes 100,000 (queue.buffering.max.messages): a larger send
 * failed part-way with the rest already queued, and sending it all again wrote 385,837 messages for 150,000
 * (measured; a collector interval of a fleet past 100,000 devices is such a send). A chunk is acknowledged
 * before the next is queued, and one that fails is sent again alone.
 */
const SEND_CHUNK = 10_000;

export class Producer {
  readonly stats = new ProducerStats();
  private producer: KafkaProducer | null = null;
  private connecting: Promise<KafkaProducer> | null = null;
  private closed = false;

  constructor(private readonly kafka: Kafka, private readonly log: Logger, private readonly name = 'producer') {}

  /** Sends and resolves once every message is acknowledged; retried until then or until close(). */
  async send(topic: string, messages: readonly OutMessage[]): Promise<void> {
    for (let from = 0; from < messages.length; from += SEND_CHUNK) {
      await this.sendChunk(topic, messages.length > SEND_CHUNK ? messages.slice(from, from + SEND_CHUNK) : messages, messages.length - from);
    }
  }

  /** `unsent`: this chunk's messages and those after it, for the error that says what a close left behind. */
  private async sendChunk(topic: string, messages: readonly OutMessage[], unsent: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // Closed while waiting to retry: never connect again (a new client would keep the process alive).
      if (this.closed) throw this.notAcknowledged(topic, unsent);
      const waiting = setTimeout(() => {
        this.stats.waits++;
        this.log.warn({ producer: this.name, topic, messages: messages.length }, 'kafka send waiting for the broker');
      }, WAIT_LOG_MS);
      try {
        const p = await this.connected();
        // Copies: the library turns the values of the objects it is given into Buffers in place.
        await p.send({ topic, messages: messages.map((m) => ({ key: m.key, value: m.value })) });
        this.stats.delivered += messages.length;
        return;
      } catch (err) {
        if (this.closed) throw this.notAcknowledged(topic, unsent, err);
        this.stats.resends++;
        const delay = backoffMs(attempt);
        this.log.warn({ producer: this.name, topic, err: (err as Error).message, attempt, retryInMs: delay }, 'kafka send failed; retrying');
        await sleep(delay);
      } finally {
        clearTimeout(waiting);
      }
    }
  }

  private notAcknowledged(topic: string, unsent: number, cause?: unknown): Error {
    return new Error(`${this.name}: closed with ${unsent} message(s) to ${topic} not acknowledged`, { cause });
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = await this.connecting?.catch(() => null);
    await p?.disconnect().catch(() => undefined);
  }

  private connected(): Promise<KafkaProducer> {
    this.connecting ??= (async () => {
      const p = this.kafka.producer({ 'linger.ms': 5, 'message.max.bytes': MAX_MESSAGE_BYTES, kafkaJS: { idempotent: true, acks: -1, compression: 'gzip', allowAutoTopicCreation: false } });
      await p.connect();
      this.producer = p;
      return p;
    })().catch((err: unknown) => {
      this.connecting = null; // the next send connects again
      throw err;
    });
    return this.connecting;
  }
}

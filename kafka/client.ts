// The one place that knows the Kafka client library: Confluent's @confluentinc/kafka-javascript
// (librdkafka, maintained; kafkajs is in maintenance mode), through its KafkaJS-shaped promise API.
// Everything else in tapwatch speaks to Kafka through this folder (producer.ts, consumer.ts,
// topics.ts, topic-reader.ts), so changing the library again means changing these files alone.
//
// The library is an optional dependency, loaded on first use: it is native code (librdkafka) whose
// install may fail where its prebuilt binary cannot be fetched, and tapwatch without Kafka (decap,
// collect to a file, analyze a file, the demo) must install and work regardless. The part of its API
// tapwatch uses is declared below, so the project builds without the package too.

import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { ErrorCode } from '../contracts/errors.js';

export interface KafkaMessage {
  key: Buffer | null;
  value: Buffer | null;
  offset: string;
}

export interface Batch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: KafkaMessage[];
  firstOffset(): string | null;
  lastOffset(): string;
}

export interface EachBatchPayload {
  batch: Batch;
  /** Marks the batch done up to this offset; what is not resolved is fetched again. */
  resolveOffset(offset: string): void;
  isRunning(): boolean;
  isStale(): boolean;
}

export interface TopicPartitions {
  topic: string;
  partitions?: number[];
}

export interface Consumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(s: { topics: string[] }): Promise<void>;
  run(c: { eachBatchAutoResolve?: boolean; eachBatch?: (p: EachBatchPayload) => Promise<void>; eachMessage?: (p: { partition: number; message: KafkaMessage }) => Promise<void> }): Promise<void>;
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  seek(o: { topic: string; partition: number; offset: string }): void;
  pause(tp: TopicPartitions[]): void;
  resume(tp: TopicPartitions[]): void;
}

export interface Producer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(r: { topic: string; messages: { key: string; value: string | Buffer }[] }): Promise<unknown>;
}

export interface Admin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(o?: { timeout?: number }): Promise<string[]>;
  createTopics(o: { topics: { topic: string; numPartitions?: number; replicationFactor?: number; configEntries?: { name: string; value: string }[] }[] }): Promise<boolean>;
  fetchTopicMetadata(o: { topics: string[] }): Promise<{ name: string; partitions: { partitionId: number; leader: number }[] }[]>;
  fetchTopicOffsets(topic: string): Promise<{ partition: number; high: string; low: string }[]>;
  fetchOffsets(o: { groupId: string; topics: string[] }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

type Config = Record<string, unknown> & { kafkaJS?: Record<string, unknown> };

export interface Kafka {
  producer(c?: Config): Producer;
  consumer(c: Config): Consumer;
  admin(c?: Config): Admin;
}

interface LibraryLogger {
  info(msg: string, extra?: object): void;
  warn(msg: string, extra?: object): void;
  error(msg: string, extra?: object): void;
  debug(msg: string, extra?: object): void;
  namespace(): LibraryLogger;
  setLogLevel(): void;
}

interface Library {
  KafkaJS: {
    Kafka: new (c: { kafkaJS: { brokers: string[]; clientId: string; logLevel: number; logger: LibraryLogger } }) => Kafka;
    logLevel: { WARN: number };
  };
  CODES: { ERRORS: { ERR__ASSIGN_PARTITIONS: number; ERR__REVOKE_PARTITIONS: number } };
}

export class KafkaClientError extends Error {
  readonly code: ErrorCode = 'TWQ0001';
}

let library: Library | null = null;

function load(): Library {
  if (library) return library;
  try {
    library = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as Library;
  } catch (err) {
    throw new KafkaClientError(
      'the Kafka client @confluentinc/kafka-javascript is not installed or does not load ' +
        `(${(err as Error).message.split('\n')[0]}). It builds librdkafka when no prebuilt binary can be downloaded: ` +
        'apt-get install zlib1g-dev libssl-dev libzstd-dev libsasl2-dev libcurl4-openssl-dev liblz4-dev pkg-config, ' +
        'then CKJS_LINKING=dynamic npm ci',
      { cause: err },
    );
  }
  return library;
}

/** The rebalance event codes a consumer's rebalance_cb receives. */
export function rebalanceCodes(): { assign: number; revoke: number } {
  const e = load().CODES.ERRORS;
  return { assign: e.ERR__ASSIGN_PARTITIONS, revoke: e.ERR__REVOKE_PARTITIONS };
}

export interface KafkaOptions {
  brokers: readonly string[];
  clientId: string;
  log: Logger;
}

/** Each client's bridge for its one-call admin clients (withAdmin), whose library lines go to debug. */
const adminLoggers = new WeakMap<Kafka, LibraryLogger>();

/** A client whose library logs go to the service's pino logger (warnings and errors only). */
export function createKafka(o: KafkaOptions): Kafka {
  const { KafkaJS } = load();
  const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: [...o.brokers], clientId: o.clientId, logLevel: KafkaJS.logLevel.WARN, logger: pinoBridge(o.log) } });
  adminLoggers.set(kafka, pinoBridge(o.log, 'debug'));
  return kafka;
}

/**
 * Runs `fn` with a connected admin client, and disconnects it whatever happens. The client lives for this one
 * call, and what goes wrong is the call's rejection, which its caller reports (ensureTopics once per outage,
 * the health probe in /healthz); so librdkafka's own lines about it are logged at debug: at warn, every call
 * against a broker that is away added its connection errors to the log, every few seconds, each from a new
 * client (librdkafka's suppression of identical errors works within one client).
 */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const logger = adminLoggers.get(kafka);
  const admin = kafka.admin(logger ? { kafkaJS: { logger } } : {});
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** End offsets of every partition of a topic (the next offset to be written). */
export async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const offsets = await withAdmin(kafka, (a) => a.fetchTopicOffsets(topic));
  return new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
}

/** librdkafka's lines into pino: info as debug, debug as trace; warnings and errors as such, or at `problems` (debug). */
function pinoBridge(log: Logger, problems?: 'debug'): LibraryLogger {
  const child = log.child({ component: 'kafka' });
  const bridge: LibraryLogger = {
    info: (msg, extra) => child.debug(extra ?? {}, msg),
    warn: (msg, extra) => child[problems ?? 'warn'](extra ?? {}, msg),
    error: (msg, extra) => child[problems ?? 'error'](extra ?? {}, msg),
    debug: (msg, extra) => child.trace(extra ?? {}, msg),
    namespace: () => bridge,
    setLogLevel: () => undefined,
  };
  return bridge;
}

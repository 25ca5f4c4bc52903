// The one place that turns a long-running command's counters into /metrics and /healthz (status-server.ts
// serves them). Each command hands over what it already counts (collector, sink, consumer loop,
// producer, service stats) and gets the same names and the same health rules as every other command:
// nothing here is copied per command. Values are read at scrape time (prom-client `collect`), so the
// data path counts in plain numbers and pays nothing for being observed.
//
// Health (GET /healthz: 200 ok, 503 degraded with its reasons):
// - no traffic for N intervals: nothing came in (packets for collect, records for analyze) for
//   `idleIntervals` (default 3) intervals;
// - capture loss: frames the kernel or the socket dropped above `lossThreshold` (default 1 %) of what
//   was offered, where the source can tell;
// - Kafka unreachable: a probe (list topics) every `probeEveryMs` fails, or the service has not reached
//   its brokers yet;
// - lag growing: a consumer's total lag rose at each of the last `lagSamples` (default 3) probes.

import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConsumerStats } from '../kafka/consumer.js';
import type { ProducerStats } from '../kafka/producer.js';
import { withAdmin, type Kafka } from '../kafka/client.js';
import { createStatusServer, type StatusServer } from './status-server.js';

export type Labels = Record<string, string | number>;
/** The current value of a counter or gauge, per label set. */
export type Read = () => Iterable<readonly [Labels, number]> | number;

/** Puts what `read` says into a metric just reset: unlabelled, or per label set. */
function fill(read: Read, put: (labels: Labels | undefined, n: number) => void): void {
  const v = read();
  if (typeof v === 'number') put(undefined, v);
  else for (const [labels, n] of v) put(labels, n);
}

/** A counter whose value is the service's own count, read at scrape time. */
export function counterFrom(registry: Registry, name: string, help: string, labelNames: string[], read: Read): void {
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      fill(read, (labels, n) => (labels ? n > 0 && this.inc(labels, n) : this.inc(n)));
    },
  });
}

/** A gauge likewise (devices in the table, lag per partition). */
export function gaugeFrom(registry: Registry, name: string, help: string, labelNames: string[], read: Read): void {
  new Gauge({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      fill(read, (labels, n) => (labels ? this.set(labels, n) : this.set(n)));
    },
  });
}

/** Label sets of a { name: count } object. */
export function byLabel(label: string, counts: Record<string, number>): [Labels, number][] {
  return Object.entries(counts).map(([k, n]) => [{ [label]: k }, n]);
}

/** What a source says about capture loss (collector/sources/live-source.ts CaptureLoss). */
export interface CaptureLossReading {
  dropped: number | null;
  received: number;
  ifDropped?: number;
  windowDropped?: number;
  windowReceived?: number;
}

export type ServiceName = 'collect' | 'analyze' | 'respond' | 'index';

export interface ServiceStatusOptions {
  service: ServiceName;
  log: Logger;
  /** Interval length in seconds, for "no traffic for N intervals" (collect; the analyzer's comes from its records). */
  intervalSeconds?: number | (() => number | undefined);
  idleIntervals?: number;
  lossThreshold?: number;
  probeEveryMs?: number;
  lagSamples?: number;
}

/** What one service is: its registry, its checks, and the inputs they read. */
export class ServiceStatus {
  readonly server: StatusServer;
  private timer: NodeJS.Timeout | null = null;
  private traffic: (() => number) | null = null;
  private lastTraffic = -1;
  private lastTrafficAt = Date.now();
  private kafka: Kafka | null = null;
  private kafkaProblem: string | null = 'not connected to Kafka yet';
  private lag: (() => number) | null = null;
  private readonly lagHistory: number[] = [];
  private probing = false;

  constructor(private readonly o: ServiceStatusOptions) {
    this.server = createStatusServer(o.service);
    this.server.check(() => this.reasons());
  }

  get registry(): Registry {
    return this.server.registry;
  }

  /** What counts as traffic coming in (packets, records); unchanged for N intervals is "no traffic". */
  trafficFrom(read: () => number): this {
    this.traffic = read;
    return this;
  }

  /**
   * Capture loss where the source knows it. Counters: what the kernel dropped (libpcap ps_drop, or the
   * UDP socket's drops), what libpcap received (ps_recv) and what the interface dropped (ps_ifdrop).
   * Health: dropped of what was offered over the source's last completed loss window (live capture:
   * --stats-interval seconds), or since the start where the source has no window.
   */
  captureLoss(read: () => CaptureLossReading): this {
    const r = this.registry;
    counterFrom(r, 'tapwatch_capture_dropped_packets_total', 'Packets the kernel dropped before tapwatch read them: libpcap ps_drop (capture ring full), or UDP socket receive-buffer drops (0 where the source cannot tell).', [], () => read().dropped ?? 0);
    counterFrom(r, 'tapwatch_capture_received_packets_total', 'Packets the capture received: libpcap ps_recv (frames that passed the filter, dropped ones included on Linux), or UDP datagrams read.', [], () => read().received);
    counterFrom(r, 'tapwatch_capture_interface_dropped_packets_total', 'Packets the network interface or its driver dropped (libpcap ps_ifdrop; 0 for UDP).', [], () => read().ifDropped ?? 0);
    const threshold = this.o.lossThreshold ?? 0.01;
    this.server.check(() => {
      const l = read();
      const windowed = l.windowReceived !== undefined;
      const dropped = windowed ? l.windowDropped ?? null : l.dropped;
      const received = windowed ? l.windowReceived! : l.received;
      if (dropped === null || dropped + received === 0) return [];
      // libpcap's ps_recv counts the dropped frames too (tested on Linux); UDP's received does not.
      const offered = l.ifDropped !== undefined ? received : dropped + received;
      const share = dropped / offered;
      const span = windowed ? 'in the last window' : 'since the start';
      return share > threshold ? [`capture loss ${(share * 100).toFixed(2)} % ${span} (${dropped} of ${offered} packets dropped by the kernel), above ${+(threshold * 100).toFixed(4)} %`] : [];
    });
    return this;
  }

  /** A service on Kafka: probed for reachability; its consumer's and producer's counters exported. */
  onKafka(kafka: Kafka, io: { consumer?: ConsumerStats; producers?: ProducerStats[] }): this {
    this.kafka = kafka;
    const r = this.registry;
    const c = io.consumer;
    if (c) {
      counterFrom(r, 'tapwatch_consumer_messages_total', 'Messages consumed and committed.', [], () => c.messages);
      counterFrom(r, 'tapwatch_consumer_invalid_messages_total', 'Messages skipped because they are not valid for their contract.', [], () => c.invalid);
      counterFrom(r, 'tapwatch_consumer_batch_retries_total', 'Batches handed back and fetched again because the sink was away.', [], () => c.retries);
      gaugeFrom(r, 'tapwatch_consumer_lag_messages', 'Messages in a partition after this member\'s position.', ['topic', 'partition'], () =>
        [...c.lag].map(([tp, n]) => {
          const at = tp.lastIndexOf('/');
          return [{ topic: tp.slice(0, at), partition: tp.slice(at + 1) }, n] as const;
        }));
      this.lag = () => [...c.lag.values()].reduce((a, b) => a + b, 0);
    }
    const p = io.producers ?? [];
    if (p.length) {
      counterFrom(r, 'tapwatch_kafka_messages_delivered_total', 'Messages the brokers acknowledged.', [], () => p.reduce((a, s) => a + s.delivered, 0));
      counterFrom(r, 'tapwatch_kafka_send_retries_total', 'Sends tried again, or waited on, while a broker was away.', [], () => p.reduce((a, s) => a + s.resends + s.waits, 0));
    }
    return this;
  }

  /** The service reached its brokers (topics ensured, consumer joined). */
  kafkaReady(): void {
    this.kafkaProblem = null;
  }

  reasons(): string[] {
    this.sampleTraffic();
    const out: string[] = [];
    if (this.kafka && this.kafkaProblem) out.push(`kafka unreachable: ${this.kafkaProblem}`);
    const interval = typeof this.o.intervalSeconds === 'function' ? this.o.intervalSeconds() : this.o.intervalSeconds;
    if (this.traffic && interval) {
      const n = this.o.idleIntervals ?? 3;
      const idleS = (Date.now() - this.lastTrafficAt) / 1000;
      if (idleS >= n * interval) out.push(`no traffic for ${n} intervals (${Math.round(idleS)} s)`);
    }
    const k = this.o.lagSamples ?? 3;
    const h = this.lagHistory;
    if (h.length > k && h.slice(-k - 1).every((v, i, a) => i === 0 || v > a[i - 1])) out.push(`consumer lag growing: ${h.at(-k - 1)} → ${h.at(-1)} messages`);
    return out;
  }

  /** Serves /healthz and /metrics on `address` (HOST:PORT) and starts the probes; returns where it listens. */
  async listen(address: string): Promise<string> {
    const at = await this.server.listen(address).catch((err: Error) => {
      throw new Error(`--http ${address}: cannot serve /healthz and /metrics there (${err.message})`);
    });
    this.sample();
    this.timer = setInterval(() => this.sample(), this.o.probeEveryMs ?? 10_000).unref();
    this.o.log.info({ http: at }, 'serving /healthz and /metrics');
    return at;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.server.close();
  }

  private sampleTraffic(): void {
    const t = this.traffic?.();
    if (t !== undefined && t !== this.lastTraffic) {
      this.lastTraffic = t;
      this.lastTrafficAt = Date.now();
    }
  }

  /** One probe: traffic, lag, Kafka reachability (listen() runs it every probeEveryMs). */
  sample(): void {
    this.sampleTraffic();
    if (this.lag) {
      this.lagHistory.push(this.lag());
      if (this.lagHistory.length > 32) this.lagHistory.shift();
    }
    if (this.kafka && !this.probing) {
      this.probing = true;
      withAdmin(this.kafka, (a) => a.listTopics({ timeout: 5000 }))
        .then(() => (this.kafkaProblem = null), (err: Error) => (this.kafkaProblem = err.message))
        .finally(() => (this.probing = false));
    }
  }
}

// ---- what each service exports, besides the Kafka counters above ----------------------------------

/** `--http` for every long-running command: the same flag, the same help. */
export const HTTP_OPTION = { http: { type: 'string' as const } };
export const HTTP_HELP = 'serve /healthz and /metrics (Prometheus) on HOST:PORT, e.g. 127.0.0.1:9464 (default off)';


export interface CollectorView {
  source: string;
  packets(): number;
  bytes(): number;
  decodeFailures(): Record<string, number>;
  dropped(): Record<string, number>;
  records(): number;
  intervals(): number;
  devices(): number;
  sink: { name: string; stats: { delivered: number; failed: number; retries: number } };
  sinkDropped(): number;
}

export function collectorMetrics(s: ServiceStatus, c: CollectorView): void {
  const r = s.registry;
  const src = () => ({ source: c.source });
  counterFrom(r, 'tapwatch_collector_packets_total', 'Frames read from the mirror.', ['source'], () => [[src(), c.packets()]]);
  counterFrom(r, 'tapwatch_collector_bytes_total', 'Bytes of the frames read from the mirror (on the wire).', ['source'], () => [[src(), c.bytes()]]);
  counterFrom(r, 'tapwatch_collector_decode_failures_total', 'Frames that did not decode, by reason.', ['reason'], () => byLabel('reason', c.decodeFailures()));
  counterFrom(r, 'tapwatch_collector_frames_dropped_total', 'Frames decoded but not counted for a device, by reason.', ['reason'], () => byLabel('reason', c.dropped()));
  counterFrom(r, 'tapwatch_collector_records_emitted_total', 'Inspection records emitted.', [], c.records);
  counterFrom(r, 'tapwatch_collector_intervals_closed_total', 'Intervals closed.', [], c.intervals);
  gaugeFrom(r, 'tapwatch_collector_devices', 'Devices in the device table.', [], c.devices);
  const sink = () => ({ sink: c.sink.name });
  counterFrom(r, 'tapwatch_sink_records_delivered_total', 'Records the sink delivered.', ['sink'], () => [[sink(), c.sink.stats.delivered]]);
  counterFrom(r, 'tapwatch_sink_records_failed_total', 'Records the sink could not deliver.', ['sink'], () => [[sink(), c.sink.stats.failed]]);
  counterFrom(r, 'tapwatch_sink_retries_total', 'Sends (or the start) that waited for, or tried again with, the sink.', ['sink'], () => [[sink(), c.sink.stats.retries]]);
  counterFrom(r, 'tapwatch_sink_records_dropped_total', 'Records dropped because the sink fell too far behind.', ['sink'], () => [[sink(), c.sinkDropped()]]);
  s.trafficFrom(c.packets);
}

export function analyzerMetrics(s: ServiceStatus, a: { records: number; checkpoints: number; restored: number; discarded: number; eventKinds: Record<string, number> }): void {
  const r = s.registry;
  counterFrom(r, 'tapwatch_analyzer_records_total', 'Inspection records analyzed.', [], () => a.records);
  counterFrom(r, 'tapwatch_analyzer_events_total', 'Anomaly events emitted, by behavior and alarm transition.', ['kind'], () => byLabel('kind', a.eventKinds));
  counterFrom(r, 'tapwatch_analyzer_checkpoints_total', 'Device and group checkpoints written.', [], () => a.checkpoints);
  counterFrom(r, 'tapwatch_analyzer_restored_total', 'Device and group states restored from checkpoints.', [], () => a.restored);
  counterFrom(r, 'tapwatch_analyzer_checkpoints_discarded_total', 'Checkpoints that did not fit this configuration (the device relearns).', [], () => a.discarded);
  s.trafficFrom(() => a.records);
}

export function responderMetrics(s: ServiceStatus, a: { anomalies: number; actions: Record<string, number>; ledgerEvents: number }): void {
  const r = s.registry;
  counterFrom(r, 'tapwatch_responder_anomalies_total', 'Anomaly events handled.', [], () => a.anomalies);
  counterFrom(r, 'tapwatch_responder_actions_total', 'Action events published, by action and result (kind = action/result).', ['kind'], () => byLabel('kind', a.actions));
  counterFrom(r, 'tapwatch_responder_ledger_events_total', 'Action events read into the ledger.', [], () => a.ledgerEvents);
}

export function indexerMetrics(s: ServiceStatus, a: { indexed: number; bulkRequests: number; bulkRetries: number; rejected: number }): void {
  const r = s.registry;
  counterFrom(r, 'tapwatch_indexer_documents_indexed_total', 'Documents Elasticsearch accepted.', [], () => a.indexed);
  counterFrom(r, 'tapwatch_indexer_bulk_requests_total', 'Bulk requests sent.', [], () => a.bulkRequests);
  counterFrom(r, 'tapwatch_indexer_retries_total', 'Bulk requests or items tried again.', [], () => a.bulkRetries);
  counterFrom(r, 'tapwatch_indexer_documents_rejected_total', 'Documents Elasticsearch refused (4xx other than 429).', [], () => a.rejected);
}

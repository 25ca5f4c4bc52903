// tapwatch collect: a mirror (pcap replay, live interface, or UDP tunnel socket) → per-device
// inspection records every interval → NDJSON, Kafka, or a table for people.

import { statSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { REASON_NAMES, NOTE_NAMES } from '../gre-decap/malformed.js';
import { DNS_REASON_NAMES } from '../collector/evidence/dns.js';
import { TLS_REASON_NAMES } from '../collector/evidence/tls.js';
import { Collector } from '../collector/collector.js';
import { DeviceNets } from '../collector/device-nets.js';
import { Inventory } from '../inventory/inventory.js';
import { Pipeline } from '../collector/pipeline.js';
import { replayCapture } from '../collector/sources/replay.js';
import { recordsTable } from '../collector/table.js';
import { KafkaSink } from '../collector/sinks/kafka.js';
import { NdjsonSink } from '../collector/sinks/ndjson.js';
import type { RecordSink } from '../collector/sinks/sink.js';
import { OutputError } from '../contracts/output-error.js';
import { intOption, parseCommand, UsageError, type CommandSpec } from './args.js';
import { Progress } from './progress.js';
import { Stopped } from '../net/backoff.js';
import { commandConfig, CONFIG_HELP, CONFIG_OPTION, DECAP_HELP, DECAP_OPTIONS, decapSettings, KAFKA_TOPIC_HELP, kafkaSettings } from './config.js';
import { collectorMetrics, HTTP_HELP, HTTP_OPTION, ServiceStatus } from '../ops/service-metrics.js';

/** How long a stop waits for the sink to take the intervals still queued: with the producer's own flush at close (5 s), services stop within 10 s. */
const STOP_GRACE_MS = 3000;
const ABANDONED = Symbol('abandoned');

const spec: CommandSpec = {
  name: 'collect',
  usage: 'tapwatch collect (--pcap FILE | --interface IF | --listen-udp PORT) (--out FILE|- | --kafka BROKERS) [options]',
  summary:
    'Decapsulates a traffic mirror and writes one inspection record per device per interval: bytes and packets\n' +
    'up and down, packet sizes, protocols, destinations (named from DNS answers and TLS SNI), contacts and their\n' +
    'activity bursts, failed connections, DNS query shape per registered domain, TLS ClientHellos, and the tunnel.\n' +
    'Logs are pino JSON lines on stderr; counters are logged every --stats-interval and on exit.',
  options: {
    pcap: { type: 'string' },
    interface: { type: 'string' },
    filter: { type: 'string' },
    'listen-udp': { type: 'string' },
    'listen-host': { type: 'string' },
    out: { type: 'string' },
    format: { type: 'string' },
    kafka: { type: 'string' },
    topic: { type: 'string' },
    partitions: { type: 'string' },
    interval: { type: 'string' },
    'device-net': { type: 'string', multiple: true },
    inventory: { type: 'string' },
    'max-devices': { type: 'string' },
    'max-flows': { type: 'string' },
    'max-destinations': { type: 'string' },
    'idle-intervals': { type: 'string' },
    'max-time-skew': { type: 'string' },
    top: { type: 'string' },
    contacts: { type: 'string' },
    speed: { type: 'string' },
    ...DECAP_OPTIONS,
    'stats-interval': { type: 'string' },
    'capture-loss-threshold': { type: 'string' },
    'log-level': { type: 'string' },
    progress: { type: 'boolean' },
    'print-schema': { type: 'boolean' },
    'exclude-address': { type: 'string', multiple: true },
    'replication-factor': { type: 'string' },
    ...HTTP_OPTION,
    ...CONFIG_OPTION,
  },
  help: {
    pcap: 'replay a pcap/pcapng file (intervals close on packet time: same file, same records)',
    interface: 'capture live on this interface with libpcap (needs root or CAP_NET_RAW)',
    filter: 'BPF filter for --interface (default: GRE, and UDP to the VXLAN and Geneve ports)',
    'listen-udp': 'receive tunnel datagrams on this UDP port, no libpcap needed (Geneve if it is a --geneve-ports port, else VXLAN)',
    'listen-host': 'address for --listen-udp (default 127.0.0.1; 0.0.0.0 to receive from a remote gateway)',
    out: "write NDJSON records to FILE, or '-' for stdout",
    format: "with --out -: 'ndjson' (default) or 'table' for people",
    kafka: 'publish records to these brokers (host:port,...), keyed by device id',
    topic: 'Kafka topic (default tapwatch.inspection)',
    partitions: 'partitions when the topic has to be created (default 6)',
    interval: 'interval length in seconds (default: interval of the config file, else 60)',
    'device-net': 'a device network, CIDR, repeatable (default: devices.networks of the config file, else 10.128.0.0/9, the SORACOM VPG default)',
    inventory: 'CSV or JSON file: ip, id, imsi, imei, group; reloaded on SIGHUP',
    'max-devices': 'device table capacity (default 65536); devices beyond it are counted and logged once per interval with their source networks',
    'max-time-skew': 'seconds a frame may be stamped away from the open interval before it is counted as malformed (timestamp_out_of_window) and skipped (default 86400); frames outside 1970-2200 always are',
    'idle-intervals': 'a device with no traffic for this many intervals gives its table slot back (default 10)',
    'max-flows': 'distinct flows per interval (default 1048576)',
    'max-destinations': 'distinct (device, far end, port) per interval (default 1048576)',
    top: 'top destinations per record (default 10)',
    contacts: 'contacts per record: the far ends with the most activity bursts, with their burst times (default 16)',
    speed: 'with --pcap: replay at N× capture speed (default 0 = as fast as possible)',
    ...DECAP_HELP,
    'stats-interval': 'seconds between counter log lines (default 10); also the window capture loss is judged over',
    'capture-loss-threshold': '/healthz is degraded while the kernel dropped more than this percentage of captured packets in the last --stats-interval (default: capture.lossThresholdPercent of the config file, else 1)',
    'log-level': 'pino level: fatal, error, warn, info (default), debug, trace, silent',
    progress: 'progress bar on stderr for --pcap (default: when stderr is a terminal)',
    'print-schema': 'print the InspectionRecord JSON Schema and exit',
    'exclude-address': 'an address (or CIDR) in a device network that is not a device, e.g. the site router; repeatable',
    'replication-factor': KAFKA_TOPIC_HELP['replication-factor'],
    http: HTTP_HELP,
    config: `${CONFIG_HELP}: devices, interval, decap, collect (listenHost, filter, maxDevices, maxFlows, maxDestinations,\n${' '.repeat(33)}idleIntervals, maxTimeSkew, top, contacts), capture, kafka, http.collect`,
  },
};

/** What the command line and the configuration file ask for, read and checked once. */
interface CollectOptions {
  source: { kind: 'pcap'; path: string } | { kind: 'interface'; iface: string; filter?: string } | { kind: 'udp'; port: number; host: string };
  sourceName: string;
  sink: { kind: 'kafka'; brokers: string[]; topic: string; partitions: number; replicationFactor: number | undefined } | { kind: 'ndjson'; path: string } | { kind: 'table' };
  nets: DeviceNets;
  inventory?: string;
  intervalSeconds: number;
  vxlanPorts: number[];
  genevePorts: number[];
  maxTunnelDepth: number;
  topK: number;
  contacts: number;
  maxDevices: number;
  maxFlows: number;
  maxDestinations: number;
  maxSkewSec: number;
  idleIntervals: number;
  speed: number;
  progress: boolean | undefined;
  statsEveryMs: number;
  /** Fraction (0.01 = 1 %). */
  lossThreshold: number;
  http?: string;
  logLevel: string;
}

async function collectOptions(v: Record<string, string | string[] | boolean | undefined>): Promise<CollectOptions> {
  const text = (name: string) => v[name] as string | undefined;
  const int = (name: string, min: number, max: number) => intOption(name, text(name), min, max);
  const cfg = await commandConfig(v);
  const c = cfg.collect ?? {};
  const kafka = kafkaSettings(v, cfg, intOption);
  const out = text('out');
  // --kafka, else the file's brokers unless --out is given.
  const brokers = v.kafka !== undefined || out === undefined ? kafka.brokers : undefined;
  const sources = ['pcap', 'interface', 'listen-udp'].filter((k) => v[k] !== undefined);
  if (sources.length !== 1) throw new UsageError('give exactly one source: --pcap FILE, --interface IF or --listen-udp PORT');
  if ((out === undefined) === (brokers === undefined)) throw new UsageError('give exactly one sink: --out FILE|- or --kafka BROKERS');
  const format = text('format') ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'table') throw new UsageError(`--format: 'ndjson' or 'table', got '${format}'`);
  if (format === 'table' && out !== '-') throw new UsageError("--format table goes with --out -");

  const { vxlanPorts, genevePorts, maxTunnelDepth } = decapSettings(v, cfg);
  const udpPort = int('listen-udp', 1, 65535);
  // Datagrams on the listening port are tunnel payloads: Geneve when it is a Geneve port, else VXLAN.
  if (udpPort !== undefined && !genevePorts.includes(udpPort) && !vxlanPorts.includes(udpPort)) vxlanPorts.push(udpPort);
  const source: CollectOptions['source'] = text('pcap') !== undefined
    ? { kind: 'pcap', path: text('pcap')! }
    : text('interface') !== undefined
      ? { kind: 'interface', iface: text('interface')!, filter: text('filter') ?? c.filter }
      : { kind: 'udp', port: udpPort!, host: text('listen-host') ?? c.listenHost ?? '127.0.0.1' };
  return {
    source,
    sourceName: source.kind === 'pcap' ? `pcap:${source.path}` : source.kind === 'interface' ? `interface:${source.iface}` : `udp:${text('listen-udp')}`,
    sink: brokers
      ? { kind: 'kafka', brokers, topic: text('topic') ?? 'tapwatch.inspection', partitions: kafka.partitions, replicationFactor: kafka.replicationFactor }
      : format === 'table' ? { kind: 'table' } : { kind: 'ndjson', path: out! },
    nets: new DeviceNets((v['device-net'] as string[] | undefined) ?? cfg.devices?.networks ?? ['10.128.0.0/9'], (v['exclude-address'] as string[] | undefined) ?? cfg.devices?.exclude ?? []),
    inventory: text('inventory') ?? cfg.devices?.inventory,
    intervalSeconds: int('interval', 1, 86_400) ?? cfg.interval ?? 60,
    vxlanPorts,
    genevePorts,
    maxTunnelDepth,
    topK: int('top', 0, 1000) ?? c.top ?? 10,
    contacts: int('contacts', 0, 1000) ?? c.contacts ?? 16,
    maxDevices: int('max-devices', 1, 1 << 24) ?? c.maxDevices ?? 65536,
    maxFlows: int('max-flows', 1, 1 << 26) ?? c.maxFlows ?? 1 << 20,
    maxDestinations: int('max-destinations', 1, 1 << 26) ?? c.maxDestinations ?? 1 << 20,
    maxSkewSec: int('max-time-skew', 1, 2_000_000_000) ?? c.maxTimeSkew ?? 86_400,
    idleIntervals: int('idle-intervals', 1, 1 << 20) ?? c.idleIntervals ?? 10,
    speed: speedOption(text('speed')),
    progress: v.progress as boolean | undefined,
    statsEveryMs: (int('stats-interval', 1, 86_400) ?? 10) * 1000,
    lossThreshold: percentOption('capture-loss-threshold', text('capture-loss-threshold')) ?? (cfg.capture?.lossThresholdPercent ?? 1) / 100,
    http: text('http') ?? cfg.http?.collect,
    logLevel: text('log-level') ?? 'info',
  };
}

function makeSink(o: CollectOptions, log: Logger): RecordSink {
  const s = o.sink;
  if (s.kind === 'kafka') return new KafkaSink({ brokers: s.brokers, topic: s.topic, partitions: s.partitions, replicationFactor: s.replicationFactor }, log);
  return s.kind === 'table' ? tableSink() : new NdjsonSink(s.path);
}

function makeCollector(o: CollectOptions, pipeline: Pipeline, log: Logger): Collector {
  const collector = new Collector({
    nets: o.nets,
    intervalSeconds: o.intervalSeconds,
    topK: o.topK,
    contacts: o.contacts,
    maxDevices: o.maxDevices,
    maxFlows: o.maxFlows,
    maxDestinations: o.maxDestinations,
    time: { maxSkewSec: o.maxSkewSec },
    idleIntervals: o.idleIntervals,
    clock: o.source.kind === 'pcap' ? 'packet' : 'wall',
    source: o.sourceName,
    decap: { vxlanPorts: o.vxlanPorts, genevePorts: o.genevePorts, maxTunnelDepth: o.maxTunnelDepth },
    onBatch: (batch) => pipeline.enqueue(batch),
    onDeviceOverflow: (x) =>
      log.warn({ interval: new Date(x.startSec * 1000).toISOString(), maxDevices: x.maxDevices, framesNotCounted: x.frames, topSources: x.sources },
        'device table full: new devices beyond --max-devices not counted in this interval'),
  });
  if (o.inventory) {
    collector.inventory = Inventory.load(o.inventory);
    log.info({ inventory: o.inventory, devices: collector.inventory.size }, 'inventory loaded');
  }
  return collector;
}

/** /healthz and /metrics: what the collector, its pipeline and its sink count. */
function makeStatus(o: CollectOptions, collector: Collector, pipeline: Pipeline, sink: RecordSink, log: Logger): ServiceStatus {
  const status = new ServiceStatus({ service: 'collect', log, intervalSeconds: o.intervalSeconds, lossThreshold: o.lossThreshold });
  collectorMetrics(status, {
    source: o.sourceName,
    packets: () => collector.decap.frames,
    bytes: () => collector.wireBytes,
    decodeFailures: () => Object.fromEntries(Array.from(collector.decap.reasons).map((n, i) => [REASON_NAMES[i], n] as const).filter(([, n], i) => i >= 1 && n > 0)),
    dropped: () => {
      const a = collector.agg.stats;
      return { no_ip: a.noIp, not_device: a.notDevice, device_overflow: a.deviceOverflow, flow_overflow: a.flowOverflow, destination_overflow: a.destinationOverflow };
    },
    records: () => collector.recordsEmitted,
    intervals: () => collector.intervalsClosed,
    devices: () => collector.agg.devices.size,
    sink,
    sinkDropped: () => pipeline.droppedRecords,
  });
  if (sink instanceof KafkaSink) status.onKafka(sink.kafka, {}); // its sends and retries are the sink's counters
  return status;
}

/** Once, at the first stats line or at the end: no packet was a device's, so say which networks were busiest. */
function noDeviceWarning(collector: Collector, nets: DeviceNets, log: Logger): () => void {
  let warned = false;
  return () => {
    const a = collector.agg.stats;
    if (warned || a.attributed > 0 || a.frames === a.noIp) return;
    warned = true;
    const busiest = collector.agg.foreignSources(5);
    const list = busiest.map((n) => `${n.net} (${n.frames} frames)`).join(', ');
    log.warn({ deviceNets: nets.cidrs, framesWithIp: a.frames - a.noIp, busiestSourceNets: busiest }, 'no packet matched a device network: set --device-net');
    process.stderr.write(
      `tapwatch collect: warning: no packet matched a device network (--device-net ${nets.cidrs.join(', ')}); ` +
        `busiest source networks: ${list}. Set --device-net CIDR (repeatable) to your devices' network.\n`,
    );
  };
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (v['print-schema']) {
    process.stdout.write(JSON.stringify((await import('../contracts/inspection-record.js')).InspectionRecordSchema, null, 2) + '\n');
    return 0;
  }
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const o = await collectOptions(v);
  const log = pino({ name: 'tapwatch-collect', level: o.logLevel }, pino.destination(2));
  const sink = makeSink(o, log);
  const pipeline = new Pipeline(sink, log);
  const collector = makeCollector(o, pipeline, log);
  const status = makeStatus(o, collector, pipeline, sink, log);
  const warnNoDevice = noDeviceWarning(collector, o.nets, log);

  let stopping = false;
  let stopSource: (() => void) | undefined;
  // Aborts a start still waiting for its sink (a broker not up yet): SIGTERM then stops at once.
  const starting = new AbortController();
  // A stop waits for the sink to take what is left, but not for ever (a broker that is away is retried
  // for as long as it is away): after STOP_GRACE_MS, or at a second signal, what is still queued is
  // given up, counted and said.
  let abandon!: () => void;
  const abandoned = new Promise<typeof ABANDONED>((resolve) => (abandon = () => resolve(ABANDONED)));
  const onSignal = (sig: string) => {
    if (stopping) {
      log.warn({ signal: sig, queuedRecords: pipeline.pendingRecords }, 'second signal: not waiting for the sink any longer');
      abandon();
      return;
    }
    log.info({ signal: sig }, 'stopping: flushing the open interval');
    stopping = true;
    starting.abort(new Stopped());
    stopSource?.();
    setTimeout(abandon, STOP_GRACE_MS).unref();
  };
  const unlessAbandoned = async <T>(work: Promise<T>): Promise<T> => {
    const r = await Promise.race([work, abandoned]);
    if (r !== ABANDONED) return r as T;
    throw new OutputError(`cannot write ${sink.name}: ${pipeline.pendingRecords} record(s) of ${pipeline.pending} interval(s) not delivered when it stopped (the sink did not take them within ${STOP_GRACE_MS / 1000} s of the signal)`);
  };
  const onHup = () => {
    if (!o.inventory) return;
    try {
      collector.inventory = Inventory.load(o.inventory);
      log.info({ inventory: o.inventory, devices: collector.inventory.size }, 'inventory reloaded');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'inventory reload failed; keeping the previous one');
    }
  };
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal).on('SIGHUP', onHup);
  const statsTimer = setInterval(() => {
    log.info(counters(collector, pipeline, sink), 'counters');
    warnNoDevice();
  }, o.statsEveryMs).unref();

  try {
    if (o.http) await status.listen(o.http);
    try {
      await sink.start?.(starting.signal);
    } catch (err) {
      if (err instanceof Stopped) return 0;
      throw err;
    }
    status.kafkaReady();
    log.info({ source: o.sourceName, sink: sink.name, deviceNets: o.nets.cidrs, excluded: o.nets.excluded, intervalSeconds: o.intervalSeconds }, 'collecting');
    if (o.source.kind === 'pcap') return await unlessAbandoned(replay(o, o.source.path, collector, pipeline, log, () => stopping));
    const handle = await startLive(o, collector, pipeline, log, () => stopSource?.());
    stopSource = handle.stop;
    status.captureLoss(handle.loss);
    if (stopping) handle.stop();
    await unlessAbandoned(handle.done);
    handle.rethrow();
    return 0;
  } finally {
    clearInterval(statsTimer);
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal).off('SIGHUP', onHup);
    await sink.close();
    await status.close();
    warnNoDevice();
    log.info(counters(collector, pipeline, sink), 'final counters');
    log.flush();
  }
}

/** A capture file, as fast as it can or at --speed: 1 when it ended early (truncated or corrupt), else 0. */
async function replay(o: CollectOptions, path: string, collector: Collector, pipeline: Pipeline, log: Logger, stopRequested: () => boolean): Promise<number> {
  const progress = new Progress(path, statSync(path).size, o.progress ?? process.stderr.isTTY === true);
  const stats = await replayCapture(path, collector, pipeline, {
    speed: o.speed,
    onProgress: (bytes, frames) => progress.update(bytes, frames),
    stopRequested,
  });
  progress.done(stats.bytes, stats.frames);
  if (!stats.error) return 0;
  log.error({ file: path, error: stats.error, offset: stats.errorOffset, truncatedTailBytes: stats.truncatedTailBytes }, 'capture ended early; records up to that point were sent');
  return 1;
}

/** A live interface or UDP socket until stopped; an output that fails stops it, and rethrow() then reports it. */
async function startLive(o: CollectOptions, collector: Collector, pipeline: Pipeline, log: Logger, stop: () => void) {
  const live = await import('../collector/sources/live-source.js');
  let sinkFailed: OutputError | undefined;
  let sourceFailed: Error | undefined;
  const handle = await live.startLiveSource({
    iface: o.source.kind === 'interface' ? o.source.iface : undefined,
    filter: o.source.kind === 'interface' ? o.source.filter : undefined,
    udpPort: o.source.kind === 'udp' ? o.source.port : undefined,
    udpHost: o.source.kind === 'udp' ? o.source.host : '127.0.0.1',
    vxlanPorts: o.vxlanPorts,
    genevePorts: o.genevePorts,
    collector,
    pipeline,
    log,
    onSinkFailed: (err) => {
      if (!(err instanceof OutputError)) return false;
      sinkFailed ??= err;
      stop();
      return true;
    },
    onSourceFailed: (err) => {
      sourceFailed ??= err;
      stop();
      return true;
    },
    lossWindowSec: o.statsEveryMs / 1000,
  });
  return {
    ...handle,
    rethrow: () => {
      if (sinkFailed) throw sinkFailed;
      if (sourceFailed) throw sourceFailed;
    },
  };
}

/** A percentage from 0 to 100 as a fraction; undefined when not given. */
function percentOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const p = Number(text);
  if (text.trim() === '' || !Number.isFinite(p) || p < 0 || p > 100) throw new UsageError(`--${name}: a percentage from 0 to 100, got '${text}'`);
  return p / 100;
}

function speedOption(text: string | undefined): number {
  const speed = Number(text ?? 0);
  if (!Number.isFinite(speed) || speed < 0) throw new UsageError(`--speed: a number ≥ 0 (0 = as fast as possible), got '${text}'`);
  return speed;
}

function tableSink(): RecordSink {
  const sink = new NdjsonSink('-');
  return {
    name: 'table:stdout',
    stats: sink.stats,
    async send(batch) {
      process.stdout.write(recordsTable(batch.records()));
      sink.stats.delivered += batch.count;
    },
    close: async () => undefined,
  };
}

/** Everything counted so far: what came in, what was dropped and why, what went out. */
export function counters(c: Collector, p: Pipeline, sink: RecordSink): Record<string, unknown> {
  const named = (arr: Float64Array, names: readonly string[], from: number) =>
    Object.fromEntries(Array.from(arr).map((n, i) => [names[i], n] as const).filter(([, n], i) => i >= from && n > 0));
  const a = c.agg.stats;
  return {
    frames: c.decap.frames,
    malformed: { ...named(c.decap.reasons, REASON_NAMES, 1), ...(c.badTimestamps > 0 ? { timestamp_out_of_window: c.badTimestamps } : {}) },
    notes: named(c.decap.notes, NOTE_NAMES, 0),
    tunnels: c.tunnelCounts(),
    attributed: a.attributed,
    // Application messages that did not parse (per device they are in each record's dns.malformed / tls.malformed).
    evidenceMalformed: { ...named(c.agg.ev.dnsReasons, DNS_REASON_NAMES, 1), ...named(c.agg.ev.tlsReasons, TLS_REASON_NAMES, 1) },
    evidenceDropped: { burstStarts: c.agg.ev.dests.logDropped, hostNames: c.agg.ev.hosts.dropped, hostNameSwaps: c.agg.ev.hosts.swaps },
    dropped: { noIp: a.noIp, notDevice: a.notDevice, deviceOverflow: a.deviceOverflow, downlinkUnknown: a.downlinkUnknown, flowOverflow: a.flowOverflow, destinationOverflow: a.destinationOverflow, lateFrames: c.lateFrames },
    devices: c.agg.devices.count,
    devicesEvicted: a.devicesEvicted,
    intervals: c.intervalsClosed,
    records: c.recordsEmitted,
    sink: { name: sink.name, ...sink.stats, queuedIntervals: p.pending, droppedRecords: p.droppedRecords },
  };
}

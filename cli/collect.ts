// tapwatch collect: a mirror (pcap replay, live interface, or UDP tunnel socket) → per-device
// inspection records every interval → NDJSON, Kafka, or a table for people.

import { statSync } from 'node:fs';
import { pino } from 'pino';
import { REASON_NAMES, NOTE_NAMES } from '../gre-decap/malformed.js';
import { DNS_REASON_NAMES } from '../collector/evidence/dns.js';
import { TLS_REASON_NAMES } from '../collector/evidence/tls.js';
import { Collector } from '../collector/collector.js';
import { DeviceNets } from '../collector/device-nets.js';
import { Inventory } from '../inventory/inventory.js';
import { InspectionRecordSchema } from '../contracts/inspection-record.js';
import { Pipeline } from '../collector/pipeline.js';
import { replayCapture } from '../collector/sources/replay.js';
import { recordsTable } from '../collector/table.js';
import { KafkaSink } from '../collector/sinks/kafka.js';
import { NdjsonSink } from '../collector/sinks/ndjson.js';
import type { RecordSink } from '../collector/sinks/sink.js';
import { OutputError } from '../contracts/output-error.js';
import { intList, intOption, parseCommand, UsageError, type CommandSpec } from './args.js';
import { Progress } from './progress.js';
import { Stopped } from '../net/backoff.js';
import { commandConfig, CONFIG_HELP, CONFIG_OPTION, KAFKA_TOPIC_HELP, kafkaSettings } from './config.js';
import { collectorMetrics, HTTP_HELP, HTTP_OPTION, ServiceStatus } from '../ops/service-metrics.js';

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
    'vxlan-ports': { type: 'string' },
    'geneve-ports': { type: 'string' },
    'stats-interval': { type: 'string' },
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
    'vxlan-ports': 'UDP ports decoded as VXLAN (default 4789)',
    'geneve-ports': 'UDP ports decoded as Geneve (default 6081)',
    'stats-interval': 'seconds between counter log lines (default 10)',
    'log-level': 'pino level: fatal, error, warn, info (default), debug, trace, silent',
    progress: 'progress bar on stderr for --pcap (default: when stderr is a terminal)',
    'print-schema': 'print the InspectionRecord JSON Schema and exit',
    'exclude-address': 'an address (or CIDR) in a device network that is not a device, e.g. the site router; repeatable',
    'replication-factor': KAFKA_TOPIC_HELP['replication-factor'],
    http: HTTP_HELP,
    config: CONFIG_HELP,
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (v['print-schema']) {
    process.stdout.write(JSON.stringify(InspectionRecordSchema, null, 2) + '\n');
    return 0;
  }
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const cfg = commandConfig(v);
  const kafka = kafkaSettings(v, cfg, intOption);
  if (v.kafka === undefined && v.out === undefined && kafka.brokers) v.kafka = kafka.brokers.join(',');
  const sources = ['pcap', 'interface', 'listen-udp'].filter((k) => v[k] !== undefined);
  if (sources.length !== 1) throw new UsageError('give exactly one source: --pcap FILE, --interface IF or --listen-udp PORT');
  if ((v.out === undefined) === (v.kafka === undefined)) throw new UsageError('give exactly one sink: --out FILE|- or --kafka BROKERS');
  const format = (v.format as string | undefined) ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'table') throw new UsageError(`--format: 'ndjson' or 'table', got '${format}'`);
  if (format === 'table' && v.out !== '-') throw new UsageError("--format table goes with --out -");

  const log = pino({ name: 'tapwatch-collect', level: (v['log-level'] as string | undefined) ?? 'info' }, pino.destination(2));
  const inventoryPath = (v.inventory as string | undefined) ?? cfg.devices?.inventory;
  const nets = new DeviceNets((v['device-net'] as string[] | undefined) ?? cfg.devices?.networks ?? ['10.128.0.0/9'], (v['exclude-address'] as string[] | undefined) ?? cfg.devices?.exclude ?? []);
  const sourceName = v.pcap ? `pcap:${v.pcap}` : v.interface ? `interface:${v.interface}` : `udp:${v['listen-udp']}`;
  const vxlanPorts = intList('vxlan-ports', v['vxlan-ports'] as string | undefined, 1, 65535) ?? [4789];
  const genevePorts = intList('geneve-ports', v['geneve-ports'] as string | undefined, 1, 65535) ?? [6081];
  const udpPort = intOption('listen-udp', v['listen-udp'] as string | undefined, 1, 65535);
  // Datagrams on the listening port are tunnel payloads: Geneve when it is a Geneve port, else VXLAN.
  if (udpPort !== undefined && !genevePorts.includes(udpPort) && !vxlanPorts.includes(udpPort)) vxlanPorts.push(udpPort);

  const sink: RecordSink = v.kafka
    ? new KafkaSink({
        brokers: String(v.kafka).split(','),
        topic: (v.topic as string | undefined) ?? 'tapwatch.inspection',
        partitions: kafka.partitions,
        replicationFactor: kafka.replicationFactor,
      }, log)
    : v.out === '-' && format === 'table'
      ? tableSink()
      : new NdjsonSink(v.out as string);
  const pipeline = new Pipeline(sink, log);
  const intervalSeconds = intOption('interval', v.interval as string | undefined, 1, 86_400) ?? cfg.interval ?? 60;
  const collector = new Collector({
    nets,
    intervalSeconds,
    topK: intOption('top', v.top as string | undefined, 0, 1000) ?? 10,
    contacts: intOption('contacts', v.contacts as string | undefined, 0, 1000) ?? 16,
    maxDevices: intOption('max-devices', v['max-devices'] as string | undefined, 1, 1 << 24) ?? 65536,
    maxFlows: intOption('max-flows', v['max-flows'] as string | undefined, 1, 1 << 26) ?? 1 << 20,
    maxDestinations: intOption('max-destinations', v['max-destinations'] as string | undefined, 1, 1 << 26) ?? 1 << 20,
    time: { maxSkewSec: intOption('max-time-skew', v['max-time-skew'] as string | undefined, 1, 2_000_000_000) ?? 86_400 },
    idleIntervals: intOption('idle-intervals', v['idle-intervals'] as string | undefined, 1, 1 << 20) ?? 10,
    clock: v.pcap ? 'packet' : 'wall',
    source: sourceName,
    decap: { vxlanPorts, genevePorts },
    onBatch: (batch) => pipeline.enqueue(batch),
    onDeviceOverflow: (o) =>
      log.warn({ interval: new Date(o.startSec * 1000).toISOString(), maxDevices: o.maxDevices, framesNotCounted: o.frames, topSources: o.sources },
        'device table full: new devices beyond --max-devices not counted in this interval'),
  });
  if (inventoryPath) {
    collector.inventory = Inventory.load(inventoryPath);
    log.info({ inventory: inventoryPath, devices: collector.inventory.size }, 'inventory loaded');
  }

  const status = new ServiceStatus({ service: 'collect', log, intervalSeconds });
  collectorMetrics(status, {
    source: sourceName,
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

  let stopping = false;
  // Aborts a start still waiting for its sink (a broker not up yet): SIGTERM then stops at once.
  const starting = new AbortController();
  const onSignal = (sig: string) => {
    log.info({ signal: sig }, 'stopping: flushing the open interval');
    stopping = true;
    starting.abort(new Stopped());
    stopSource?.();
  };
  const onHup = () => {
    if (!inventoryPath) return;
    try {
      collector.inventory = Inventory.load(inventoryPath);
      log.info({ inventory: inventoryPath, devices: collector.inventory.size }, 'inventory reloaded');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'inventory reload failed; keeping the previous one');
    }
  };
  let stopSource: (() => void) | undefined;
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal).on('SIGHUP', onHup);
  const statsEvery = (intOption('stats-interval', v['stats-interval'] as string | undefined, 1, 86_400) ?? 10) * 1000;
  let warnedNoDevice = false;
  const noDeviceWarning = () => {
    const a = collector.agg.stats;
    if (warnedNoDevice || a.attributed > 0 || a.frames === a.noIp) return;
    warnedNoDevice = true;
    const busiest = collector.agg.foreignSources(5);
    const list = busiest.map((n) => `${n.net} (${n.frames} frames)`).join(', ');
    log.warn({ deviceNets: nets.cidrs, framesWithIp: a.frames - a.noIp, busiestSourceNets: busiest }, 'no packet matched a device network: set --device-net');
    process.stderr.write(
      `tapwatch collect: warning: no packet matched a device network (--device-net ${nets.cidrs.join(', ')}); ` +
        `busiest source networks: ${list}. Set --device-net CIDR (repeatable) to your devices' network.\n`,
    );
  };
  const statsTimer = setInterval(() => {
    log.info(counters(collector, pipeline, sink), 'counters');
    noDeviceWarning();
  }, statsEvery).unref();

  let exit = 0;
  let sinkFailed: OutputError | undefined;
  try {
    const http = (v.http as string | undefined) ?? cfg.http?.collect;
    if (http) await status.listen(http);
    try {
      await sink.start?.(starting.signal);
    } catch (err) {
      if (err instanceof Stopped) return 0;
      throw err;
    }
    status.kafkaReady();
    log.info({ source: sourceName, sink: sink.name, deviceNets: nets.cidrs, excluded: nets.excluded, intervalSeconds }, 'collecting');
    if (v.pcap) {
      const path = v.pcap as string;
      const progress = new Progress(path, statSync(path).size, (v.progress as boolean | undefined) ?? process.stderr.isTTY === true);
      const stats = await replayCapture(path, collector, pipeline, {
        speed: speedOption(v.speed as string | undefined),
        onProgress: (bytes, frames) => progress.update(bytes, frames),
        stopRequested: () => stopping,
      });
      progress.done(stats.bytes, stats.frames);
      if (stats.error) {
        log.error({ file: path, error: stats.error, offset: stats.errorOffset, truncatedTailBytes: stats.truncatedTailBytes }, 'capture ended early; records up to that point were sent');
        exit = 1;
      }
    } else {
      const live = await import('../collector/sources/live-source.js');
      const handle = await live.startLiveSource({
        iface: v.interface as string | undefined,
        filter: v.filter as string | undefined,
        udpPort,
        udpHost: (v['listen-host'] as string | undefined) ?? '127.0.0.1',
        vxlanPorts,
        genevePorts,
        collector,
        pipeline,
        log,
        onSinkFailed: (err) => {
          if (!(err instanceof OutputError)) return false;
          sinkFailed ??= err;
          stopSource?.();
          return true;
        },
      });
      stopSource = handle.stop;
      status.captureLoss(handle.loss);
      if (stopping) handle.stop();
      await handle.done;
      if (sinkFailed) throw sinkFailed;
    }
  } finally {
    clearInterval(statsTimer);
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal).off('SIGHUP', onHup);
    await sink.close();
    await status.close();
    noDeviceWarning();
    log.info(counters(collector, pipeline, sink), 'final counters');
    log.flush();
  }
  return exit;
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

// `tapwatch decap`, live: captures on an interface (collector/live-capture.ts), decapsulates every
// frame with gre-decap's Decapsulator into a DecapSummary, and prints the summary as one JSON line
// once it has --until-frames frames, when the traffic stops (no frame for --until-idle-ms after the
// first), at SIGTERM/SIGINT (after a short drain of frames already captured), or after --max-wait-ms.
// Needs root or CAP_NET_RAW.
//
//   node dist/test/harness/live-decap.js --interface IF [--filter F] [--until-frames N] [--until-idle-ms N] [--max-wait-ms N]
//
// stderr gets one line "live-decap: capturing on IF ..." once the capture is open, then "live-decap: N frames"
// whenever the count has changed (sampled, not per frame): tests wait for these instead of sleeping.
// The JSON is DecapSummaryJson (file 'live:IF', format 'live') plus `capture`: the capture's stats.

import { readFileSync } from 'node:fs';
import { Decapsulator } from '../../gre-decap/decap.js';
import { PacketMeta } from '../../gre-decap/meta.js';
import { DecapSummary, type DecapSummaryJson } from '../../gre-decap/summary.js';
import type { Frame, ReaderStats } from '../../gre-decap/readers/frame.js';
import { defaultMirrorFilter, openLiveCapture, LiveCaptureError, type LiveCapture } from '../../collector/sources/live-capture.js';
import { intList, intOption, parseCommand, UsageError, type CommandSpec } from '../../cli/args.js';

const spec: CommandSpec = {
  name: 'live-decap',
  usage: 'node dist/test/harness/live-decap.js --interface IF [--filter F] [--until-frames N] [--until-idle-ms N] [--max-wait-ms N]',
  summary:
    'Captures on an interface, decapsulates every frame (GRE, ERSPAN, VXLAN, Geneve) and prints the same JSON\n' +
    'summary as `tapwatch decap --json`, once it has --until-frames frames, once traffic has been idle for\n' +
    '--until-idle-ms after the first frame, at SIGTERM/SIGINT, or after --max-wait-ms. Needs root or CAP_NET_RAW.',
  options: {
    interface: { type: 'string', short: 'i' },
    filter: { type: 'string' },
    'until-frames': { type: 'string' },
    'until-idle-ms': { type: 'string' },
    'max-wait-ms': { type: 'string' },
    'drain-ms': { type: 'string' },
    'vxlan-ports': { type: 'string' },
    'geneve-ports': { type: 'string' },
    snaplen: { type: 'string' },
    'buffer-size': { type: 'string' },
    'stall-ms': { type: 'string' },
  },
  help: {
    interface: 'interface to capture on (required)',
    filter: "BPF filter (default: GRE, and UDP to the VXLAN and Geneve ports); '' captures everything",
    'until-frames': 'finish once this many frames were captured',
    'until-idle-ms': 'finish when no frame has arrived for this long after the first (default: only on a signal)',
    'max-wait-ms': 'finish after this long whatever happens (default: no limit)',
    'drain-ms': 'at SIGTERM/SIGINT, finish once no frame has arrived for this long (default 50, at most 2 s)',
    'vxlan-ports': 'UDP ports decoded (and, by default, captured) as VXLAN, comma-separated (default 4789)',
    'geneve-ports': 'UDP ports decoded (and captured) as Geneve (default 6081)',
    snaplen: 'bytes kept per frame (default and maximum 65535)',
    'buffer-size': 'libpcap kernel ring in bytes (default 32 MiB)',
    'stall-ms': 'block the event loop this long once the first frame arrives (to make the kernel ring overflow in tests)',
  },
};

export interface LiveDecapJson extends DecapSummaryJson {
  capture: {
    iface: string; filter: string; link_type: number; link_type_name: string; frames: number; bytes: number; truncated: number;
    /** libpcap's pcap_stats at the end: ps_drop (the socket's ring was full), ps_recv, ps_ifdrop. */
    kernel_drops: number | null;
    kernel_received: number;
    interface_drops: number;
    /** Batches the binding delivered (one JavaScript call each). */
    batches: number;
    /**
     * Frames the interface received while capturing (its rx_packets counter, from sysfs; null when
     * unreadable). With no filter, rx_packets - frames bounds what libpcap's ring dropped (frames the
     * host itself sent are captured but not counted in rx).
     */
    iface_rx_packets: number | null;
  };
}

function rxPackets(iface: string): number | null {
  if (!/^[^/\0]{1,15}$/.test(iface) || iface === '.' || iface === '..') return null;
  try {
    const n = Number(readFileSync(`/sys/class/net/${iface}/statistics/rx_packets`, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

function main(argv: string[]): void {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values as Record<string, string | undefined>;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  if (!v.interface) throw new UsageError('--interface is required');
  const iface: string = v.interface;
  const vxlanPorts = intList('vxlan-ports', v['vxlan-ports'], 1, 65535);
  const genevePorts = intList('geneve-ports', v['geneve-ports'], 1, 65535);
  const untilFrames = intOption('until-frames', v['until-frames'], 1, Number.MAX_SAFE_INTEGER);
  const idleMs = intOption('until-idle-ms', v['until-idle-ms'], 1, 86_400_000);
  const maxWaitMs = intOption('max-wait-ms', v['max-wait-ms'], 1, 2_147_483_647);
  const drainMs = intOption('drain-ms', v['drain-ms'], 1, 2000) ?? 50;
  const snaplen = intOption('snaplen', v.snaplen, 64, 65535);
  const bufferSize = intOption('buffer-size', v['buffer-size'], 65536, 0x7fffffff);
  const filter = v.filter ?? defaultMirrorFilter(vxlanPorts, genevePorts);
  const stallMs = intOption('stall-ms', v['stall-ms'], 1, 600_000);
  let stalled = stallMs === undefined;

  const decap = new Decapsulator({ vxlanPorts, genevePorts });
  const meta = new PacketMeta();
  const summary = new DecapSummary();
  const consumer = {
    onFrame(f: Frame): void {
      decap.decodeFrame(f, meta);
      summary.add(f.buf, meta);
      if (!stalled) {
        stalled = true;
        process.stderr.write(`live-decap: stalling ${stallMs} ms\n`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stallMs);
      }
    },
  };
  const rx0 = rxPackets(iface);
  const cap: LiveCapture = openLiveCapture({
    iface, filter, snaplen, bufferSize,
    onError: (err) => {
      process.stderr.write(`live-decap: ${err.code}: ${err.message}\n`);
      process.exitCode = 1;
      finish('error');
    },
  }, consumer);
  process.stderr.write(`live-decap: capturing on ${iface} (link type ${cap.linkType} ${cap.linkTypeName}, filter '${filter}')\n`);

  // Frame-count and idle conditions, sampled on a timer: nothing is added to the per-frame path.
  const started = Date.now();
  let stopAt = 0; // set by a signal: finish at the first quiet tick after a drain, or by then
  let seen = 0;
  let quietSince = Date.now();
  const tick = Math.max(5, Math.min(50, Math.floor(Math.min(idleMs ?? 50, drainMs) / 4)));
  const timer = setInterval(() => {
    const now = Date.now();
    if (cap.stats.frames !== seen) {
      seen = cap.stats.frames;
      quietSince = now;
      process.stderr.write(`live-decap: ${seen} frames\n`); // what a caller waits on before it signals
    }
    const quiet = now - quietSince;
    if (untilFrames !== undefined && seen >= untilFrames) finish('frames');
    else if (idleMs !== undefined && seen > 0 && quiet >= idleMs) finish('idle');
    else if (stopAt !== 0 && (quiet >= drainMs || now >= stopAt)) finish('signal');
    else if (maxWaitMs !== undefined && now - started >= maxWaitMs) finish('max-wait');
  }, tick);

  const onSignal = (): void => {
    if (stopAt === 0) stopAt = Date.now() + 2000;
    quietSince = Date.now(); // drain: wait at least drain-ms after the signal for frames already captured
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let done = false;
  function finish(why: string): void {
    if (done) return;
    done = true;
    clearInterval(timer);
    cap.close();
    const rx1 = rxPackets(iface);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    const s = cap.stats;
    const reader: ReaderStats = {
      frames: s.frames, bytes: s.bytes, truncatedTailBytes: 0, error: null, errorOffset: 0, skippedBlocks: 0, oddLengths: s.truncated,
    };
    const out: LiveDecapJson = {
      ...summary.toJSON(`live:${iface}`, 'live', decap, reader),
      capture: {
        iface, filter, link_type: cap.linkType, link_type_name: cap.linkTypeName, frames: s.frames, bytes: s.bytes, truncated: s.truncated,
        kernel_drops: s.kernelDrops, kernel_received: s.kernelReceived, interface_drops: s.interfaceDrops, batches: s.batches,
        iface_rx_packets: rx0 !== null && rx1 !== null ? rx1 - rx0 : null,
      },
    };
    process.stdout.write(JSON.stringify(out) + '\n');
    process.stderr.write(`live-decap: done (${why}) after ${s.frames} frames\n`);
  }
}

try {
  main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    process.stderr.write(`live-decap: ${e.message}\n`);
    process.exitCode = 2;
  } else if (e instanceof LiveCaptureError) {
    process.stderr.write(`live-decap: ${e.code}: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    const code = (e as { code?: string }).code;
    process.stderr.write(`live-decap: ${code ? `${code}: ` : ''}${(e as Error).message ?? e}\n`);
    process.exitCode = 1;
  }
}

// Plays a capture onto an interface as raw frames (pcap_inject through our pcap binding), optionally wrapped
// the way a mirroring gateway sends its copies (Ethernet / IPv4 / GRE, synth/mirror-wrap.ts), paced
// so the receiver's capture ring is not overrun. Used by the live-capture tests on a veth pair; works
// on any Ethernet interface. Needs root or CAP_NET_RAW.
//
//   node dist/test/harness/inject-frames.js --interface IF --pcap FILE [--wrap gre --src IP --dst IP
//        [--src-mac MAC] [--dst-mac MAC] [--key N]] [--pps N]
//
// Prints one JSON line at the end: {"sent","bytes","skipped","unsupported","failed","first_error","ms"}.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { openCapture } from '../../gre-decap/readers/capture.js';
import { Frame } from '../../gre-decap/readers/frame.js';
import { LINKTYPE_ETHERNET } from '../../gre-decap/layers.js';
import { openInjector, LiveCaptureError } from '../../collector/sources/live-capture.js';
import { wrapInGre, MirrorWrapError, type GreMirrorOptions } from '../../synth/mirror-wrap.js';
import { intOption, parseCommand, UsageError, type CommandSpec } from '../../cli/args.js';

const spec: CommandSpec = {
  name: 'inject-frames',
  usage: 'node dist/test/harness/inject-frames.js --interface IF --pcap FILE [--wrap gre --src IP --dst IP ...] [--pps N]',
  summary:
    'Sends every frame of a pcap/pcapng capture out of an Ethernet interface, as-is or wrapped in GRE as a\n' +
    'mirroring gateway would (Ethernet frames as GRE 0x6558, raw IP as 0x0800/0x86DD). Frames longer than the\n' +
    'interface allows (MTU + 14, + 4 with an 802.1Q tag) are skipped and counted. Needs root or CAP_NET_RAW.\n' +
    'Prints {"sent","bytes","skipped","unsupported","failed","first_error","ms"} as one JSON line at the end.',
  options: {
    interface: { type: 'string', short: 'i' },
    pcap: { type: 'string', short: 'r' },
    wrap: { type: 'string' },
    src: { type: 'string' },
    dst: { type: 'string' },
    'src-mac': { type: 'string' },
    'dst-mac': { type: 'string' },
    key: { type: 'string' },
    pps: { type: 'string' },
  },
  help: {
    interface: 'interface to send on (required)',
    pcap: 'capture to play (required)',
    wrap: "'gre': wrap each frame in outer Ethernet/IPv4/GRE (default: send frames as they are; Ethernet only)",
    src: 'outer IPv4 source with --wrap (required with --wrap)',
    dst: 'outer IPv4 destination with --wrap (required with --wrap)',
    'src-mac': 'outer source MAC with --wrap (default: the interface\'s own)',
    'dst-mac': 'outer destination MAC with --wrap (default 02:00:00:00:00:02)',
    key: 'GRE key with --wrap (default: none)',
    pps: 'frames per second (default 5000: faster bursts overflow the backlog of 1,000 frames of a veth peer whose CPU is busy; 0 = as fast as possible)',
  },
};

function sysfs(iface: string, file: string): string | null {
  if (!/^[^/\0]{1,15}$/.test(iface) || iface === '.' || iface === '..') return null;
  try {
    return readFileSync(`/sys/class/net/${iface}/${file}`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Sleeps the thread (the script is synchronous by design: one tight paced loop). */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

export interface InjectResult {
  sent: number;
  bytes: number;
  /** Frames longer than the interface accepts (MTU + 14, + 4 when 802.1Q-tagged). */
  skipped: number;
  /** Frames that cannot go out on this interface: not Ethernet without --wrap, or not wrappable. */
  unsupported: number;
  /** Frames the kernel refused for another reason (e.g. shorter than 14 bytes). */
  failed: number;
  first_error: string | null;
  ms: number;
}

function main(argv: string[]): number {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | undefined>;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const iface = v.interface;
  const path = v.pcap;
  if (!iface) throw new UsageError('--interface is required');
  if (!path) throw new UsageError('--pcap is required');
  const pps = intOption('pps', v.pps, 0, 100_000_000) ?? 5_000;
  let wrap: GreMirrorOptions | null = null;
  if (v.wrap !== undefined) {
    if (v.wrap !== 'gre') throw new UsageError(`--wrap: only 'gre' is supported, got '${v.wrap}'`);
    if (!v.src || !v.dst) throw new UsageError('--wrap gre needs --src and --dst (outer IPv4 addresses)');
    wrap = {
      src: v.src,
      dst: v.dst,
      srcMac: v['src-mac'] ?? sysfs(iface, 'address') ?? undefined,
      dstMac: v['dst-mac'],
      key: intOption('key', v.key, 0, 0xffffffff),
    };
    try {
      wrapInGre({ buf: new Uint8Array(60), off: 0, capLen: 60, linkType: LINKTYPE_ETHERNET }, wrap); // checks addresses once
    } catch (e) {
      throw new UsageError(`--wrap gre: ${(e as Error).message}`);
    }
  } else {
    for (const o of ['src', 'dst', 'src-mac', 'dst-mac', 'key']) {
      if (v[o] !== undefined) throw new UsageError(`--${o} only applies with --wrap gre`);
    }
  }
  // Linux's packet socket accepts MTU + link header, and 4 bytes more for an 802.1Q-tagged frame.
  const mtuText = sysfs(iface, 'mtu');
  const maxFrame = mtuText !== null && /^\d+$/.test(mtuText) ? Number(mtuText) + 14 : Infinity;

  const reader = openCapture(path);
  const out = openInjector(iface);
  const r: InjectResult = { sent: 0, bytes: 0, skipped: 0, unsupported: 0, failed: 0, first_error: null, ms: 0 };
  const f = new Frame();
  const t0 = performance.now();
  try {
    let n = 0;
    while (reader.next(f)) {
      let bytes: Uint8Array;
      if (wrap !== null) {
        try {
          bytes = wrapInGre(f, wrap);
        } catch (e) {
          if (!(e instanceof MirrorWrapError)) throw e;
          r.unsupported++;
          r.first_error ??= e.message;
          continue;
        }
      } else if (f.linkType !== LINKTYPE_ETHERNET) {
        r.unsupported++;
        r.first_error ??= `link type ${f.linkType} frames cannot be sent as they are on an Ethernet interface (use --wrap gre)`;
        continue;
      } else {
        bytes = f.buf.subarray(f.off, f.off + f.capLen);
      }
      const tagged = bytes.length >= 14 && bytes[12] === 0x81 && bytes[13] === 0x00;
      if (bytes.length > maxFrame + (tagged ? 4 : 0)) {
        r.skipped++;
        continue;
      }
      if (pps > 0) {
        const wait = t0 + (n * 1000) / pps - performance.now();
        if (wait >= 1) sleepMs(wait);
      }
      n++;
      try {
        out.send(bytes, bytes.length);
        r.sent++;
        r.bytes += bytes.length;
      } catch (e) {
        const msg = (e as Error).message;
        if (/too long/i.test(msg)) r.skipped++; // MTU not readable, or changed meanwhile
        else {
          r.failed++;
          r.first_error ??= msg;
        }
      }
    }
  } finally {
    out.close();
    reader.close();
  }
  r.ms = Math.round(performance.now() - t0);
  if (reader.stats.error) r.first_error ??= `${path}: reading stopped early: ${reader.stats.error}`;
  process.stdout.write(JSON.stringify(r) + '\n');
  return reader.stats.error ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  const code = (e as { code?: string }).code;
  if (e instanceof UsageError) {
    process.stderr.write(`inject-frames: ${e.message}\n`);
    process.exitCode = 2;
  } else if (e instanceof LiveCaptureError) {
    process.stderr.write(`inject-frames: ${e.code}: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`inject-frames: ${code ? `${code}: ` : ''}${(e as Error).message ?? e}\n`);
    process.exitCode = 1;
  }
}

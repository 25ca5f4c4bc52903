// Live capture agrees with replay: frames injected on one end of a veth pair (sender namespace,
// playing the mirroring gateway) and captured with libpcap on the other (collector namespace) give the
// same decap summary as the same frames read from a pcap file. Also: the default BPF filter keeps
// GRE/VXLAN/Geneve over IPv4 and IPv6 and drops everything else, and the capture fails with the
// documented error codes without privilege or without libpcap.
//
// Needs root (namespaces, veth, packet sockets) and the build (dist/scripts/*.js): `npm test` does
// both in CI. Without root the suite FAILS (test/netns.ts throws), it does not skip.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeCapture } from '../cli/decap.js';
import { openCapture } from '../gre-decap/readers/capture.js';
import { Frame } from '../gre-decap/readers/frame.js';
import type { DecapSummaryJson } from '../gre-decap/summary.js';
import { dltToLinkType, defaultMirrorFilter } from '../collector/sources/live-capture.js';
import { PcapWriter } from '../synth/capture-file.js';
import { wrapInGre, type GreMirrorOptions } from '../synth/mirror-wrap.js';
import { ethernet, geneve, gre, ipv4, ipv6, tcp, udp, vxlan, bytes } from '../synth/packets.js';
import { collectOutput, createNetnsPair, waitForExit, waitForOutput, type NetnsPair } from './helpers/netns.js';

const ROOT = join(import.meta.dirname, '..');
const LIVE = join(ROOT, 'dist', 'test', 'harness', 'live-decap.js');
const INJECT = join(ROOT, 'dist', 'test', 'harness', 'inject-frames.js');
const CLI = join(ROOT, 'dist', 'cli', 'tapwatch.js');
const FIXTURES = join(ROOT, 'fixtures', 'real');
const GRE_IN_GRE = join(FIXTURES, 'zeek__gre-within-gre.pcap');
const PLAIN = join(FIXTURES, 'nDPI__coap_mqtt.pcap');
/** Not the collector's MAC: the collector's kernel drops the frames after libpcap has seen them (no replies, no noise). */
const MIRROR_DST_MAC = '02:00:00:00:00:02';

let net: NetnsPair;
let dir: string;

interface InjectResult { sent: number; bytes: number; skipped: number; unsupported: number; failed: number; first_error: string | null; ms: number }
interface LiveJson extends DecapSummaryJson {
  capture: { link_type: number; link_type_name: string; frames: number; bytes: number; truncated: number; kernel_drops: number | null; kernel_received: number; interface_drops: number; batches: number; iface_rx_packets: number | null; filter: string };
}

// A failed set-up (not root, no `ip netns`, no build) is rethrown by every test that needs it, so each
// of them FAILS with the reason (a throwing beforeAll would only mark them skipped).
let setupError: unknown = null;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-live-'));
  try {
    for (const f of [LIVE, INJECT]) if (!existsSync(f)) throw new Error(`${f} is missing: build first (npx tsc -p tsconfig.json)`);
    net = createNetnsPair();
  } catch (e) {
    setupError = e;
  }
});

function ready(): void {
  if (setupError !== null) throw setupError;
}

afterAll(() => {
  net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What a live summary and a file summary must share (not file name, format or reader details). */
function figures(s: DecapSummaryJson): Partial<DecapSummaryJson> {
  return { outer_packet_count: s.outer_packet_count, encapsulation: s.encapsulation, innermost_ip: s.innermost_ip, malformed: s.malformed, notes: s.notes };
}

function mirrorOpts(): GreMirrorOptions {
  return { src: net.a.addr, dst: net.b.addr, srcMac: net.a.mac, dstMac: MIRROR_DST_MAC, key: 42 };
}

function mirrorArgs(o: GreMirrorOptions): string[] {
  return ['--wrap', 'gre', '--src', o.src, '--dst', o.dst, '--src-mac', o.srcMac!, '--dst-mac', o.dstMac!, '--key', String(o.key)];
}

/** Every frame of a capture, copied out, with its link type. */
function framesOf(path: string): { buf: Uint8Array; off: number; capLen: number; linkType: number }[] {
  const r = openCapture(path);
  const f = new Frame();
  const out = [];
  while (r.next(f)) out.push({ buf: f.buf.slice(f.off, f.off + f.capLen), off: 0, capLen: f.capLen, linkType: f.linkType });
  r.close();
  return out;
}

function writePcap(name: string, frames: readonly Uint8Array[]): string {
  const path = join(dir, name);
  const w = new PcapWriter(path);
  frames.forEach((b, i) => w.write(b, 1_767_225_600, i * 1000));
  w.close();
  return path;
}

interface Capture { child: ReturnType<NetnsPair['spawn']>; out: ReturnType<typeof collectOutput> }

/** Starts live-decap in the collector namespace and waits until its capture is open. */
async function startCapture(args: string[]): Promise<Capture> {
  // --max-wait-ms: a capture orphaned by a killed test run ends by itself.
  const child = net.spawn(net.b.ns, process.execPath, [LIVE, '--interface', net.b.iface, '--max-wait-ms', '60000', ...args]);
  const out = collectOutput(child);
  await waitForOutput(child, out.stderr, /capturing on/, 15_000);
  return { child, out };
}

/**
 * Ends a capture and returns its summary: SIGTERM once it has said it holds `frames` frames, or (no
 * count) by its own condition (--until-frames, --until-idle-ms).
 */
async function endCapture(c: Capture, frames?: number): Promise<LiveJson> {
  if (frames !== undefined) {
    await waitForOutput(c.child, c.out.stderr, new RegExp(`live-decap: ${frames} frames\\n`), 30_000);
    c.child.kill('SIGTERM');
  }
  const code = await waitForExit(c.child, 15_000);
  expect(code, c.out.stderr()).toBe(0);
  return JSON.parse(c.out.stdout()) as LiveJson;
}

/** Runs the injector in the sender namespace. */
async function inject(pcap: string, extra: string[] = []): Promise<InjectResult> {
  const child = net.spawn(net.a.ns, process.execPath, [INJECT, '--interface', net.a.iface, '--pcap', pcap, ...extra]);
  const out = collectOutput(child);
  const code = await waitForExit(child, 30_000);
  expect(code, out.stderr()).toBe(0);
  return JSON.parse(out.stdout()) as InjectResult;
}

describe('default mirror filter and link types', () => {
  it('builds the BPF expression from the tunnel ports', () => {
    expect(defaultMirrorFilter()).toBe('proto gre or udp dst port 4789 or udp dst port 6081');
    expect(defaultMirrorFilter([4789, 8472], [6081])).toBe('proto gre or udp dst port 4789 or udp dst port 8472 or udp dst port 6081');
    expect(() => defaultMirrorFilter([0])).toThrow(/not a UDP port/);
    expect(() => defaultMirrorFilter([])).toThrow(/at least one port/);
  });

  it("maps libpcap's DLT_ values to LINKTYPE_ numbers", () => {
    expect(dltToLinkType(1)).toBe(1);
    expect(dltToLinkType(113)).toBe(113);
    expect(dltToLinkType(12)).toBe(101); // DLT_RAW on Linux
    expect(dltToLinkType(14)).toBe(101); // DLT_RAW on OpenBSD
    expect(dltToLinkType(0)).toBe(0);
    expect(dltToLinkType(276)).toBe(276);
  });
});

describe('live capture on a veth pair = replay of the same frames', () => {
  it('GRE-in-GRE fixture injected as it is (capture ends at its frame count)', async () => {
    ready();
    const cap = await startCapture(['--until-frames', '628']);
    const sent = await inject(GRE_IN_GRE);
    expect(sent).toMatchObject({ sent: 628, skipped: 0, unsupported: 0, failed: 0 });
    const live = await endCapture(cap);
    expect(live.capture).toMatchObject({ link_type: 1, link_type_name: 'EN10MB', frames: 628, bytes: sent.bytes, truncated: 0, kernel_drops: 0, kernel_received: 628, interface_drops: 0 });
    expect(live.capture.batches).toBeGreaterThan(0);
    expect(live.capture.batches).toBeLessThanOrEqual(628);
    expect(figures(live)).toEqual(figures(summarizeCapture(GRE_IN_GRE)));
  });

  it('plain IoT traffic mirrored in GRE by the injector, as a gateway would (capture ends at SIGTERM)', async () => {
    ready();
    const o = mirrorOpts();
    const wrapped = writePcap('coap-mirrored.pcap', framesOf(PLAIN).map((f) => wrapInGre(f, o)));
    const cap = await startCapture([]);
    const sent = await inject(PLAIN, mirrorArgs(o));
    expect(sent).toMatchObject({ sent: 1082, skipped: 0, unsupported: 0, failed: 0 });
    const live = await endCapture(cap, 1082);
    expect(live.capture.frames).toBe(1082);
    expect(live.capture.bytes).toBe(sent.bytes);
    const file = summarizeCapture(wrapped);
    expect(figures(live)).toEqual(figures(file));
    expect(live.encapsulation.frames_with.gre).toBe(1082);
    // Wrapping changes nothing inside, except that the 2 ARP frames' innermost IP is now the outer (GRE) packet.
    const plain = summarizeCapture(PLAIN).innermost_ip;
    expect(live.innermost_ip.transport).toEqual({ ...plain.transport, other: plain.transport.other + plain.frames_without_ip });
    expect(live.innermost_ip.ipv6_packets).toBe(plain.ipv6_packets);
    expect(plain.frames_without_ip).toBe(2);
  });

  it('the default filter keeps GRE, VXLAN and Geneve (IPv4 and IPv6) and drops everything else', async () => {
    ready();
    const o = mirrorOpts();
    const inner = ethernet(ipv4(udp(bytes(32, 7), { src: 40000, dst: 5683 }), { src: '10.1.0.5', dst: '10.9.9.9', proto: 17 }));
    const outer4 = (payload: Uint8Array, proto: number): Uint8Array =>
      ethernet(ipv4(payload, { src: o.src, dst: o.dst, proto }), { src: o.srcMac, dst: MIRROR_DST_MAC });
    const outer6 = (payload: Uint8Array, nextHeader: number): Uint8Array =>
      ethernet(ipv6(payload, { src: '2001:db8::1', dst: '2001:db8::2', nextHeader }), { src: o.srcMac, dst: MIRROR_DST_MAC, etherType: 0x86dd });
    const mirror: Uint8Array[] = [
      ...framesOf(PLAIN).slice(0, 200).map((f) => wrapInGre(f, o)),
      outer4(udp(vxlan(inner, { vni: 7 }), { src: 51000, dst: 4789 }), 17),
      outer4(udp(geneve(inner, { vni: 9 }), { src: 51000, dst: 6081 }), 17),
      outer6(gre(inner, { protocol: 0x6558 }), 47),
      outer6(udp(vxlan(inner, { vni: 8 }), { src: 51000, dst: 4789 }), 17),
    ];
    const plain: Uint8Array[] = [
      ...framesOf(PLAIN).slice(0, 200).map((f) => f.buf), // IoT traffic seen directly, not mirrored
      outer4(udp(bytes(40), { src: 4789, dst: 9999 }), 17), // VXLAN's port as source only
      outer4(udp(bytes(40), { src: 51000, dst: 4790 }), 17),
      outer4(tcp(bytes(40), { src: 51000, dst: 4789 }), 6), // TCP, not UDP, to 4789
      outer6(udp(bytes(40), { src: 51000, dst: 6082 }), 17),
    ];
    const all: Uint8Array[] = [];
    for (let i = 0; i < Math.max(mirror.length, plain.length); i++) {
      if (i < mirror.length) all.push(mirror[i]);
      if (i < plain.length) all.push(plain[i]);
    }
    const mixed = writePcap('mixed.pcap', all);
    const mirrorOnly = writePcap('mirror-only.pcap', mirror);

    const filtered = await startCapture([]);
    const everything = await startCapture(['--filter', '']);
    const sent = await inject(mixed);
    expect(sent).toMatchObject({ sent: all.length, skipped: 0, failed: 0 });
    const [kept, seen] = await Promise.all([endCapture(filtered, mirror.length), endCapture(everything, all.length)]);
    // The unfiltered capture proves the plain frames did reach the interface.
    expect(seen.capture.frames).toBe(all.length);
    expect(seen.capture.iface_rx_packets).toBe(all.length);
    expect(kept.capture.frames).toBe(mirror.length);
    expect(figures(kept)).toEqual(figures(summarizeCapture(mirrorOnly)));
    expect(kept.encapsulation.frames_with).toEqual({ gre: 201, erspan: 0, vxlan: 2, geneve: 1 });
  });

  it('ends by itself once traffic has been idle (one frame, then nothing)', async () => {
    ready();
    const cap = await startCapture(['--until-idle-ms', '300']);
    expect(await inject(writePcap('one.pcap', framesOf(GRE_IN_GRE).slice(0, 1).map((f) => f.buf)))).toMatchObject({ sent: 1 });
    const live = await endCapture(cap);
    expect(live.capture.frames).toBe(1);
    expect(cap.out.stderr()).toMatch(/done \(idle\) after 1 frames/);
  });

  it('skips frames longer than the interface allows, and counts them', async () => {
    ready();
    const big = writePcap('big.pcap', [ethernet(bytes(net.mtu + 1)), ethernet(bytes(net.mtu)), ethernet(bytes(64))]);
    expect(await inject(big)).toMatchObject({ sent: 2, skipped: 1, failed: 0 });
  });
});

describe('kernel drop counters (pcap_stats)', () => {
  it('a capture whose JavaScript is blocked with a small kernel buffer reports the frames the kernel dropped', async () => {
    ready();
    const N = 3000;
    const frames = framesOf(PLAIN).slice(0, 1000).map((f) => wrapInGre(f, mirrorOpts()));
    const pcap = writePcap('burst.pcap', Array.from({ length: N }, (_, i) => frames[i % frames.length]));
    // 64 KiB of kernel buffer and a 2 KiB snaplen hold a few dozen frames; the first frame blocks the loop for 1.5 s
    // while the rest arrive (N frames at 5,000 a second take 0.6 s).
    const cap = await startCapture(['--filter', '', '--buffer-size', '65536', '--snaplen', '2048', '--stall-ms', '1500', '--until-idle-ms', '500']);
    const sent = await inject(pcap);
    expect(sent).toMatchObject({ sent: N, skipped: 0, failed: 0 });
    const live = await endCapture(cap);
    const c = live.capture;
    expect(c.iface_rx_packets).toBe(N);
    expect(c.kernel_drops).toBeGreaterThan(N / 2);
    // Every frame is either read or counted as dropped; on Linux ps_recv counts both.
    expect(c.frames + c.kernel_drops!).toBe(N);
    expect(c.kernel_received).toBe(N);
    expect(c.interface_drops).toBe(0);
    process.stdout.write(`kernel drop test: ${JSON.stringify({ frames: c.frames, kernel_drops: c.kernel_drops, kernel_received: c.kernel_received, batches: c.batches })}\n`);
  });
});

describe('capture errors', () => {
  it('without CAP_NET_RAW: TWC0003, naming the fix', () => {
    ready();
    let err: { status: number; stderr: string } | null = null;
    try {
      // Root, but with CAP_NET_RAW and CAP_NET_ADMIN removed from the bounding set of what it runs.
      net.exec(net.b.ns, 'setpriv', ['--bounding-set=-net_raw,-net_admin', process.execPath, LIVE, '--interface', net.b.iface, '--max-wait-ms', '2000']);
    } catch (e) {
      err = { status: 1, stderr: (e as Error).message };
    }
    expect(err).not.toBeNull();
    expect(err!.stderr).toMatch(/TWC0003/);
    expect(err!.stderr).toMatch(/root or CAP_NET_RAW/);
    expect(err!.stderr).toMatch(/setcap cap_net_raw,cap_net_admin\+eip/);
  });

  it('without the pcap binding built: TWC0002, naming the fix', () => {
    expect(existsSync(LIVE), `${LIVE} is missing: build first`).toBe(true); // needs no namespace
    let stderr = '';
    try {
      execFileSync(process.execPath, [LIVE, '--interface', 'lo'], {
        encoding: 'utf8', stdio: 'pipe', timeout: 15_000, env: { ...process.env, TAPWATCH_PCAP_BINDING: join(dir, 'not-built', 'pcap_binding.node') },
      });
    } catch (e) {
      stderr = (e as { stderr: string }).stderr;
    }
    expect(stderr).toMatch(/TWC0002/);
    expect(stderr).toMatch(/libpcap-dev/);
    expect(stderr).toMatch(/npm ci/);
  });

  it('a missing interface: one line naming it, no stack trace (tapwatch collect --interface nosuch0)', () => {
    ready();
    const r = spawnSync(process.execPath, [CLI, 'collect', '--interface', 'nosuch0', '--out', join(dir, 'nosuch.ndjson'), '--log-level', 'silent'], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('tapwatch collect: [TWC0005] cannot capture on nosuch0: no such interface (libpcap: No such device exists); `ip link` lists them');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an interface that disappears while captured: collect stops with one line naming it, exit 1', async () => {
    ready();
    net.exec(net.b.ns, 'ip', ['link', 'add', 'twgone0', 'type', 'veth', 'peer', 'name', 'twgone1']);
    net.exec(net.b.ns, 'ip', ['link', 'set', 'twgone0', 'up']);
    net.exec(net.b.ns, 'ip', ['link', 'set', 'twgone1', 'up']);
    const child = net.spawn(net.b.ns, process.execPath, [CLI, 'collect', '--interface', 'twgone0', '--out', join(dir, 'gone.ndjson'), '--log-level', 'info']);
    const out = collectOutput(child);
    // Started means libpcap's activation finished: its packet socket is listed in /proc before the interface is
    // looked up, and an interface deleted in between is 'no such interface' at the open, another test's case.
    await waitForOutput(child, out.stderr, /live capture started/, 15_000);
    net.exec(net.b.ns, 'ip', ['link', 'del', 'twgone0']);
    expect(await waitForExit(child, 15_000)).toBe(1);
    expect(out.stderr()).toMatch(/^tapwatch collect: \[TWC0005\] capture on twgone0 stopped: The interface disappeared$/m);
    expect(out.stderr()).not.toMatch(/\n\s+at /);
  });

  it('a filter that does not compile: TWC0004 with libpcap\'s reason', () => {
    ready();
    const r = spawnSync(process.execPath, [LIVE, '--interface', 'lo', '--filter', 'udp port banana'], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^live-decap: TWC0004: capture filter 'udp port banana' on lo: filter: .+/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

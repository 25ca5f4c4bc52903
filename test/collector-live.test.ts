// tapwatch collect --interface: the demo mirror (GRE, ERSPAN II/III, VXLAN, Geneve) injected on one
// end of a veth pair by a "gateway" namespace and captured with libpcap on the other end gives the
// same inspection records as replaying the same file, timing aside (live intervals close on the wall
// clock, replayed ones on capture time, and injected frames arrive faster than they were captured).
//
// Also: libpcap's counters (pcap_stats, read once a tick) in /metrics and /healthz: received equals
// what was injected with nothing dropped; and a collector stopped (SIGSTOP) while frames keep coming
// reports what its kernel ring dropped, and /healthz turns degraded naming the capture loss.
//
// Needs root (namespaces, veth, packet sockets): without it the test FAILS, saying so.

import { execFileSync } from 'node:child_process';
import { PcapWriter } from '../synth/capture-file.js';
import { openCapture } from '../gre-decap/readers/capture.js';
import { Frame } from '../gre-decap/readers/frame.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './helpers/until.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { metricValue } from './helpers/prometheus.js';
import { collectOutput, createNetnsPair, waitForExit, waitForOutput, type NetnsPair } from './helpers/netns.js';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'cli', 'tapwatch.js');
const INJECT = join(ROOT, 'dist', 'test', 'harness', 'inject-frames.js');
const DEMO = join(ROOT, 'fixtures', 'demo', 'fleet-mirror.pcap');

let net: NetnsPair | undefined;
let dir: string;
let setupError: unknown = null;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-clive-'));
  try {
    for (const f of [CLI, INJECT]) if (!existsSync(f)) throw new Error(`${f} is missing: build first`);
    net = createNetnsPair();
  } catch (e) {
    setupError = e; // rethrown by the test, so it fails with the reason instead of being skipped
  }
});

afterAll(() => {
  net?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A record without what depends on when and how it was collected: the interval, and the contacts'
 * activity bursts (packet timing: the injector replays seconds of capture in milliseconds, so bursts
 * merge, and the contacts they order come in another order).
 */
function comparable(line: string): string {
  const r = JSON.parse(line);
  delete r['@timestamp'];
  delete r.interval;
  delete r.collector;
  r.contacts = (r.contacts as Record<string, unknown>[])
    .map(({ bursts: _b, bursts_dropped: _d, ...c }) => c)
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return JSON.stringify(r);
}

it('live capture on a veth pair gives the same records as replaying the same capture', async () => {
  if (setupError !== null) throw setupError;
  const n = net!;
  const replayOut = join(dir, 'replay.ndjson');
  execFileSync('node', [CLI, 'collect', '--pcap', DEMO, '--interval', '3600', '--out', replayOut, '--log-level', 'silent']);

  const liveOut = join(dir, 'live.ndjson');
  // One long interval, closed at SIGTERM: the live records then cover exactly the injected frames.
  const collector = n.spawn(n.b.ns, process.execPath, [CLI, 'collect', '--interface', n.b.iface, '--interval', '3600', '--stats-interval', '1', '--out', liveOut, '--http', '127.0.0.1:0']);
  const out = collectOutput(collector);
  await waitForOutput(collector, out.stderr, /live capture started/, 15_000);
  const http = httpAddress(out.stderr());

  const injector = n.spawn(n.a.ns, process.execPath, [INJECT, '--interface', n.a.iface, '--pcap', DEMO]);
  const injected = collectOutput(injector);
  expect(await waitForExit(injector, 30_000), injected.stderr()).toBe(0);
  expect(JSON.parse(injected.stdout())).toMatchObject({ sent: 2500, skipped: 0, failed: 0 });

  // SIGTERM only once the collector has counted every injected frame.
  await until('the collector to count all 2,500 frames', () => out.stderr().split('\n').some((l) => l.includes('"msg":"counters"') && JSON.parse(l).frames === 2500), { context: out.stderr });
  // libpcap's counters, sampled once a second: every frame received (they all pass the default filter), none dropped.
  const metrics = await until('libpcap to have counted 2,500 frames', () => {
    const text = fetchIn(n, `http://${http}/metrics`).body;
    return metricValue(text, 'tapwatch_capture_received_packets_total') === 2500 ? text : undefined;
  });
  expect(metricValue(metrics, 'tapwatch_capture_dropped_packets_total')).toBe(0);
  expect(metricValue(metrics, 'tapwatch_capture_interface_dropped_packets_total')).toBe(0);
  expect(fetchIn(n, `http://${http}/healthz`)).toEqual({ status: 200, body: '{"status":"ok"}' });
  collector.kill('SIGTERM');
  expect(await waitForExit(collector, 15_000), out.stderr()).toBe(0);
  const final = out.stderr().split('\n').filter((l) => l.includes('"final counters"')).map((l) => JSON.parse(l))[0];
  expect(final.frames).toBe(2500);

  const replay = readFileSync(replayOut, 'utf8').trim().split('\n');
  const live = readFileSync(liveOut, 'utf8').trim().split('\n');
  expect(live.length).toBe(replay.length);
  expect(live.map(comparable)).toEqual(replay.map(comparable));
  expect(JSON.parse(live[0]).collector.source).toBe(`interface:${n.b.iface}`);
}, 90_000);

/** The HOST:PORT the collector logged for --http. */
function httpAddress(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.includes('serving /healthz and /metrics'));
  if (!line) throw new Error(`no --http address logged:\n${stderr}`);
  return JSON.parse(line).http as string;
}

/** GET from inside the collector's namespace (its loopback is not reachable from here). */
function fetchIn(n: NetnsPair, url: string): { status: number; body: string } {
  const js = `fetch(${JSON.stringify(url)}).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))`;
  return JSON.parse(n.exec(n.b.ns, process.execPath, ['-e', js], { timeoutMs: 10_000 }));
}

it('a collector that falls behind: libpcap drops in /metrics, and /healthz degraded naming the capture loss', async () => {
  if (setupError !== null) throw setupError;
  const n = net!;
  // 20,000 GRE-mirrored frames (the demo's, repeated) at 5,000 a second; the collector is stopped for
  // the first 3 s, so its kernel ring (32 MiB: ~3,400 frames the size of this veth's MTU) overflows.
  const src = openCapture(DEMO);
  const frames: Uint8Array[] = [];
  const f = new Frame();
  while (src.next(f)) frames.push(f.buf.slice(f.off, f.off + f.capLen));
  src.close();
  const burst = join(dir, 'burst.pcap');
  const w = new PcapWriter(burst);
  for (let i = 0; i < 20_000; i++) w.write(frames[i % frames.length], 1_767_225_600 + (i >> 12), (i & 4095) * 1000);
  w.close();

  const collector = n.spawn(n.b.ns, process.execPath, [CLI, 'collect', '--interface', n.b.iface, '--interval', '3600', '--stats-interval', '5',
    '--capture-loss-threshold', '5', '--out', join(dir, 'behind.ndjson'), '--http', '127.0.0.1:0']);
  const out = collectOutput(collector);
  await waitForOutput(collector, out.stderr, /live capture started/, 15_000);
  const http = httpAddress(out.stderr());
  collector.kill('SIGSTOP');
  const injector = n.spawn(n.a.ns, process.execPath, [INJECT, '--interface', n.a.iface, '--pcap', burst]);
  const injected = collectOutput(injector);
  await new Promise((r) => setTimeout(r, 3000));
  collector.kill('SIGCONT');
  expect(await waitForExit(injector, 30_000), injected.stderr()).toBe(0);
  expect(JSON.parse(injected.stdout())).toMatchObject({ sent: 20_000, failed: 0 });

  const health = await until('/healthz to report the capture loss', () => {
    const r = fetchIn(n, `http://${http}/healthz`);
    return r.status === 503 ? (JSON.parse(r.body) as { status: string; reasons: string[] }) : undefined;
  }, { timeoutMs: 20_000, context: out.stderr });
  expect(health.status).toBe('degraded');
  expect(health.reasons.join()).toMatch(/^capture loss \d+\.\d\d % (in the last window|since the start) \(\d+ of \d+ packets dropped by the kernel\), above 5 %$/);
  const metrics = await until('every frame accounted for', () => {
    const text = fetchIn(n, `http://${http}/metrics`).body;
    return metricValue(text, 'tapwatch_capture_received_packets_total') === 20_000 ? text : undefined;
  }, { timeoutMs: 20_000 });
  const dropped = metricValue(metrics, 'tapwatch_capture_dropped_packets_total')!;
  const read = metricValue(metrics, 'tapwatch_collector_packets_total')!;
  process.stdout.write(`collector behind: ${JSON.stringify({ received: 20_000, dropped, read })}\n`);
  expect(dropped).toBeGreaterThan(1000);
  expect(read + dropped).toBe(20_000);
  collector.kill('SIGTERM');
  expect(await waitForExit(collector, 15_000), out.stderr()).toBe(0);
}, 90_000);

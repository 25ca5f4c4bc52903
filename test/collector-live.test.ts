// tapwatch collect --interface: the demo mirror (GRE, ERSPAN II/III, VXLAN, Geneve) injected on one
// end of a veth pair by a "gateway" namespace and captured with libpcap on the other end gives the
// same inspection records as replaying the same file, timing aside (live intervals close on the wall
// clock, replayed ones on capture time, and injected frames arrive faster than they were captured).
//
// Needs root (namespaces, veth, packet sockets): without it the test FAILS, saying so.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './helpers/until.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
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
  const collector = n.spawn(n.b.ns, process.execPath, [CLI, 'collect', '--interface', n.b.iface, '--interval', '3600', '--stats-interval', '1', '--out', liveOut]);
  const out = collectOutput(collector);
  await waitForOutput(collector, out.stderr, /live capture started/, 15_000);

  const injector = n.spawn(n.a.ns, process.execPath, [INJECT, '--interface', n.a.iface, '--pcap', DEMO]);
  const injected = collectOutput(injector);
  expect(await waitForExit(injector, 30_000), injected.stderr()).toBe(0);
  expect(JSON.parse(injected.stdout())).toMatchObject({ sent: 2500, skipped: 0, failed: 0 });

  // SIGTERM only once the collector has counted every injected frame.
  await until('the collector to count all 2,500 frames', () => out.stderr().split('\n').some((l) => l.includes('"msg":"counters"') && JSON.parse(l).frames === 2500), { context: out.stderr });
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

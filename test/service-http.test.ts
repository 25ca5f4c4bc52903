// --http on a long-running collector (--listen-udp): /metrics in Prometheus text format with the
// collector's counters by source and reason, and /healthz that turns degraded, with its reason, once no
// packet came in for three intervals.

import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bytes, ethernet, ipv4, udp, vxlan } from '../synth/packets.js';
import { CliProcess } from './helpers/cli-process.js';
import { metricValue } from './helpers/prometheus.js';
import { until } from './helpers/until.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-http-'));
});
const started: CliProcess[] = [];
const track = (p: CliProcess): CliProcess => (started.push(p), p);
afterAll(() => {
  for (const p of started) p.child.kill('SIGKILL'); // only what a failed test left running
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

it('collect --listen-udp --http: /metrics counts packets and bytes by source; /healthz goes degraded after three idle intervals', async () => {
  const port = await freePort();
  const collect = track(new CliProcess('collect', ['collect', '--listen-udp', String(port), '--interval', '1', '--http', '127.0.0.1:0', '--out', join(dir, 'out.ndjson')]));
  const http = (await collect.waitForLog('where it serves', (l) => l.msg === 'serving /healthz and /metrics')).http as string;
  await collect.waitForLog('that it listens', (l) => String(l.msg).includes('listening for VXLAN'));

  const frame = ethernet(ipv4(udp(bytes(16), { src: 40000, dst: 5683 }), { src: '10.128.0.9', dst: '203.0.113.5', proto: 17 }));
  const datagram = vxlan(frame, { vni: 3 });
  const sock = createSocket('udp4');
  for (let i = 0; i < 5; i++) await new Promise<void>((r, j) => sock.send(datagram, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  sock.close();

  const metrics = await until('the five packets in /metrics', async () => {
    const text = await (await fetch(`http://${http}/metrics`)).text();
    return metricValue(text, `tapwatch_collector_packets_total{source="udp:${port}",service="collect"}`) === 5 ? text : undefined;
  });
  expect((await fetch(`http://${http}/metrics`)).headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  // The wire length of the synthetic outer IPv4/UDP frame the datagram is decoded as: 28 bytes + the datagram.
  expect(metricValue(metrics, `tapwatch_collector_bytes_total{source="udp:${port}",service="collect"}`)).toBe(5 * (28 + datagram.length));
  expect(metrics).toMatch(/^# TYPE tapwatch_sink_retries_total counter$/m);
  expect(metrics).toMatch(/^# TYPE tapwatch_collector_decode_failures_total counter$/m);
  expect(metrics).toMatch(/^tapwatch_process_resident_memory_bytes/m);
  // The socket's receive-buffer drops, from /proc/net/udp: none at this pace.
  expect(metricValue(metrics, 'tapwatch_capture_dropped_packets_total{service="collect"}')).toBe(0);

  const healthy = await fetch(`http://${http}/healthz`);
  expect([healthy.status, await healthy.json()]).toEqual([200, { status: 'ok' }]);
  const degraded = await until('/healthz to say no traffic', async () => {
    const res = await fetch(`http://${http}/healthz`);
    return res.status === 503 ? ((await res.json()) as { status: string; reasons: string[] }) : undefined;
  }, { timeoutMs: 10_000 });
  expect(degraded.status).toBe('degraded');
  expect(degraded.reasons.join()).toMatch(/^no traffic for 3 intervals/);
  expect(await collect.stop()).toBe(0);
}, 30_000);

it('collect --http on an address it cannot bind: one error line, exit 1', async () => {
  const port = await freePort();
  const blocker = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const taken = (blocker.address() as { port: number }).port;
  const collect = track(new CliProcess('collect', ['collect', '--listen-udp', String(port), '--http', `127.0.0.1:${taken}`, '--out', join(dir, 'x.ndjson')]));
  expect(await collect.exited).toBe(1);
  blocker.close();
  expect(collect.stderr).not.toMatch(/\n\s+at /);
}, 30_000);

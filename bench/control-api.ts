// The control API under load: authenticated POST /v1/subscribers/{imsi}/update_speed_class, the
// call the analyzer's responder makes, alternating speed classes over 1,000 subscribers. The
// server (file database in a temp dir, enforcer none) runs in a child process so that autocannon
// does not share its event loop. Exits 1 if any response was not 2xx.
//
//   node dist/bench/control-api.js [--duration 10] [--connections 32] [--devices 1000]

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Result as LoadResult } from 'autocannon';
import Fastify from 'fastify';
import { pino } from 'pino';
import { SPEED_CLASSES } from '../control/model.js';
import { buildControlServer } from '../control/server.js';

const WARMUP_S = 2;
/** What issue 6 asks of the API on loopback. */
const TARGET_RPS = 5000;
const TARGET_P99_MS = 20;

interface Ready {
  url: string;
  headers: Record<string, string>;
  imsis: string[];
}

/** The child: a server with `devices` subscribers and a logged-in analyzer key, until told to stop. */
async function serve(devices: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-bench-control-'));
  // The bench measures the request path, not the limiter: one key sends everything.
  const server = await buildControlServer({ db: join(dir, 'control.db'), log: pino({ level: 'warn' }), rateLimit: { perSecond: 1e9, burst: 1e9 } });
  const rows = Array.from({ length: devices }, (_, i) => ({ ip: `10.128.${i >> 8}.${i & 255}`, id: `device-${i}`, imsi: String(440100000000000 + i) }));
  server.store.importDevices(rows, { actor: 'local' });
  const key = server.store.createKey('analyzer', 'bench');
  const login = (await server.app.inject({ method: 'POST', url: '/v1/auth', payload: key })).json();
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const ready: Ready = {
    url: `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`,
    headers: { 'x-soracom-api-key': login.apiKey, 'x-soracom-token': login.token, 'content-type': 'application/json' },
    imsis: rows.map((r) => r.imsi),
  };
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  process.send!(ready);
  await once(process, 'message');
  loop.disable();
  process.send!({ loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6, backgroundCheckpoints: server.store.backgroundCheckpoints });
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

/**
 * The floor, in the same run: fastify with the same route and body schema answering a fixed subscriber, with no
 * authentication, no rate limit, no database and no audit. tapwatch's figure over this one is what the product's
 * request path costs on top of the framework on this machine.
 */
async function serveFloor(): Promise<void> {
  const app = Fastify({ logger: false });
  const subscriber = { imsi: '440100000000000', imei: null, ipAddress: '10.128.0.0', status: 'active', speedClass: 's1.standard', groupId: null, operatorId: 'OP0000000001', tags: { name: 'device-0' }, createdTime: 0, lastModifiedTime: 0 };
  app.post('/v1/subscribers/:imsi/update_speed_class', {
    schema: { body: { type: 'object', required: ['speedClass'], additionalProperties: false, properties: { speedClass: { type: 'string', enum: SPEED_CLASSES } } } },
  }, async (req) => ({ ...subscriber, imsi: (req.params as { imsi: string }).imsi, speedClass: (req.body as { speedClass: string }).speedClass }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.send!({ url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, headers: { 'content-type': 'application/json' }, imsis: ['440100000000000'] } satisfies Ready);
  await once(process, 'message');
  process.send!({ loopP99Ms: 0, loopMaxMs: 0, backgroundCheckpoints: 0 });
  await app.close();
  process.exit(0);
}

interface Run {
  result: LoadResult;
  warm: LoadResult;
  server: { loopP99Ms: number; loopMaxMs: number; backgroundCheckpoints: number };
}

async function load(serveArgs: string[], duration: number, connections: number): Promise<Run> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), serveArgs, { stdio: 'inherit' });
  const [ready] = (await once(child, 'message')) as [Ready];
  // Bodies made once: the generator should cost as little as possible per request.
  const bodies = SPEED_CLASSES.map((speedClass) => JSON.stringify({ speedClass }));
  let n = 0;
  const cannon = (seconds: number) =>
    autocannon({
      url: ready.url,
      connections,
      duration: seconds,
      headers: ready.headers,
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const i = n++;
            return { ...req, path: `/v1/subscribers/${ready.imsis[i % ready.imsis.length]}/update_speed_class`, body: bodies[i % bodies.length] };
          },
        },
      ],
    });
  // Not measured: the first seconds run cold code (JIT) and open the connections.
  const warm = await cannon(WARMUP_S);
  const result = await cannon(duration);
  child.send('stop');
  const [server] = (await once(child, 'message')) as [Run['server']];
  await once(child, 'exit');
  return { result, warm, server };
}

async function bench(duration: number, connections: number, devices: number): Promise<number> {
  const { result, warm, server } = await load(['--serve', String(devices)], duration, connections);
  const floor = await load(['--serve-floor'], duration, connections);
  const total = result['2xx'] + result.non2xx;
  const ratio = (x: number, y: number) => (y > 0 ? (x / y).toFixed(2) : 'n/a');
  console.log(`POST /v1/subscribers/{imsi}/update_speed_class, ${connections} connections, ${result.duration} s after ${WARMUP_S} s of warm-up, ${devices} subscribers, enforcer none`);
  console.log(`  requests/s  ${Math.round(result.requests.average)} (mean), ${total} requests; ${ratio(result.requests.average, floor.result.requests.average)}x the floor's ${Math.round(floor.result.requests.average)}`);
  console.log(`  latency     p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms; floor p50 ${floor.result.latency.p50} ms, p99 ${floor.result.latency.p99} ms`);
  console.log(`  non-2xx     ${result.non2xx}${result.non2xx ? ` ${JSON.stringify(result.statusCodeStats)}` : ''}; errors ${result.errors}, timeouts ${result.timeouts}`);
  const met = result.requests.average >= TARGET_RPS && result.latency.p99 < TARGET_P99_MS;
  console.log(`  target      >= ${TARGET_RPS.toLocaleString('en-US')} requests/s with p99 < ${TARGET_P99_MS} ms: ${met ? 'met' : 'NOT met'}`);
  console.log(`  server      event-loop delay p99 ${server.loopP99Ms.toFixed(1)} ms, max ${server.loopMaxMs.toFixed(1)} ms; ${server.backgroundCheckpoints} WAL checkpoints in the background`);
  console.log('  floor: the same route and body schema on bare fastify, no auth, rate limit, database or audit (same run)');
  return result.non2xx + warm.non2xx > 0 || result.errors + warm.errors > 0 ? 1 : 0;
}

const { values, positionals } = parseArgs({
  options: { duration: { type: 'string' }, connections: { type: 'string' }, devices: { type: 'string' }, serve: { type: 'boolean' }, 'serve-floor': { type: 'boolean' } },
  allowPositionals: true,
});
if (values.serve) await serve(Number(positionals[0]));
else if (values['serve-floor']) await serveFloor();
else process.exitCode = await bench(Number(values.duration ?? 10), Number(values.connections ?? 32), Number(values.devices ?? 1000));

// The control API under load: authenticated POST /v1/subscribers/{imsi}/update_speed_class, the
// call the analyzer's responder makes, alternating speed classes over 1,000 subscribers; then the same
// while 512 connections flood POST /v1/auth with bad logins (issue 11), with a legitimate login every
// second from another address (127.0.0.2: the attacker is another host); and the bare-fastify floor.
// Servers run in child processes (file database in a temp dir, enforcer none) so that autocannon does
// not share their event loop. Exits 1 if any action was not answered 2xx.
//
//   node dist/bench/control-api.js [--duration 10] [--connections 32] [--devices 1000] [--attack 512] [--json] [--no-floor]
//
// --json prints one JSON object (the figures below) instead of the text; test/control-login-attack.test.ts
// runs it that way, shorter.

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Result as LoadResult } from 'autocannon';
import Fastify from 'fastify';
import { pino } from 'pino';
import { SPEED_CLASSES, type NewAuthKey } from '../contracts/control-api.js';
import { buildControlServer } from '../control/server.js';

const WARMUP_S = 2;
/** What issue 6 asks of the API on loopback. */
const TARGET_RPS = 5000;
const TARGET_P99_MS = 20;
/** What issue 11 asks under a flood of bad logins. */
const TARGET_ATTACK_SHARE = 0.5;
const TARGET_LOGIN_MS = 1000;
/** A login a second: what the per-address login limit allows (login-guard.ts); a real client logs in once a day. */
const LEGIT_LOGIN_EVERY_MS = 1000;
/** The legitimate client's source address: on loopback, another host as far as the server can tell. */
const LEGIT_ADDRESS = '127.0.0.2';
/** The flood starts this long before the measurement under attack. */
const ATTACK_LEAD_S = 1;

interface Ready {
  url: string;
  headers: Record<string, string>;
  imsis: string[];
  /** A key for the legitimate logins made during the attack. */
  legit?: NewAuthKey;
}

interface ServerStats {
  loopP99Ms: number;
  loopMaxMs: number;
  backgroundCheckpoints: number;
  /** POST /v1/auth requests the server received, answered or still held in the tarpit at the end. */
  loginRequests: number;
}

/** The child: a server with `devices` subscribers and a logged-in analyzer key, until told to stop. */
async function serve(devices: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-bench-control-'));
  // The per-key rate limit is lifted: the bench measures the request path, and one key sends everything. The
  // login limits (per address, per authKeyId, scrypts at once) are the defaults: they are what is under test.
  const server = await buildControlServer({ db: join(dir, 'control.db'), create: true, log: pino({ level: 'warn' }), rateLimit: { perSecond: 1e9, burst: 1e9 } });
  const rows = Array.from({ length: devices }, (_, i) => ({ ip: `10.128.${i >> 8}.${i & 255}`, id: `device-${i}`, imsi: String(440100000000000 + i) }));
  server.store.importDevices(rows, { actor: 'local' });
  const key = server.store.createKey('analyzer', 'bench');
  const login = (await server.app.inject({ method: 'POST', url: '/v1/auth', payload: key })).json();
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const ready: Ready = {
    url: `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`,
    headers: { 'x-soracom-api-key': login.apiKey, 'x-soracom-token': login.token, 'content-type': 'application/json' },
    imsis: rows.map((r) => r.imsi),
    legit: server.store.createKey('operator', 'bench legit login'),
  };
  let loginRequests = 0;
  server.app.server.on('request', (req) => {
    if (req.url === '/v1/auth') loginRequests++;
  });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  process.send!(ready);
  await once(process, 'message');
  loop.disable();
  process.send!({ loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6, backgroundCheckpoints: server.store.backgroundCheckpoints, loginRequests } satisfies ServerStats);
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
  process.send!({ loopP99Ms: 0, loopMaxMs: 0, backgroundCheckpoints: 0, loginRequests: 0 } satisfies ServerStats);
  await app.close();
  process.exit(0);
}

/** Authenticated actions over every subscriber, alternating speed classes; bodies made once. */
function actions(ready: Ready, connections: number, seconds: number): Promise<LoadResult> {
  const bodies = SPEED_CLASSES.map((speedClass) => JSON.stringify({ speedClass }));
  let n = 0;
  return autocannon({
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
}

/** Bad logins as fast as `connections` connections get answers: unknown authKeyIds, wrong authKeys. */
function badLogins(url: string, connections: number, seconds: number): Promise<LoadResult> {
  let n = 0;
  return autocannon({
    url,
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json' },
    requests: [{ method: 'POST', path: '/v1/auth', setupRequest: (req) => ({ ...req, body: JSON.stringify({ authKeyId: `keyId-guess-${n++}`, authKey: 'secret-guess' }) }) }],
  });
}

/** This file run as a child with `args`, loaded and waiting: go() starts it and resolves with what it reports. */
async function inChild<T>(args: string[]): Promise<{ go(): Promise<T> }> {
  const c = fork(fileURLToPath(import.meta.url), args, { stdio: 'inherit' });
  await once(c, 'message'); // loaded
  return {
    async go() {
      c.send('go');
      const [result] = (await once(c, 'message')) as [T];
      await once(c, 'exit');
      return result;
    },
  };
}

/** In a child: says it is loaded, waits to be told to go, runs `work`, sends what it returns. */
async function childRun(work: () => Promise<unknown>): Promise<void> {
  process.send!('loaded');
  await once(process, 'message');
  process.send!(await work());
  process.disconnect();
}

/** A login every LEGIT_LOGIN_EVERY_MS for `seconds`: what each answered and how long it took. */
async function legitLogins(url: string, key: NewAuthKey, seconds: number): Promise<Array<{ status: number; ms: number }>> {
  const out: Array<{ status: number; ms: number }> = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    out.push(await legitLogin(url, key));
    await new Promise((r) => setTimeout(r, LEGIT_LOGIN_EVERY_MS));
  }
  return out;
}

/** One login from LEGIT_ADDRESS: its status and how long it took, in ms. */
function legitLogin(url: string, key: NewAuthKey): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const body = JSON.stringify(key);
  return new Promise((resolve) => {
    const { hostname, port } = new URL(url);
    const req = request({ host: hostname, port, path: '/v1/auth', method: 'POST', localAddress: LEGIT_ADDRESS, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end(body);
  });
}

async function child(args: string[]): Promise<{ ready: Ready; stop(): Promise<ServerStats> }> {
  const c: ChildProcess = fork(fileURLToPath(import.meta.url), args, { stdio: 'inherit' });
  const [ready] = (await once(c, 'message')) as [Ready];
  return {
    ready,
    async stop() {
      c.send('stop');
      const [stats] = (await once(c, 'message')) as [ServerStats];
      await once(c, 'exit');
      return stats;
    },
  };
}

interface Figures {
  actions: { rps: number; p50: number; p99: number; max: number; requests: number; non2xx: number; errors: number };
  /** Bare fastify, same route and schema (null with --no-floor). */
  floor: { rps: number; p50: number; p99: number } | null;
  attack: {
    connections: number;
    actions: { rps: number; p99: number; non2xx: number; errors: number };
    /** Action throughput under attack over alone. */
    share: number;
    badLogins: { answered: number; byStatus: Record<string, number>; errors: number; timeouts: number };
    legitLogins: { made: number; ok: number; maxMs: number; p50Ms: number; ms: number[] };
  } | null;
  server: ServerStats;
  met: { actions: boolean; attack: boolean | null };
}

const fig = (r: LoadResult) => ({ rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99 });

async function bench(duration: number, connections: number, devices: number, attack: number, withFloor: boolean): Promise<{ figures: Figures; warmErrors: number }> {
  const server = await child(['--serve', String(devices)]);
  // Not measured: the first seconds run cold code (JIT) and open the connections.
  const warm = await actions(server.ready, connections, WARMUP_S);
  const alone = await actions(server.ready, connections, duration);
  let underAttack: Figures['attack'] = null;
  if (attack > 0) {
    // The flood and the legitimate client each run in a process of their own, as they would on their hosts: neither
    // shares the action load's event loop, so what is measured is the server. Both are loaded before anything starts
    // (loading a process is not the attack), and the flood runs a second before the measurement begins, so the
    // measurement sees it in full swing.
    const flooding = await inChild<LoadResult>(['--attack-child', server.ready.url, String(attack), String(duration + ATTACK_LEAD_S)]);
    const client = await inChild<Array<{ status: number; ms: number }>>(['--legit-child', server.ready.url, JSON.stringify(server.ready.legit), String(duration)]);
    const flooded = flooding.go();
    await new Promise((r) => setTimeout(r, ATTACK_LEAD_S * 1000));
    const [acts, legit] = await Promise.all([actions(server.ready, connections, duration), client.go()]);
    const flood = await flooded;
    const ms = legit.map((l) => l.ms).sort((a, b) => a - b);
    underAttack = {
      connections: attack,
      actions: { ...fig(acts), non2xx: acts.non2xx, errors: acts.errors },
      share: alone.requests.average > 0 ? acts.requests.average / alone.requests.average : 0,
      badLogins: { answered: flood['2xx'] + flood.non2xx, byStatus: Object.fromEntries(Object.entries(flood.statusCodeStats).map(([s, c]) => [s, c.count])), errors: flood.errors, timeouts: flood.timeouts },
      legitLogins: { made: legit.length, ok: legit.filter((l) => l.status === 200).length, maxMs: Math.round(ms.at(-1) ?? 0), p50Ms: Math.round(ms[Math.floor(ms.length / 2)] ?? 0), ms: legit.map((l) => Math.round(l.ms)) },
    };
  }
  const stats = await server.stop();
  let floor: LoadResult | null = null;
  if (withFloor) {
    const floorServer = await child(['--serve-floor']);
    floor = await actions(floorServer.ready, connections, duration);
    await floorServer.stop();
  }
  const figures: Figures = {
    actions: { ...fig(alone), max: alone.latency.max, requests: alone['2xx'] + alone.non2xx, non2xx: alone.non2xx, errors: alone.errors },
    floor: floor ? fig(floor) : null,
    attack: underAttack,
    server: stats,
    met: {
      actions: alone.requests.average >= TARGET_RPS && alone.latency.p99 < TARGET_P99_MS,
      attack: underAttack && underAttack.share >= TARGET_ATTACK_SHARE && underAttack.legitLogins.made > 0 && underAttack.legitLogins.ok === underAttack.legitLogins.made && underAttack.legitLogins.maxMs < TARGET_LOGIN_MS,
    },
  };
  return { figures, warmErrors: warm.non2xx + warm.errors };
}

function report(f: Figures, duration: number, connections: number, devices: number): void {
  const ratio = (x: number, y: number) => (y > 0 ? (x / y).toFixed(2) : 'n/a');
  const metText = (m: boolean | null) => (m ? 'met' : 'NOT met');
  console.log(`POST /v1/subscribers/{imsi}/update_speed_class, ${connections} connections, ${duration} s after ${WARMUP_S} s of warm-up, ${devices} subscribers, enforcer none`);
  const floor = f.floor ?? { rps: 0, p50: 0, p99: 0 };
  console.log(`  requests/s  ${f.actions.rps} (mean), ${f.actions.requests} requests; ${ratio(f.actions.rps, floor.rps)}x the floor's ${floor.rps}`);
  console.log(`  latency     p50 ${f.actions.p50} ms, p99 ${f.actions.p99} ms, max ${f.actions.max} ms; floor p50 ${floor.p50} ms, p99 ${floor.p99} ms`);
  console.log(`  non-2xx     ${f.actions.non2xx}; errors ${f.actions.errors}`);
  console.log(`  target      >= ${TARGET_RPS.toLocaleString('en-US')} requests/s with p99 < ${TARGET_P99_MS} ms: ${metText(f.met.actions)}`);
  console.log(`  server      event-loop delay p99 ${f.server.loopP99Ms.toFixed(1)} ms, max ${f.server.loopMaxMs.toFixed(1)} ms; ${f.server.backgroundCheckpoints} WAL checkpoints in the background`);
  console.log('  floor: the same route and body schema on bare fastify, no auth, rate limit, database or audit (same run)');
  const a = f.attack;
  if (!a) return;
  console.log(`under attack: ${a.connections} connections of bad logins (unknown authKeyIds), from ${ATTACK_LEAD_S} s before the ${duration} s measured, on the same server`);
  console.log(`  actions     ${a.actions.rps} requests/s (${Math.round(a.share * 100)}% of the ${f.actions.rps} alone), p99 ${a.actions.p99} ms; non-2xx ${a.actions.non2xx}, errors ${a.actions.errors}`);
  console.log(`  bad logins  ${f.server.loginRequests} received, ${a.badLogins.answered} answered ${JSON.stringify(a.badLogins.byStatus)} (the rest held in the tarpit at the end); errors ${a.badLogins.errors}, timeouts ${a.badLogins.timeouts}`);
  console.log(`  legit login ${a.legitLogins.ok} of ${a.legitLogins.made} succeeded from ${LEGIT_ADDRESS}, one every ${LEGIT_LOGIN_EVERY_MS} ms: p50 ${a.legitLogins.p50Ms} ms, max ${a.legitLogins.maxMs} ms`);
  console.log(`  target      actions keep >= ${TARGET_ATTACK_SHARE * 100}% and every legit login succeeds within ${TARGET_LOGIN_MS} ms: ${metText(f.met.attack)}`);
}

const { values, positionals } = parseArgs({
  options: {
    duration: { type: 'string' },
    connections: { type: 'string' },
    devices: { type: 'string' },
    attack: { type: 'string' },
    json: { type: 'boolean' },
    'no-floor': { type: 'boolean' },
    serve: { type: 'boolean' },
    'serve-floor': { type: 'boolean' },
    'attack-child': { type: 'boolean' },
    'legit-child': { type: 'boolean' },
  },
  allowPositionals: true,
});
if (values.serve) await serve(Number(positionals[0]));
else if (values['serve-floor']) await serveFloor();
else if (values['attack-child']) {
  const [url, connections, seconds] = positionals;
  await childRun(async () => {
    const r = await badLogins(url, Number(connections), Number(seconds));
    return { '2xx': r['2xx'], non2xx: r.non2xx, statusCodeStats: r.statusCodeStats, errors: r.errors, timeouts: r.timeouts };
  });
} else if (values['legit-child']) {
  const [url, key, seconds] = positionals;
  await childRun(() => legitLogins(url, JSON.parse(key) as NewAuthKey, Number(seconds)));
}
else {
  const [duration, connections, devices, attack] = [values.duration ?? 10, values.connections ?? 32, values.devices ?? 1000, values.attack ?? 512].map(Number);
  const { figures, warmErrors } = await bench(duration, connections, devices, attack, !values['no-floor']);
  if (values.json) console.log(JSON.stringify(figures));
  else report(figures, duration, connections, devices);
  const attackErrors = figures.attack ? figures.attack.actions.non2xx + figures.attack.actions.errors : 0;
  process.exitCode = figures.actions.non2xx + figures.actions.errors + warmErrors + attackErrors > 0 ? 1 : 0;
}

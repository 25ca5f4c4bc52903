// The nftables enforcer on a real (namespaced) gateway, checked with real traffic:
//
//   dev 10.128.0.10, .11 ── 10.128.0.1 gw 198.51.100.1 ── 198.51.100.10 far
//                                         192.0.2.1    ── 192.0.2.10 quar (also answers as 198.51.100.10)
//
// Echo servers in far and quar answer with their own name, so a probe tells who got the device's packets;
// downlink rules are checked one way, from far to a sink on the device. Every test starts from the same
// store (both devices active, full speed, no group) reconciled onto the gateway, so none depends on another.
// Needs root, iproute2 and nftables (.ci/run installs them): without them this FAILS, never skips.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NftEnforcer } from '../control/enforcement/nft.js';
import { buildControlServer } from '../control/server.js';
import { Store } from '../control/store.js';
import { loginHeaders } from './helpers/control-login.js';
import { isQuarantineMark, QUARANTINE_RULE_PREF } from '../control/enforcement/nft-ruleset.js';
import { SPEED_CLASS_KBPS, type EnforcementState, type Group, type Subscriber } from '../control/model.js';
import { createNetnsTopology, requireNetnsPrivilege, startUdpEcho, udpProbe, udpThroughput, type NetnsTopology } from './helpers/netns.js';

const FAR = '198.51.100.10';
const QUAR_GW = '192.0.2.10';
const ECHO = 7007;
const SINK = 7008;
const PROBES = 5;

const log = pino({ level: 'silent' });
let net: NetnsTopology;
let gw: string;
let dev: string;
let enforcer: NftEnforcer;

function subscriber(ip: string | null, imsi: string, over: Partial<Subscriber> = {}): Subscriber {
  return { imsi, imei: null, ipAddress: ip, status: 'active', speedClass: 's1.8xfast', groupId: null, operatorId: 'OP0000000001', tags: {}, createdTime: 0, lastModifiedTime: 0, ...over };
}

const quarantineGroup = (gateway: string): Group => ({
  groupId: 'quarantine',
  operatorId: 'OP0000000001',
  tags: {},
  configuration: { tapwatch: { quarantine: true, redirectGateway: gateway } },
  createdTime: 0,
  lastModifiedTime: 0,
});

// The store, as each test changes it from the same start (beforeEach). Beside the two live devices:
// IPv6 ones (so nft accepts the IPv6 rules for real) and one without an address (skipped).
let d10: Subscriber;
let d11: Subscriber;
let groups: Group[];
const others = [
  subscriber('2001:db8::20', '001010000000020', { status: 'inactive' }),
  subscriber('2001:db8::21', '001010000000021', { speedClass: 's1.slow' }),
  subscriber(null, '001010000000022'),
];
const state = (): EnforcementState => ({ subscribers: [d10, d11, ...others], groups });

const probe = (from: string): Record<string, number> => udpProbe(net, dev, { from, to: FAR, port: ECHO, count: PROBES });
/** Payload bytes/s that reach a device from the far end, one way (what a downlink rule decides). */
const downlink = (to: string, offered: number, ms = 1500): Promise<number> => udpThroughput(net, { fromNs: net.ns.far, from: FAR, toNs: dev, to, port: SINK, ms, offered });

/** The table as nft lists it, without handles (new on every replacement) and nft's own metainfo. */
function listTable(): unknown {
  const j = JSON.parse(net.exec(gw, 'nft', ['-j', 'list', 'table', 'inet', 'tapwatch'])) as { nftables: object[] };
  return JSON.parse(JSON.stringify(j.nftables.filter((o) => !('metainfo' in o))), (k: string, v: unknown) => (k === 'handle' ? undefined : v));
}

/** The enforcer's policy routing: its ip rules and the routes in its tables. */
function policyRouting(): { rules: unknown[]; routes: unknown[] } {
  const rules = (JSON.parse(net.exec(gw, 'ip', ['-j', 'rule', 'show'])) as Array<{ priority: number }>).filter((r) => r.priority === QUARANTINE_RULE_PREF);
  const routes = (JSON.parse(net.exec(gw, 'ip', ['-j', 'route', 'show', 'table', 'all'])) as Array<{ table?: string }>).filter((r) => isQuarantineMark(Number(r.table)));
  return { rules, routes };
}

beforeAll(async () => {
  requireNetnsPrivilege();
  try {
    execFileSync('nft', ['--version'], { stdio: 'pipe' });
  } catch {
    throw new Error('nft not found: the nftables enforcer tests need nftables (apt-get install nftables; .ci/run installs it)');
  }
  net = createNetnsTopology({
    mtu: 1500,
    namespaces: ['dev', 'gw', 'far', 'quar'],
    links: [
      { a: 'dev', b: 'gw', addrA: '10.128.0.10/24', addrB: '10.128.0.1/24' },
      { a: 'gw', b: 'far', addrA: '198.51.100.1/24', addrB: `${FAR}/24` },
      { a: 'gw', b: 'quar', addrA: '192.0.2.1/24', addrB: `${QUAR_GW}/24` },
    ],
  });
  ({ gw, dev } = net.ns);
  const ip = (ns: string, ...args: string[]): string => net.exec(ns, 'ip', args);
  ip(dev, 'addr', 'add', '10.128.0.11/24', 'dev', net.links[0].a.iface);
  ip(dev, 'route', 'add', 'default', 'via', '10.128.0.1');
  net.exec(gw, 'sh', ['-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  ip(net.ns.far, 'route', 'add', 'default', 'via', '198.51.100.1');
  // The quarantine host answers for the far end's address too, as a captive portal would.
  ip(net.ns.quar, 'addr', 'add', `${FAR}/32`, 'dev', 'lo');
  ip(net.ns.quar, 'route', 'add', 'default', 'via', '192.0.2.1');
  await startUdpEcho(net, net.ns.far, { bind: FAR, port: ECHO, name: 'far' });
  await startUdpEcho(net, net.ns.quar, { bind: FAR, port: ECHO, name: 'quar' });
  enforcer = new NftEnforcer({ netns: gw, log });
});

afterAll(async () => {
  await enforcer?.close();
  net?.destroy();
});

beforeEach(async () => {
  d10 = subscriber('10.128.0.10', '001010000000010');
  d11 = subscriber('10.128.0.11', '001010000000011');
  groups = [quarantineGroup(QUAR_GW)];
  await enforcer.reconcile(state());
});

describe('NftEnforcer on a namespaced gateway', () => {
  it('lets both devices reach the far end', async () => {
    expect(probe('10.128.0.10')).toEqual({ far: PROBES });
    expect(probe('10.128.0.11')).toEqual({ far: PROBES });
  });

  it('blocks a deactivated device, not the other, and lets it through again once activated', async () => {
    d10 = { ...d10, status: 'inactive' };
    await enforcer.apply(d10, { type: 'deactivate' }, state);
    expect(probe('10.128.0.10')).toEqual({});
    expect(probe('10.128.0.11')).toEqual({ far: PROBES });

    d10 = { ...d10, status: 'active' };
    await enforcer.apply(d10, { type: 'activate' }, state);
    expect(probe('10.128.0.10')).toEqual({ far: PROBES });
  });

  it('blocks a deactivated device downlink too: nothing from the far end reaches it, the other still gets its traffic', async () => {
    d10 = { ...d10, status: 'inactive' };
    await enforcer.apply(d10, { type: 'deactivate' }, state);
    expect(await downlink('10.128.0.10', 100_000)).toBe(0);
    expect(await downlink('10.128.0.11', 100_000)).toBeGreaterThan(50_000);
  });

  it('sends a quarantined device to the redirect gateway; the other still reaches the far end', async () => {
    d10 = { ...d10, groupId: 'quarantine' };
    await enforcer.apply(d10, { type: 'set_group', groupId: 'quarantine' }, state);
    expect(probe('10.128.0.10')).toEqual({ quar: PROBES });
    expect(probe('10.128.0.11')).toEqual({ far: PROBES });
    const { rules, routes } = policyRouting();
    expect(rules).toHaveLength(1);
    expect(routes).toMatchObject([{ dst: 'default', gateway: QUAR_GW }]);
  });

  it('throttles a device to its speed class', async () => {
    const classRate = (SPEED_CLASS_KBPS['s1.minimum'] * 1000) / 8; // bytes/s
    const measure = (): Promise<number> =>
      udpThroughput(net, { fromNs: dev, from: '10.128.0.11', toNs: net.ns.far, to: FAR, port: SINK, ms: 1500, offered: 400_000 });
    const unthrottled = await measure();

    d11 = { ...d11, speedClass: 's1.minimum' };
    await enforcer.apply(d11, { type: 'update_speed_class', speedClass: 's1.minimum' }, state);
    const throttled = await measure();
    // The class rate counts whole IP packets and the bucket starts full (one second's worth): what
    // arrives in 1.5 s is at most ~1.7x the rate; comfortably more than half of it gets through.
    expect(throttled).toBeLessThan(2 * classRate);
    expect(throttled).toBeGreaterThan(0.5 * classRate);
    expect(unthrottled).toBeGreaterThan(25 * classRate);
  });

  it('throttles a device downlink to its speed class as well', async () => {
    const classRate = (SPEED_CLASS_KBPS['s1.minimum'] * 1000) / 8;
    const unthrottled = await downlink('10.128.0.11', 400_000);
    d11 = { ...d11, speedClass: 's1.minimum' };
    await enforcer.apply(d11, { type: 'update_speed_class', speedClass: 's1.minimum' }, state);
    const throttled = await downlink('10.128.0.11', 400_000);
    expect(throttled).toBeLessThan(2 * classRate);
    expect(throttled).toBeGreaterThan(0.5 * classRate);
    expect(unthrottled).toBeGreaterThan(25 * classRate);
  });

  it('renders once for all calls that wait behind an apply in flight', async () => {
    const calls = [0, 0, 0, 0];
    const counted = (i: number) => (): EnforcementState => {
      calls[i]++;
      return state();
    };
    const first = enforcer.apply(d10, { type: 'activate' }, counted(0));
    await new Promise((r) => setImmediate(r)); // the first batch is running now
    const rest = [1, 2, 3].map((i) => enforcer.apply(d10, { type: 'activate' }, counted(i)));
    await Promise.all([first, ...rest]);
    // The waiting batch reads the newest caller's state, once.
    expect(calls).toEqual([1, 0, 0, 1]);
  });

  it('leaves the table alone for an apply that changes nothing; reconcile replaces it all the same', async () => {
    const tableHandle = (): number => {
      const j = JSON.parse(net.exec(gw, 'nft', ['-j', 'list', 'table', 'inet', 'tapwatch'])) as { nftables: Array<{ table?: { handle: number } }> };
      return j.nftables.find((o) => o.table)!.table!.handle; // a new one each time the table is replaced
    };
    const before = tableHandle();
    await enforcer.apply(d11, { type: 'update_speed_class', speedClass: d11.speedClass }, state);
    expect(tableHandle()).toBe(before);
    await enforcer.reconcile(state());
    expect(tableHandle()).not.toBe(before);
  });

  it('reconciles a new enforcer to the same ruleset, twice alike, and removes a removed group\'s routes', async () => {
    d10 = { ...d10, groupId: 'quarantine' };
    d11 = { ...d11, speedClass: 's1.minimum' };
    await enforcer.reconcile(state());
    const applied = listTable();
    const routing = policyRouting();
    const fresh = new NftEnforcer({ netns: gw, log });
    await fresh.reconcile(state());
    expect(listTable()).toEqual(applied);
    await fresh.reconcile(state());
    expect(listTable()).toEqual(applied);
    expect(policyRouting()).toEqual(routing);

    groups = []; // the quarantine group is gone: .10's groupId names nothing now
    await fresh.reconcile(state());
    expect(policyRouting()).toEqual({ rules: [], routes: [] });
    expect(probe('10.128.0.10')).toEqual({ far: PROBES });
    await fresh.close();
  });

  it('a quarantine group whose route cannot be installed has its members blocked, and an unrelated block still applies', async () => {
    // Issue 11: 203.0.113.1 is on no link of the gateway, so `ip route replace … via 203.0.113.1` fails;
    // that once dropped the whole batch, and a later block of an unrelated device never reached the gateway.
    groups = [quarantineGroup('203.0.113.1')];
    d10 = { ...d10, groupId: 'quarantine' };
    d11 = { ...d11, status: 'inactive' };
    const report = await enforcer.apply(d11, { type: 'deactivate' }, state);
    expect(report.notEnforced).toEqual([{ groupId: 'quarantine', reason: expect.stringMatching(/^the route via 203\.0\.113\.1 could not be installed \(`ip .*route replace default via 203\.0\.113\.1.*` failed .*\): its members are blocked instead of quarantined$/) }]);
    expect(report.retry).toBe(true);
    expect(probe('10.128.0.11')).toEqual({}); // the unrelated block is in force
    expect(probe('10.128.0.10')).toEqual({}); // the quarantined device is blocked, not left open
    expect(policyRouting()).toEqual({ rules: [], routes: [] });

    // Once the group's gateway can be routed to, the next reconcile quarantines as asked.
    groups = [quarantineGroup(QUAR_GW)];
    expect((await enforcer.reconcile(state())).notEnforced).toEqual([]);
    expect(probe('10.128.0.10')).toEqual({ quar: PROBES });
    expect(probe('10.128.0.11')).toEqual({});
  });

  it('blocks a device stored in IPv4-mapped form on its IPv4 traffic', async () => {
    d10 = { ...d10, ipAddress: '::ffff:10.128.0.10', status: 'inactive' };
    await enforcer.apply(d10, { type: 'deactivate' }, state);
    expect(probe('10.128.0.10')).toEqual({});
    expect(probe('10.128.0.11')).toEqual({ far: PROBES });
  });

  it('fails saying why when nothing can be enforced (no such namespace)', async () => {
    // No quarantine group, so nft is the first command to run.
    const elsewhere = new NftEnforcer({ netns: `${gw}-missing`, log });
    await expect(elsewhere.reconcile({ subscribers: state().subscribers, groups: [] })).rejects.toThrow(/nft -f -.* failed .*: .*network namespace/);
    await elsewhere.close();
  });

  it('counts the live entries, and a control server with an empty database refuses to replace them', async () => {
    d10 = { ...d10, status: 'inactive' };
    d11 = { ...d11, speedClass: 's1.minimum' };
    await enforcer.reconcile(state());
    const fresh = new NftEnforcer({ netns: gw, log });
    expect(await fresh.liveEntries()).toBe(6); // blocked: .10 and 2001:db8::20; throttled both ways: .11 and 2001:db8::21
    const dir = mkdtempSync(join(tmpdir(), 'tapwatch-nft-empty-'));
    try {
      await expect(buildControlServer({ db: join(dir, 'wrong.db'), create: true, enforcer: fresh })).rejects.toMatchObject({ code: 'TWE0003' });
      expect(probe('10.128.0.10')).toEqual({}); // still blocked
      expect(await new NftEnforcer({ netns: gw, table: 'tapwatch_none', log }).liveEntries()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says so when nft is not installed', async () => {
    // A PATH with ip and nothing else: `ip netns exec` finds no nft to run.
    const bin = mkdtempSync(join(tmpdir(), 'tapwatch-nonft-'));
    symlinkSync(execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim(), join(bin, 'ip'));
    const path = process.env.PATH;
    process.env.PATH = bin;
    try {
      await expect(new NftEnforcer({ netns: gw, log }).reconcile({ subscribers: state().subscribers, groups: [] })).rejects.toThrow(/nft not found: .*apt-get install nftables/);
    } finally {
      process.env.PATH = path;
      rmSync(bin, { recursive: true, force: true });
    }
  });
});

describe('the control API over the namespaced gateway', () => {
  it('a bad quarantine gateway leaves the unrelated device blockable: enforced true for it, false (and why) for the group', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwatch-nft-server-'));
    const db = join(dir, 'control.db');
    const seed = Store.open(db, { create: true });
    seed.importDevices([{ ip: '10.128.0.10', id: 'd10', imsi: '001010000000010' }, { ip: '10.128.0.11', id: 'd11', imsi: '001010000000011' }], { actor: 'local' });
    seed.createGroup({ groupId: 'quarantine' }, { actor: 'local' });
    seed.close();
    const server = await buildControlServer({ db, enforcer: new NftEnforcer({ netns: gw, log }), enforcementRetry: { initialMs: 60_000, maxMs: 60_000 } });
    try {
      const headers = await loginHeaders(server, 'operator');
      const call = (method: 'POST' | 'PUT', url: string, payload?: object) => server.app.inject({ method, url, headers, payload });
      const configured = await call('PUT', '/v1/groups/quarantine/configuration/tapwatch', { quarantine: true, redirectGateway: '203.0.113.1' });
      expect(configured.statusCode).toBe(200);
      expect(configured.headers['x-tapwatch-enforced']).toBe('false');
      const moved = await call('POST', '/v1/subscribers/001010000000010/set_group', { groupId: 'quarantine' });
      expect(moved.headers['x-tapwatch-enforced']).toBe('false');
      expect(moved.headers['x-tapwatch-not-enforced']).toMatch(/^group quarantine: the route via 203\.0\.113\.1 could not be installed .*: its members are blocked instead of quarantined/);
      const blocked = await call('POST', '/v1/subscribers/001010000000011/deactivate');
      expect(blocked.statusCode).toBe(200);
      expect(blocked.headers['x-tapwatch-enforced']).toBe('true');
      expect(probe('10.128.0.11')).toEqual({}); // the unrelated device's traffic stops
      expect(probe('10.128.0.10')).toEqual({});
      const health = (await server.app.inject({ url: '/healthz', headers })).json();
      expect(health).toMatchObject({ status: 'degraded', enforcer: { healthy: true, notEnforcedTotal: 1, notEnforced: [{ groupId: 'quarantine' }] } });
      expect((await server.app.inject('/healthz')).json()).toEqual({ status: 'degraded' });
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

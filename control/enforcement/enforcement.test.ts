// The enforcement runner: calls never overlap, changes arriving meanwhile are coalesced into one
// batch reading the state once, a failure still answers (false) and is repaired by a reconcile
// retried with backoff; and through the server: 200 even when enforcement failed, said in a
// header, /healthz and /metrics.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { EnforcementRunner } from './enforcement.js';
import { differences } from './upstream.js';
import { controlMetrics } from '../metrics.js';
import type { EnforcementReport, EnforcementState, Enforcer, Subscriber, SubscriberAction } from '../model.js';
import { buildControlServer } from '../server.js';
import { Store } from '../store.js';
import { loginHeaders } from '../../test/helpers/control-login.js';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'tapwatch-enforcement-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An enforcer that records what it is asked, can be held at a gate, and fails while told to. */
class ScriptedEnforcer implements Enforcer {
  readonly name = 'scripted';
  calls: string[] = [];
  reconciled: EnforcementState[] = [];
  failures = 0; // the next this-many calls throw
  inFlight = 0;
  maxInFlight = 0;
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = null;
  }

  async apply(s: Subscriber, a: SubscriberAction, state: () => EnforcementState): Promise<EnforcementReport | void> {
    await this.enter(`${s.imsi} ${a.type}${a.type === 'update_speed_class' ? ` ${a.speedClass}` : ''}`);
    state();
  }

  async reconcile(state: EnforcementState): Promise<EnforcementReport | void> {
    await this.enter('reconcile');
    this.reconciled.push(state);
  }

  async close(): Promise<void> {}

  private async enter(call: string): Promise<void> {
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      if (this.failures > 0) {
        this.failures--;
        throw new Error(`scripted failure of ${call}`);
      }
    } finally {
      this.inFlight--;
    }
  }
}

const sub = (imsi: string, speedClass: Subscriber['speedClass'] = 's1.8xfast'): Subscriber => ({
  imsi,
  imei: null,
  ipAddress: null,
  status: 'active',
  speedClass,
  groupId: null,
  operatorId: 'OP0000000001',
  tags: {},
  createdTime: 0,
  lastModifiedTime: 0,
});
const speed = (speedClass: Subscriber['speedClass']): SubscriberAction => ({ type: 'update_speed_class', speedClass });

describe('EnforcementRunner', () => {
  it('coalesces what arrives during a call: one batch, latest change per subscriber and field, state read once', async () => {
    const enforcer = new ScriptedEnforcer();
    let stateReads = 0;
    const runner = new EnforcementRunner(enforcer, () => (stateReads++, { subscribers: [], groups: [] }), silent, controlMetrics());
    enforcer.hold();
    const first = runner.apply(sub('1'), speed('s1.slow'));
    await sleep(5);
    const queued = [
      runner.apply(sub('1'), speed('s1.minimum')),
      runner.apply(sub('1'), speed('s1.fast')),
      runner.apply(sub('1'), { type: 'deactivate' }),
      runner.apply(sub('2'), speed('s1.slow')),
      runner.apply(sub('1'), { type: 'activate' }), // undoes the deactivate: only it is applied
      runner.apply(sub('2'), { type: 'set_group', groupId: 'quarantine' }),
      runner.apply(sub('2'), { type: 'unset_group' }),
    ];
    enforcer.release();
    expect((await Promise.all([first, ...queued])).map((e) => e.enforced)).toEqual(Array(8).fill(true));
    expect(enforcer.calls).toEqual(['1 update_speed_class s1.slow', '1 update_speed_class s1.fast', '1 activate', '2 update_speed_class s1.slow', '2 unset_group']);
    expect(enforcer.maxInFlight).toBe(1);
    expect(stateReads).toBe(2); // one per batch, however many calls in it read it
    await runner.close();
  });

  it('a failure resolves false, is counted, and a reconcile retried with backoff repairs it', async () => {
    const enforcer = new ScriptedEnforcer();
    const metrics = controlMetrics();
    const runner = new EnforcementRunner(enforcer, () => ({ subscribers: [sub('1')], groups: [] }), silent, metrics, { initialMs: 20, maxMs: 1000 });
    enforcer.failures = 2; // the apply, and the first reconcile
    expect(await runner.apply(sub('1'), { type: 'deactivate' })).toEqual({ enforced: false, reasons: ['subscriber 1: the enforcer failed: scripted failure of 1 deactivate'] });
    expect(runner.status()).toMatchObject({ healthy: false, lastError: 'scripted failure of 1 deactivate' });
    await expect.poll(() => enforcer.calls, { timeout: 2000 }).toEqual(['1 deactivate', 'reconcile', 'reconcile']);
    await expect.poll(() => runner.status().healthy).toBe(true);
    expect(runner.enforcementOf(sub('1'))).toEqual({ enforced: true, reasons: [] });
    expect(enforcer.reconciled).toEqual([{ subscribers: [sub('1')], groups: [] }]);
    expect(metrics.enforcementFailures.get(['scripted', 'apply'])).toBe(1);
    expect(metrics.enforcementFailures.get(['scripted', 'reconcile'])).toBe(1);
    await runner.close();
  });

  it('a reconcile queued behind a call covers the changes queued with it', async () => {
    const enforcer = new ScriptedEnforcer();
    const runner = new EnforcementRunner(enforcer, () => ({ subscribers: [], groups: [] }), silent, controlMetrics());
    enforcer.hold();
    const first = runner.apply(sub('1'), { type: 'activate' });
    await sleep(5);
    const covered = [runner.apply(sub('2'), { type: 'activate' }), runner.reconcile(), runner.apply(sub('3'), { type: 'activate' })];
    enforcer.release();
    expect((await Promise.all([first, ...covered])).map((e) => e.enforced)).toEqual([true, true, true, true]);
    expect(enforcer.calls).toEqual(['1 activate', 'reconcile']);
    await runner.close();
  });
});

describe('what is not enforced (issue 11: one bad quarantine group disabled all enforcement)', () => {
  /** Reports its quarantine group's route as refused, while enforcing everything else. */
  class RefusedRouteEnforcer extends ScriptedEnforcer {
    override async apply(s: Subscriber, a: SubscriberAction, state: () => EnforcementState) {
      await super.apply(s, a, state);
      return { notEnforced: [{ groupId: 'quarantine', reason: 'the route via 192.0.2.1 could not be installed: members blocked instead' }], retry: true };
    }
    override async reconcile(state: EnforcementState) {
      await super.reconcile(state);
      return { notEnforced: [{ groupId: 'quarantine', reason: 'the route via 192.0.2.1 could not be installed: members blocked instead' }], retry: true };
    }
  }

  it('concerns only the subscribers and groups it names: an unrelated change is enforced, and the route is retried', async () => {
    const enforcer = new RefusedRouteEnforcer();
    const runner = new EnforcementRunner(enforcer, () => ({ subscribers: [], groups: [] }), silent, controlMetrics(), { initialMs: 20, maxMs: 40 });
    const quarantined = { ...sub('1'), groupId: 'quarantine' };
    expect(await runner.apply(quarantined, { type: 'set_group', groupId: 'quarantine' })).toEqual({
      enforced: false,
      reasons: ['group quarantine: the route via 192.0.2.1 could not be installed: members blocked instead'],
    });
    expect(await runner.apply(sub('2'), { type: 'deactivate' })).toEqual({ enforced: true, reasons: [] });
    expect(runner.status()).toMatchObject({ healthy: true, notEnforced: [{ groupId: 'quarantine' }] });
    // Retried: a route refused now may go in later (the gateway's link comes up).
    await expect.poll(() => enforcer.calls.filter((c) => c === 'reconcile').length, { timeout: 3000 }).toBeGreaterThanOrEqual(2);
    expect((await runner.reconcile()).enforced).toBe(false);
    await runner.close();
  });
});

describe('enforcement through the server', () => {
  it('reconciles once at start from the store', async () => {
    const path = join(dir, 'start.db');
    const store = Store.open(path, { create: true });
    store.importDevices([{ ip: '10.128.0.1', id: 'm1', imsi: '440100000000001' }], { actor: 'local' });
    store.act('440100000000001', { type: 'deactivate' }, { actor: 'local' });
    const want = store.enforcementState();
    store.close();
    const enforcer = new ScriptedEnforcer();
    const server = await buildControlServer({ db: path, enforcer });
    expect(enforcer.calls).toEqual(['reconcile']);
    expect(enforcer.reconciled).toEqual([want]);
    await server.close();
  });

  it('an enforcer failure still answers 200 (the store has it), says so, shows in /healthz and /metrics, and heals', async () => {
    const enforcer = new ScriptedEnforcer();
    const server = await buildControlServer({ db: ':memory:', enforcer, enforcementRetry: { initialMs: 50, maxMs: 1000 } });
    const headers = await loginHeaders(server, 'operator');
    await server.app.inject({ method: 'POST', url: '/v1/devices/import', headers, payload: [{ ip: '10.128.0.1', imsi: '440100000000001' }] });
    enforcer.failures = 1;
    const res = await server.app.inject({ method: 'POST', url: '/v1/subscribers/440100000000001/deactivate', headers });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-tapwatch-enforced']).toBe('false');
    expect(res.headers['x-tapwatch-not-enforced']).toBe('subscriber 440100000000001: the enforcer failed: scripted failure of 440100000000001 deactivate');
    expect(server.store.getSubscriber('440100000000001')!.status).toBe('inactive');
    // Without a key, /healthz says degraded and nothing more.
    expect((await server.app.inject('/healthz')).json()).toEqual({ status: 'degraded' });
    const health = (await server.app.inject({ url: '/healthz', headers })).json();
    expect(health).toMatchObject({ status: 'degraded', enforcer: { healthy: false, lastError: expect.stringMatching(/scripted failure/) } });
    const metrics = (await server.app.inject('/metrics')).body;
    expect(metrics).toContain('tapwatch_control_enforcement_failures_total{enforcer="scripted",operation="apply"} 1');
    expect(metrics).toContain('tapwatch_control_actions_total{type="deactivate",result="applied_not_enforced"} 1');
    expect(metrics).toContain('tapwatch_control_enforcer_healthy 0');
    await expect.poll(async () => (await server.app.inject('/healthz')).json().status, { timeout: 3000 }).toBe('ok');
    expect(enforcer.reconciled.at(-1)!.subscribers[0].status).toBe('inactive');
    await server.close();
  });

  it('refuses to start when the store is empty but the enforcement point holds rules, unless forced', async () => {
    class LiveEnforcer extends ScriptedEnforcer {
      live = 3;
      async liveEntries() {
        return this.live;
      }
    }
    const path = join(dir, 'empty.db');
    const enforcer = new LiveEnforcer();
    await expect(buildControlServer({ db: path, create: true, enforcer })).rejects.toThrow(
      expect.objectContaining({ code: 'TWE0003', message: expect.stringMatching(/has no subscribers, but the scripted enforcer holds 3 live entries: starting would remove them all\. Check --db/) }),
    );
    expect(enforcer.calls).toEqual([]); // nothing was replaced
    const forced = await buildControlServer({ db: path, enforcer: new LiveEnforcer(), force: true });
    await forced.close();
    const empty = new LiveEnforcer();
    empty.live = 0;
    await (await buildControlServer({ db: path, enforcer: empty })).close();
    expect(empty.calls).toEqual(['reconcile']);
  });
});

describe("the upstream enforcer's reconcile", () => {
  it('pushes a block whatever the status there, and activates only what is inactive there: standby, ready, suspended are not activated', () => {
    const want = (status: Subscriber['status']): Subscriber => ({ ...sub('440100000000001'), status });
    const calls = (store: Subscriber['status'], upstream: Subscriber['status']) => differences(want(store), want(upstream), new Set(['status'])).map((a) => a.type);
    expect(calls('inactive', 'active')).toEqual(['deactivate']);
    expect(calls('active', 'inactive')).toEqual(['activate']);
    for (const other of ['standby', 'ready', 'suspended'] as const) {
      expect(calls('active', other)).toEqual([]);
      expect(calls('inactive', other)).toEqual(['deactivate']);
    }
    expect(calls('active', 'terminated')).toEqual([]);
    expect(calls('inactive', 'terminated')).toEqual([]);
  });

  it("pushes only the fields tapwatch's actions set: an import's defaults leave the upstream operator's status, speed class and group alone", () => {
    const want: Subscriber = { ...sub('440100000000001'), groupId: 'meters' }; // as imported: active, unthrottled, the registry's group
    const up: Subscriber = { ...sub('440100000000001', 's1.slow'), status: 'inactive', groupId: 'stolen' };
    expect(differences(want, up, new Set())).toEqual([]);
    expect(differences(want, up, new Set(['status']))).toEqual([{ type: 'activate' }]);
    expect(differences(want, up, new Set(['speedClass']))).toEqual([{ type: 'update_speed_class', speedClass: 's1.8xfast' }]);
    expect(differences(want, up, new Set(['groupId']))).toEqual([{ type: 'set_group', groupId: 'meters' }]);
    expect(differences({ ...want, groupId: null }, up, new Set(['groupId']))).toEqual([{ type: 'unset_group' }]);
    expect(differences(want, up, new Set(['status', 'speedClass', 'groupId'])).map((a) => a.type)).toEqual(['activate', 'update_speed_class', 'set_group']);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { anomaly, at, imsiOf, MemoryControl } from '../test/helpers/responder-fixtures.js';
import { actionEventErrors, actionId, type ActionEvent } from '../contracts/action-event.js';
import { eventErrors, type AnomalyEvent } from '../contracts/anomaly-event.js';
import { jsonDecoder } from '../kafka/consumer.js';
import { defaultPolicy, validatePolicy, type Policy } from './policy.js';
import { createResponder, type ResponderOptions } from './responder.js';

/** The tests' own rules, one action per severity, so that each action is exercised whatever the shipped defaults are. */
const RULES: Policy['rules'] = [
  { name: 'critical', severity: ['critical'], action: 'block' },
  { name: 'high', severity: ['high'], action: 'redirect' },
  { name: 'medium', severity: ['medium'], action: 'throttle', releaseAfterSeconds: 3600 },
  { name: 'low', severity: ['low'], action: 'notify' },
];

function policyWith(over: Partial<Policy> = {}): Policy {
  return { ...defaultPolicy(), quarantineGroupId: 'quarantine', cooldownSeconds: 600, breaker: { maxActionsPerMinute: 100, maxFleetPercent: 100 }, rules: RULES, ...over };
}

// Every ActionEvent any responder in this file publishes is checked against the schema after each test.
let published: ActionEvent[] = [];
afterEach(() => {
  const invalid = published.map((ev) => [ev.action_id, ev.result, actionEventErrors(JSON.parse(JSON.stringify(ev)))]).filter(([, , err]) => err !== null);
  published = [];
  expect(invalid).toEqual([]);
});

function setup(policy: Policy, o: Partial<ResponderOptions> = {}) {
  const control = new MemoryControl();
  const events: ActionEvent[] = [];
  const errors: unknown[] = [];
  const responder = createResponder({
    policy,
    client: control,
    publish: (ev) => {
      events.push(ev);
      published.push(ev);
    },
    log: { error: (...args: unknown[]) => void errors.push(args) } as ResponderOptions['log'],
    ...o,
  });
  return { control, events, errors, responder };
}

describe('the response policy', () => {
  it('maps each severity to its action: critical blocks, high quarantines, medium throttles, low notifies', async () => {
    const { control, responder } = setup(policyWith());
    const results: Record<string, [string, string]> = {};
    for (const [i, severity] of (['critical', 'high', 'medium', 'low'] as const).entries()) {
      const device = `meter-${i}`;
      control.add(device);
      const [ev] = await responder.handle(anomaly(device, { severity }), at(i));
      results[severity] = [ev.action, ev.result];
    }
    expect(results).toEqual({ critical: ['block', 'applied'], high: ['redirect', 'applied'], medium: ['throttle', 'applied'], low: ['notify', 'applied'] });
    expect(control.acts()).toEqual([{ type: 'deactivate' }, { type: 'set_group', groupId: 'quarantine' }, { type: 'update_speed_class', speedClass: 's1.minimum' }]);
  });

  it('as shipped, without a quarantine group, notifies and throttles and never deactivates a SIM (issue 11)', async () => {
    const shipped = defaultPolicy();
    expect(shipped.quarantineGroupId).toBeNull();
    const { control, events, responder } = setup({ ...shipped, breaker: { maxActionsPerMinute: 100, maxFleetPercent: 100 } });
    for (const [i, severity] of (['critical', 'high', 'medium', 'low'] as const).entries()) {
      control.add(`meter-${i}`);
      await responder.handle(anomaly(`meter-${i}`, { severity }), at(i));
    }
    expect(events.map((e) => `${e.rule}:${e.action}:${e.result}`)).toEqual(['critical:throttle:applied', 'high:throttle:applied', 'medium:throttle:applied', 'low:notify:applied']);
    expect(events[0].reason).toMatch(/It is a throttle because no quarantine group is configured for redirect/);
    expect(control.acts().map((a) => a.type)).not.toContain('deactivate');
    // With a quarantine group it quarantines; blocking is an operator's choice (redirectFallback, or a block rule).
    const grouped = setup({ ...shipped, quarantineGroupId: 'quarantine' });
    grouped.control.add('meter-9');
    expect((await grouped.responder.handle(anomaly('meter-9', { severity: 'critical' }), at(0)))[0]).toMatchObject({ action: 'redirect', group_id: 'quarantine' });
    const blocking = setup({ ...shipped, redirectFallback: 'block' });
    blocking.control.add('meter-8');
    expect((await blocking.responder.handle(anomaly('meter-8', { severity: 'critical' }), at(0)))[0]).toMatchObject({ action: 'block', reason: expect.stringMatching(/It is a block because no quarantine group/) });
  });

  it('takes the first rule whose behavior and detector lists match, before the severity fallbacks', async () => {
    const base = policyWith();
    const policy = policyWith({
      rules: [
        { name: 'scans-block', behavior: ['scan'], action: 'block' },
        { name: 'fleet-model-notify', detector: ['fleet-model'], severity: ['high'], action: 'notify' },
        { name: 'slow-dns', behavior: ['dns-tunnel'], action: 'throttle', speedClass: 's1.slow' },
        ...base.rules,
      ],
    });
    const { control, responder } = setup(policy);
    for (const d of ['a', 'b', 'c', 'd']) control.add(d);
    const decided = async (device: string, over: Partial<AnomalyEvent>) => {
      const [ev] = await responder.handle(anomaly(device, over), at(0));
      return `${ev.rule}:${ev.action}${ev.speed_class ? `:${ev.speed_class}` : ''}`;
    };
    expect(await decided('a', { behavior: 'scan', severity: 'low' })).toBe('scans-block:block');
    expect(await decided('b', { behavior: 'destination-fanout', detector: 'fleet-model', severity: 'high' })).toBe('fleet-model-notify:notify');
    expect(await decided('c', { behavior: 'dns-tunnel', severity: 'critical' })).toBe('slow-dns:throttle:s1.slow');
    expect(await decided('d', { behavior: 'upload-volume', severity: 'medium' })).toBe('medium:throttle:s1.minimum');
  });

  it('says what is wrong with a policy file, item by item', async () => {
    const { policyProblems, validatePolicy, PolicyError } = await import('./policy.js');
    expect(policyProblems(defaultPolicy())).toEqual([]);
    const p = defaultPolicy();
    expect(policyProblems({ ...p, cooldownSeconds: -1 }).join('\n')).toMatch(/\/cooldownSeconds must be >= 0/);
    expect(policyProblems({ ...p, rules: [{ ...p.rules[0], action: 'quarantine' }, ...p.rules.slice(1)] }).join('\n')).toMatch(/rules\[0\] 'critical' \/action must be equal to one of the allowed values: notify, throttle, redirect, block/);
    expect(policyProblems({ ...p, rules: p.rules.filter((r) => r.name !== 'low') }).join('\n')).toMatch(/no rule catches every low event/);
    expect(policyProblems({ ...p, rules: [{ name: 'x', action: 'block', speedClass: 's1.slow' }, ...p.rules] }).join('\n')).toMatch(/rules\[0\] 'x': speedClass goes with action throttle, not block/);
    expect(policyProblems({ ...p, rules: [...p.rules, p.rules[0]] }).join('\n')).toMatch(/'critical': the name is used twice/);
    expect(() => validatePolicy({ ...p, breaker: {} }, 'policy.json')).toThrow(PolicyError);
    expect(() => validatePolicy({ ...p, breaker: {} }, 'policy.json')).toThrow(/policy.json is invalid:\n {2}- \/breaker must have required properties maxActionsPerMinute, maxFleetPercent/);
  });
});

describe('the responder', () => {
  it('never acts on an allowlisted device, by device id, IMSI or IP, and records that it did not', async () => {
    const { control, events, responder } = setup(policyWith({ allowlist: ['meter-1', imsiOf('meter-2'), '10.9.9.9'] }));
    for (const d of ['meter-1', 'meter-2', 'meter-3']) control.add(d);
    await responder.handle(anomaly('meter-1', { severity: 'critical' }), at(0));
    await responder.handle(anomaly('meter-2', { severity: 'critical' }), at(0));
    await responder.handle({ ...anomaly('meter-3', { severity: 'critical' }), device: { id: 'meter-3', ip: '10.9.9.9', imsi: imsiOf('meter-3') } }, at(0));
    expect(events.map((e) => [e.device.id, e.action, e.result])).toEqual([
      ['meter-1', 'block', 'skipped-allowlist'],
      ['meter-2', 'block', 'skipped-allowlist'],
      ['meter-3', 'block', 'skipped-allowlist'],
    ]);
    expect(events[2].reason).toMatch(/allowlist \('10\.9\.9\.9'\)/);
    expect(control.calls).toEqual([]);
  });

  it('matches the allowlist on any spelling of an address (issue 11: an allowlisted device was acted on)', async () => {
    const { control, events, responder } = setup(policyWith({ allowlist: ['::ffff:10.9.9.9', '2001:DB8::7'] }));
    control.add('meter-1');
    control.add('meter-2');
    await responder.handle({ ...anomaly('meter-1', { severity: 'critical' }), device: { id: 'meter-1', ip: '10.9.9.9', imsi: imsiOf('meter-1') } }, at(0));
    await responder.handle({ ...anomaly('meter-2', { severity: 'critical' }), device: { id: 'meter-2', ip: '2001:db8:0::7', imsi: imsiOf('meter-2') } }, at(0));
    expect(events.map((e) => [e.device.id, e.result])).toEqual([
      ['meter-1', 'skipped-allowlist'],
      ['meter-2', 'skipped-allowlist'],
    ]);
    expect(events[0].reason).toMatch(/allowlist \('10\.9\.9\.9'\)/); // the entry as the policy holds it: canonical
    expect(control.calls).toEqual([]);
  });

  it('refuses a policy whose allowlist address is ambiguous or whose quarantine group the API could not name', () => {
    expect(() => validatePolicy(policyWith({ allowlist: ['meter-1', '010.128.0.1'] }))).toThrow(/allowlist\[1\]: '010\.128\.0\.1' is not an IP address: the zero-padded part '010' is ambiguous/);
    expect(() => validatePolicy(policyWith({ quarantineGroupId: 'quarantine zone' }))).toThrow(/\/quarantineGroupId/);
    expect(validatePolicy(policyWith({ allowlist: ['meter-1', '2001:DB8::1'] })).allowlist).toEqual(['meter-1', '2001:db8::1']);
  });

  it('in a dry run decides and records everything, releases included, and calls nothing', async () => {
    const { control, events, responder } = setup(policyWith({ dryRun: true, releaseAfterSeconds: 60 }));
    control.add('meter-1');
    control.add('meter-2');
    await responder.handle(anomaly('meter-1', { severity: 'critical' }), at(0));
    await responder.handle(anomaly('meter-2', { severity: 'medium' }), at(0));
    await responder.handle(anomaly('meter-2', { severity: 'low', behavior: 'fleet-outlier' }), at(1));
    await responder.releaseDue(at(3600)); // the medium rule's own TTL
    expect(events.map((e) => [e.action, e.result, e.dry_run])).toEqual([
      ['block', 'dry-run', true],
      ['throttle', 'dry-run', true],
      ['notify', 'dry-run', true],
      ['release', 'dry-run', true],
      ['release', 'dry-run', true],
    ]);
    expect(events[0].expires_at).toBe(at(60).toISOString());
    expect(control.calls).toEqual([]);
  });

  it('records an anomaly without an IMSI as skipped-no-imsi, since the API addresses subscribers by IMSI', async () => {
    const { control, events, responder } = setup(policyWith());
    const e = anomaly('gw-1', { severity: 'critical' });
    await responder.handle({ ...e, device: { id: 'gw-1', ip: '10.0.0.9' } }, at(0));
    expect(events.map((x) => x.result)).toEqual(['skipped-no-imsi']);
    expect(control.calls).toEqual([]);
  });

  it('does not act on a device twice within the cooldown, and does after it', async () => {
    const { control, events, responder } = setup(policyWith({ cooldownSeconds: 600 }));
    control.add('meter-1');
    await responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    await responder.handle(anomaly('meter-1', { severity: 'critical', behavior: 'scan', seconds: 300 }), at(300));
    await responder.handle(anomaly('meter-1', { severity: 'critical', behavior: 'upload-volume', seconds: 600 }), at(600));
    expect(events.map((e) => [e.action, e.result])).toEqual([
      ['throttle', 'applied'],
      ['block', 'skipped-cooldown'],
      ['block', 'applied'],
    ]);
    expect(events[1].reason).toMatch(/within the 600 s cooldown after the throttle of 2026-03-03T10:00:00.000Z/);
    expect(control.acts()).toEqual([{ type: 'update_speed_class', speedClass: 's1.minimum' }, { type: 'deactivate' }]);
  });

  it('releases after the TTL by putting back the speed class, group and status the subscriber had before', async () => {
    const { control, events, responder } = setup(policyWith({ releaseAfterSeconds: 3600, cooldownSeconds: 0 }));
    const slow = control.add('slow', { speedClass: 's1.standard' });
    const grouped = control.add('grouped', { groupId: 'meters-east' });
    const ungrouped = control.add('ungrouped', { groupId: null });
    const active = control.add('active');
    const standby = control.add('standby', { status: 'standby' });
    await responder.handle(anomaly('slow', { severity: 'medium' }), at(0));
    await responder.handle(anomaly('grouped', { severity: 'high' }), at(0));
    await responder.handle(anomaly('ungrouped', { severity: 'high' }), at(0));
    await responder.handle(anomaly('active', { severity: 'critical' }), at(0));
    await responder.handle(anomaly('standby', { severity: 'critical' }), at(0));
    expect([slow.speedClass, grouped.groupId, ungrouped.groupId, active.status, standby.status]).toEqual(['s1.minimum', 'quarantine', 'quarantine', 'inactive', 'inactive']);
    expect(events[1].expires_at).toBe(at(3600).toISOString());

    expect(await responder.releaseDue(at(3599))).toEqual([]);
    const released = await responder.releaseDue(at(3600));
    expect(Object.fromEntries(released.map((e) => [e.device.id, `${e.action}:${e.result}:${e.releases?.action}`]))).toEqual({
      slow: 'release:applied:throttle',
      grouped: 'release:applied:redirect',
      ungrouped: 'release:applied:redirect',
      active: 'release:applied:block',
      standby: 'release:applied:block',
    });
    // A SIM that was not active before the block is not activated by its release: never more than it had.
    expect([slow.speedClass, grouped.groupId, ungrouped.groupId, active.status, standby.status]).toEqual(['s1.standard', 'meters-east', null, 'active', 'inactive']);
    const of = (device: string) => released.find((e) => e.device.id === device)!;
    expect(of('slow')).toMatchObject({ speed_class: 's1.standard', previous: { speed_class: 's1.standard' }, releases: { action_id: events[0].action_id } });
    expect(of('slow').action_id).toBe(actionId('slow', events[0].action_id, 'release'));
    expect(of('grouped').group_id).toBe('meters-east');
    expect(control.acts().slice(-4)).toContainEqual({ type: 'unset_group' });
    expect(of('standby').reason).toMatch(/back to nothing: it was standby before the block; its TTL ran out at 2026-03-03T11:00:00.000Z/);
    expect(await responder.releaseDue(at(7200))).toEqual([]);
  });

  it('keeps the state from before the first action when a second of the same kind follows, so the release restores that', async () => {
    const { control, responder } = setup(policyWith({ releaseAfterSeconds: 3600, cooldownSeconds: 60 }));
    const s = control.add('meter-1', { speedClass: 's1.4xfast' });
    await responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    const [second] = await responder.handle(anomaly('meter-1', { severity: 'medium', behavior: 'upload-volume', seconds: 120 }), at(120));
    expect(second).toMatchObject({ result: 'applied', previous: { speed_class: 's1.4xfast' }, expires_at: at(3720).toISOString() });
    // The first throttle was superseded: only the second is released, at its own expiry.
    expect(await responder.releaseDue(at(3600))).toEqual([]);
    const [release] = await responder.releaseDue(at(3720));
    expect(release.releases?.action_id).toBe(second.action_id);
    expect(s.speedClass).toBe('s1.4xfast');
  });

  it('a second action of a kind in force keeps the longer lifetime: an hour-long throttle does not lift one left for a person', async () => {
    // As shipped (no quarantine group): high throttles until a person releases it, medium for an hour.
    const { control, responder } = setup({ ...defaultPolicy(), breaker: { maxActionsPerMinute: 100, maxFleetPercent: 100 } });
    const s = control.add('meter-1', { speedClass: 's1.4xfast' });
    const [first] = await responder.handle(anomaly('meter-1', { severity: 'high' }), at(0));
    expect(first).toMatchObject({ action: 'throttle', result: 'applied' });
    expect(first.expires_at).toBeUndefined();
    const [second] = await responder.handle(anomaly('meter-1', { severity: 'medium', behavior: 'upload-volume', seconds: 1200 }), at(1200));
    expect(second).toMatchObject({ action: 'throttle', result: 'applied', previous: { speed_class: 's1.4xfast' } });
    expect(second.expires_at).toBeUndefined();
    expect(await responder.releaseDue(at(1200 + 7200))).toEqual([]);
    expect(s.speedClass).toBe('s1.minimum');
    // The other way round the hour-long one gives way too: the later, untimed action is never released by a TTL.
    const timedFirst = setup({ ...defaultPolicy(), breaker: { maxActionsPerMinute: 100, maxFleetPercent: 100 } });
    timedFirst.control.add('meter-2');
    await timedFirst.responder.handle(anomaly('meter-2', { severity: 'medium' }), at(0));
    const [untimed] = await timedFirst.responder.handle(anomaly('meter-2', { severity: 'high', behavior: 'scan', seconds: 1200 }), at(1200));
    expect(untimed.expires_at).toBeUndefined();
    expect(await timedFirst.responder.releaseDue(at(7200))).toEqual([]);
  });

  it('releases early when the alarm that caused the action clears, if the policy says so', async () => {
    const { control, events, responder } = setup(policyWith({ releaseOnClear: true }));
    const s = control.add('meter-1');
    await responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    expect(await responder.handle(anomaly('meter-1', { behavior: 'upload-volume', alarm: 'alarm-cleared', seconds: 60 }), at(60))).toEqual([]);
    const [release] = await responder.handle(anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 120 }), at(120));
    expect(release).toMatchObject({ action: 'release', result: 'applied', anomaly: { behavior: 'dns-tunnel', event_id: `meter-1/dns-tunnel/${at(120).toISOString()}/alarm-cleared` } });
    expect(release.reason).toMatch(/the dns-tunnel alarm cleared/);
    expect(s.speedClass).toBe('s1.fast');
    expect(events).toHaveLength(2);

    const off = setup(policyWith({ releaseOnClear: false }));
    off.control.add('meter-1');
    await off.responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    expect(await off.responder.handle(anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 120 }), at(120))).toEqual([]);
  });

  it('a clear delivered again later does not release the action of a newer alarm of the same behavior, also after a restart', async () => {
    const policy = policyWith({ releaseOnClear: true });
    const { control, events, responder } = setup(policy);
    const s = control.add('meter-1');
    await responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    const clear = anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 600, alarm_since: at(0).toISOString() });
    expect((await responder.handle(clear, at(600))).map((e) => `${e.action}:${e.result}`)).toEqual(['release:applied']);
    const [newer] = await responder.handle(anomaly('meter-1', { severity: 'medium', seconds: 1200 }), at(1200));
    expect(newer).toMatchObject({ action: 'throttle', result: 'applied' });
    // A rebalance replays the batch that held the first clear.
    expect(await responder.handle(clear, at(1800))).toEqual([]);
    expect(s.speedClass).toBe('s1.minimum');

    // The anomaly's time is in the ActionEvents: a responder rebuilt from them decides the same.
    const after = setup(policy);
    after.control.subscribers.set(imsiOf('meter-1'), s);
    for (const ev of events) after.responder.observe(ev);
    expect(await after.responder.handle(clear, at(1900))).toEqual([]);
    // The newer alarm's own clear still releases its action.
    const [release] = await after.responder.handle(anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 2400 }), at(2400));
    expect(release).toMatchObject({ action: 'release', result: 'applied', releases: { action_id: newer.action_id } });
    expect(s.speedClass).toBe('s1.fast');
  });

  it("releases on clear by the anomaly's time, not the decision's, and keeps what an older event cannot show to predate the clear", async () => {
    const policy = policyWith({ releaseOnClear: true });
    const { control, events, responder } = setup(policy);
    const s = control.add('meter-1');
    // Decided an hour after the traffic, as a responder catching up on a backlog does.
    const [throttle] = await responder.handle(anomaly('meter-1', { severity: 'medium' }), at(3600));
    expect(throttle.anomaly?.['@timestamp']).toBe(at(0).toISOString());
    const cleared = anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 600 });
    expect(await responder.handle(cleared, at(3601))).toMatchObject([{ action: 'release', result: 'applied' }]);
    expect(s.speedClass).toBe('s1.fast');

    // An event written before the anomaly's time was in it counts from its decision, after this clear: kept.
    const older = setup(policy);
    const t = older.control.add('meter-1', { speedClass: 's1.minimum' });
    const { '@timestamp': _, ...ref } = throttle.anomaly!;
    older.responder.observe({ ...events[0], anomaly: ref });
    expect(await older.responder.handle(cleared, at(3601))).toEqual([]);
    expect(t.speedClass).toBe('s1.minimum');
  });

  it('with releaseOnClear, a throttle two alarms asked for is released only when both have cleared; after a restart it is kept', async () => {
    const policy = policyWith({ releaseOnClear: true, cooldownSeconds: 60 });
    const { control, events, responder } = setup(policy);
    const s = control.add('meter-1');
    await responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    const [second] = await responder.handle(anomaly('meter-1', { severity: 'medium', behavior: 'upload-volume', seconds: 120 }), at(120));
    expect(second).toMatchObject({ action: 'throttle', result: 'applied' });
    const decided = [...events];
    // The second alarm clears first: the dns-tunnel alarm still asks for the throttle.
    expect(await responder.handle(anomaly('meter-1', { behavior: 'upload-volume', alarm: 'alarm-cleared', seconds: 600 }), at(600))).toEqual([]);
    expect(s.speedClass).toBe('s1.minimum');
    const dnsCleared = anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 900 });
    const [release] = await responder.handle(dnsCleared, at(900));
    expect(release).toMatchObject({ action: 'release', result: 'applied', releases: { action_id: second.action_id } });
    expect(s.speedClass).toBe('s1.fast');

    // No ActionEvent records the upload-volume clear: rebuilt from the events, the responder keeps the
    // throttle on the dns-tunnel clear, and its TTL (the second throttle's) releases it.
    const after = setup(policy);
    const t = after.control.add('meter-1', { speedClass: 's1.minimum' });
    for (const ev of decided) after.responder.observe(ev);
    expect(await after.responder.handle(dnsCleared, at(900))).toEqual([]);
    expect(t.speedClass).toBe('s1.minimum');
    expect((await after.responder.releaseDue(at(3720))).map((e) => e.releases?.action_id)).toEqual([second.action_id]);
    expect(t.speedClass).toBe('s1.fast');
  });

  it('with releaseOnClear, an alarm held back by the cooldown from the throttle in force holds it too, also after a restart', async () => {
    const policy = policyWith({ releaseOnClear: true, cooldownSeconds: 600 });
    const { control, events, responder } = setup(policy);
    const s = control.add('meter-1');
    const [first] = await responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    const [skipped] = await responder.handle(anomaly('meter-1', { severity: 'medium', behavior: 'upload-volume', seconds: 120 }), at(120));
    expect(skipped).toMatchObject({ action: 'throttle', result: 'skipped-cooldown' });
    const decided = [...events];
    // The dns-tunnel alarm clears first: the upload-volume alarm, which the cooldown kept from acting, still wants the throttle.
    expect(await responder.handle(anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 300 }), at(300))).toEqual([]);
    expect(s.speedClass).toBe('s1.minimum');
    const uploadCleared = anomaly('meter-1', { behavior: 'upload-volume', alarm: 'alarm-cleared', seconds: 400 });
    expect(await responder.handle(uploadCleared, at(400))).toMatchObject([{ action: 'release', result: 'applied', releases: { action_id: first.action_id } }]);
    expect(s.speedClass).toBe('s1.fast');

    // Rebuilt from the events (the skip is one of them): the upload-volume alarm still holds it.
    const after = setup(policy);
    const t = after.control.add('meter-1', { speedClass: 's1.minimum' });
    for (const ev of decided) after.responder.observe(ev);
    expect(await after.responder.handle(anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 300 }), at(300))).toEqual([]);
    expect(t.speedClass).toBe('s1.minimum');
  });

  it('with releaseOnClear, an alarm held back from another kind of action (cooldown) or silently by an open breaker holds the throttle in force', async () => {
    // The cooldown: a high alarm's redirect is skipped while the medium alarm's throttle is in force.
    const cooling = setup(policyWith({ releaseOnClear: true, cooldownSeconds: 600 }));
    const s = cooling.control.add('meter-1');
    await cooling.responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    const [skipped] = await cooling.responder.handle(anomaly('meter-1', { severity: 'high', behavior: 'telnet-scan', seconds: 60 }), at(60));
    expect(skipped).toMatchObject({ action: 'redirect', result: 'skipped-cooldown' });
    expect(await cooling.responder.handle(anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 300 }), at(300))).toEqual([]);
    expect(s.speedClass).toBe('s1.minimum');
    expect(await cooling.responder.handle(anomaly('meter-1', { behavior: 'telnet-scan', alarm: 'alarm-cleared', seconds: 400 }), at(400))).toMatchObject([{ action: 'release', result: 'applied' }]);

    // The breaker, after its one alert: the held-back alarm leaves no ActionEvent, and still holds the throttle.
    const tripping = setup(policyWith({ releaseOnClear: true, cooldownSeconds: 0, breaker: { maxActionsPerMinute: 2, maxFleetPercent: 100 } }));
    const t = tripping.control.add('meter-1');
    for (const d of ['meter-2', 'meter-3']) tripping.control.add(d);
    await tripping.responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    await tripping.responder.handle(anomaly('meter-2', { severity: 'medium' }), at(1));
    expect(await tripping.responder.handle(anomaly('meter-3', { severity: 'medium' }), at(2))).toMatchObject([{ result: 'suppressed-breaker' }]);
    expect(await tripping.responder.handle(anomaly('meter-1', { severity: 'medium', behavior: 'upload-volume', seconds: 3 }), at(3))).toEqual([]);
    expect(await tripping.responder.handle(anomaly('meter-1', { alarm: 'alarm-cleared', seconds: 30 }), at(30))).toEqual([]);
    expect(t.speedClass).toBe('s1.minimum');
  });

  it('a second throttle never loosens a stricter one in force: it keeps the class in force, and a stricter one tightens it', async () => {
    const base = policyWith({ releaseAfterSeconds: 3600, cooldownSeconds: 60 });
    const policy = policyWith({ ...base, rules: [{ name: 'slow-uploads', behavior: ['upload-volume'], action: 'throttle', speedClass: 's1.slow' }, ...base.rules] });
    const { control, responder } = setup(policy);
    const s = control.add('meter-1', { speedClass: 's1.4xfast' });
    await responder.handle(anomaly('meter-1', { severity: 'medium' }), at(0));
    const [laxer] = await responder.handle(anomaly('meter-1', { severity: 'medium', behavior: 'upload-volume', seconds: 120 }), at(120));
    expect(laxer).toMatchObject({ action: 'throttle', result: 'applied', rule: 'slow-uploads', speed_class: 's1.minimum', previous: { speed_class: 's1.4xfast' } });
    expect(laxer.reason).toMatch(/to speed class s1\.minimum; .* The throttle in force is stricter than the rule's s1\.slow: a second throttle never loosens it\./);
    expect(s.speedClass).toBe('s1.minimum');
    expect(control.acts()).not.toContainEqual({ type: 'update_speed_class', speedClass: 's1.slow' });
    const [release] = await responder.releaseDue(at(3720));
    expect(release).toMatchObject({ releases: { action_id: laxer.action_id }, speed_class: 's1.4xfast' });
    expect(s.speedClass).toBe('s1.4xfast');

    // The other way round the stricter class is set.
    const t = control.add('meter-2', { speedClass: 's1.4xfast' });
    await responder.handle(anomaly('meter-2', { severity: 'medium', behavior: 'upload-volume' }), at(0));
    expect(t.speedClass).toBe('s1.slow');
    const [stricter] = await responder.handle(anomaly('meter-2', { severity: 'medium', seconds: 120 }), at(120));
    expect(stricter).toMatchObject({ result: 'applied', speed_class: 's1.minimum' });
    expect(stricter.reason).not.toMatch(/never loosens/);
    expect(t.speedClass).toBe('s1.minimum');
  });

  it('records a failed API call as failed with the error, and a failed release too (left to a person, not retried)', async () => {
    const { control, events, responder } = setup(policyWith({ releaseAfterSeconds: 60 }));
    control.add('meter-1');
    control.failure = new Error('503 Service Unavailable after 5 attempts');
    const [failed] = await responder.handle(anomaly('meter-1', { severity: 'critical' }), at(0));
    expect(failed).toMatchObject({ action: 'block', result: 'failed', error: { message: '503 Service Unavailable after 5 attempts' } });
    expect(failed.reason).toMatch(/^Failed \(503 Service Unavailable after 5 attempts\): block device meter-1/);
    expect(failed.expires_at).toBeUndefined();

    const [unknown] = await responder.handle(anomaly('meter-9', { severity: 'critical' }), at(0));
    expect(unknown).toMatchObject({ result: 'failed', error: { message: `the control API has no subscriber with IMSI ${imsiOf('meter-9')}` } });

    control.failure = null;
    control.add('meter-2');
    await responder.handle(anomaly('meter-2', { severity: 'medium' }), at(0));
    control.failure = new Error('connection refused');
    expect((await responder.releaseDue(at(3600))).map((e) => [e.action, e.result, e.error?.message])).toEqual([['release', 'failed', 'connection refused']]);
    expect(await responder.releaseDue(at(7200))).toEqual([]);
    expect(responder.stats.results.failed).toBe(3);
    expect(events).toHaveLength(4);
  });

  it('opens the breaker at N actions a minute: one alert and one error line per trip, then closes after the window', async () => {
    const { control, events, errors, responder } = setup(policyWith({ breaker: { maxActionsPerMinute: 3, maxFleetPercent: 100 } }));
    for (let i = 0; i < 10; i++) control.add(`m${i}`);
    for (let i = 0; i < 6; i++) await responder.handle(anomaly(`m${i}`, { severity: 'critical' }), at(i));
    expect(events.map((e) => `${e.device.id}:${e.result}`)).toEqual(['m0:applied', 'm1:applied', 'm2:applied', 'm3:suppressed-breaker']);
    expect(events[3].reason).toMatch(/circuit breaker is open \(3 actions in the last minute \(limit 3\)\)/);
    expect(responder.stats.suppressed).toBe(2);
    expect(errors).toHaveLength(1);
    // notify changes nothing and goes through while the breaker is open.
    expect((await responder.handle(anomaly('m9', { severity: 'low' }), at(10))).map((e) => e.result)).toEqual(['applied']);

    // At 61 s the actions of 0 s and 1 s have left the window: the breaker closes for two more, and a second trip gets its own alert.
    const after = await Promise.all([6, 7, 8, 9].map((i) => responder.handle(anomaly(`m${i}`, { severity: 'critical', seconds: 61 }), at(61))));
    expect(after.flat().map((e) => `${e.device.id}:${e.result}`)).toEqual(['m6:applied', 'm7:applied', 'm8:suppressed-breaker']);
    expect(errors).toHaveLength(2);
    expect(control.acts()).toHaveLength(5);
  });

  it('opens the breaker at P% of the known fleet under action, and closes when releases bring it back under', async () => {
    const { control, events, errors, responder } = setup(policyWith({ cooldownSeconds: 0, breaker: { maxActionsPerMinute: 100, maxFleetPercent: 10 } }));
    for (let i = 0; i < 20; i++) control.add(`m${i}`);
    expect(await responder.refreshFleet()).toBe(20);
    await responder.handle(anomaly('m0', { severity: 'medium' }), at(0));
    await responder.handle(anomaly('m1', { severity: 'medium' }), at(100));
    // A device already under action can be acted on again: it adds nothing to the share.
    await responder.handle(anomaly('m1', { severity: 'critical', behavior: 'scan' }), at(110));
    await responder.handle(anomaly('m2', { severity: 'medium' }), at(120));
    await responder.handle(anomaly('m3', { severity: 'medium' }), at(130));
    expect(events.map((e) => `${e.device.id}:${e.action}:${e.result}`)).toEqual(['m0:throttle:applied', 'm1:throttle:applied', 'm1:block:applied', 'm2:throttle:suppressed-breaker']);
    expect(events[3].reason).toMatch(/3 of 20 known devices would be under action \(limit 10%: 2\)/);
    expect(errors).toHaveLength(1);
    expect((await responder.releaseDue(at(3600))).map((e) => e.device.id)).toEqual(['m0']); // the medium rule's TTL
    expect((await responder.handle(anomaly('m4', { severity: 'medium' }), at(3601))).map((e) => e.result)).toEqual(['applied']);
  });

  it('gives an action the same id on every delivery: a redelivered anomaly is neither re-applied nor re-recorded', async () => {
    const { control, events, responder } = setup(policyWith());
    control.add('meter-1');
    const e = anomaly('meter-1', { severity: 'critical' });
    const [first] = await responder.handle(e, at(0));
    expect(first.action_id).toBe(actionId('meter-1', e.event_id, 'block'));
    expect(control.calls.find((c) => c.call === 'act')?.key).toBe(first.action_id);
    expect(await responder.handle(e, at(5))).toEqual([]);
    expect(responder.stats.duplicates).toBe(1);
    expect(control.acts()).toHaveLength(1);
    expect(events).toHaveLength(1);
  });

  it('applies an action once when it was applied but its event was never published (a crash in between)', async () => {
    const control = new MemoryControl();
    const s = control.add('meter-1');
    let down = true;
    const events: ActionEvent[] = [];
    const responder = createResponder({
      policy: policyWith(),
      client: control,
      publish: (ev) => {
        if (down) throw new Error('broker unavailable');
        events.push(ev);
      },
    });
    const e = anomaly('meter-1', { severity: 'critical' });
    await expect(responder.handle(e, at(0))).rejects.toThrow('broker unavailable');
    down = false;
    s.status = 'active'; // a person re-enabled it meanwhile: the replayed key must not deactivate it again
    const [ev] = await responder.handle(e, at(30));
    expect(ev.result).toBe('applied');
    expect(control.calls.filter((c) => c.call === 'act').map((c) => c.key)).toEqual([ev.action_id, ev.action_id]);
    expect(s.status).toBe('active');
  });

  it('rebuilt from its own events after a restart, makes the same decisions and re-applies nothing', async () => {
    const policy = policyWith({ releaseAfterSeconds: 3600, cooldownSeconds: 600, breaker: { maxActionsPerMinute: 2, maxFleetPercent: 100 } });
    const before = setup(policy);
    for (const d of ['a', 'b', 'c', 'd']) before.control.add(d, { speedClass: 's1.standard' });
    const anomalies = [anomaly('a', { severity: 'medium' }), anomaly('b', { severity: 'critical' }), anomaly('c', { severity: 'medium' }), anomaly('d', { severity: 'medium' })];
    for (const e of anomalies) await before.responder.handle(e, at(0));
    expect(before.events.map((e) => e.result)).toEqual(['applied', 'applied', 'suppressed-breaker']);

    // A new responder against the same control API, its ledger rebuilt from the events (in any order across devices).
    const after = setup(policy);
    after.control.subscribers.clear();
    for (const [k, v] of before.control.subscribers) after.control.subscribers.set(k, v);
    for (const ev of [...before.events].reverse()) after.responder.observe(ev);
    for (const e of anomalies) expect(await after.responder.handle(e, at(10))).toEqual([]);
    // Cooldown, breaker state (tripped, alert already sent) and the rate window carry over.
    expect(await after.responder.handle(anomaly('a', { severity: 'critical', behavior: 'scan' }), at(20))).toMatchObject([{ result: 'skipped-cooldown' }]);
    expect(await after.responder.handle(anomaly('c', { severity: 'medium', behavior: 'upload-volume' }), at(30))).toEqual([]);
    // d (held back silently before the restart, so never decided) and the new anomaly on c: no second alert.
    expect(after.responder.stats.suppressed).toBe(2);
    expect(after.control.acts()).toEqual([]);
    expect(after.errors).toHaveLength(0);
    // The TTL releases the first responder's actions, with the state it recorded.
    const released = await after.responder.releaseDue(at(3600));
    expect(released.map((e) => e.releases?.action_id).sort()).toEqual([before.events[0].action_id, before.events[1].action_id].sort());
    expect(before.control.subscribers.get(imsiOf('a'))?.speedClass).toBe('s1.standard');
    expect(before.control.subscribers.get(imsiOf('b'))?.status).toBe('active');
  });
});

describe('anomaly messages on Kafka', () => {
  it("the consumer loop's decoder refuses what is not JSON or not a valid AnomalyEvent, saying why", () => {
    const decode = jsonDecoder<AnomalyEvent>(eventErrors);
    const { summary: _, ...noSummary } = anomaly('meter-1');
    expect(decode(Buffer.from(JSON.stringify(anomaly('meter-1'))))).toEqual(anomaly('meter-1'));
    expect(() => decode(Buffer.from('{"schema":'))).toThrow(/JSON/);
    expect(() => decode(Buffer.from(JSON.stringify(noSummary)))).toThrow(/summary/);
    expect(() => decode(Buffer.from(JSON.stringify({ ...anomaly('meter-1'), severity: 'severe' })))).toThrow(/severity/);
    expect(() => decode(null)).toThrow();
  });
});

describe('ActionEvent', () => {
  it('has a schema that says what is wrong with a bad event', () => {
    const ev: ActionEvent = {
      schema: 'tapwatch.action.v1',
      action_id: actionId('meter-1', 'a1', 'throttle'),
      '@timestamp': at(0).toISOString(),
      device: { id: 'meter-1', ip: '10.128.0.1', imsi: imsiOf('meter-1') },
      action: 'throttle',
      result: 'applied',
      reason: 'Applied: throttle device meter-1 to speed class s1.minimum.',
      rule: 'medium',
      anomaly: { event_id: 'a1', behavior: 'dns-tunnel', detector: 'device-baseline', severity: 'medium', metric: 'dns_queries', observed: 812, threshold: 150 },
      speed_class: 's1.minimum',
      previous: { status: 'active', speed_class: 's1.fast', group_id: null },
      actor: 'tapwatch-responder',
      enforcer: 'control-api',
      dry_run: false,
    };
    expect(actionEventErrors(ev)).toBeNull();
    expect(actionEventErrors({ ...ev, result: 'failed' })).toMatch(/must have required property 'error'/);
    const { speed_class: _, ...noClass } = ev;
    expect(actionEventErrors(noClass)).toBe("/ must have required property 'speed_class' (action throttle)");
    expect(actionEventErrors({ ...ev, action: 'release' })).toMatch(/must have required property 'releases'/);
    expect(actionEventErrors({ ...ev, result: 'blocked' })).toMatch(/\/result must be equal to one of the allowed values/);
    expect(actionEventErrors({ ...ev, action_id: 'x' })).toMatch(/\/action_id must match pattern/);
  });

  it('ids are a pure function of device, cause and action type', () => {
    expect(actionId('meter-1', 'a1', 'block')).toBe(actionId('meter-1', 'a1', 'block'));
    expect(new Set([actionId('meter-1', 'a1', 'block'), actionId('meter-2', 'a1', 'block'), actionId('meter-1', 'a2', 'block'), actionId('meter-1', 'a1', 'throttle')]).size).toBe(4);
    expect(actionId('meter-1', 'a1', 'block')).toMatch(/^[0-9a-f]{32}$/);
  });
});

import { describe, expect, it } from 'vitest';
import { SPEED_CLASS_KBPS, SPEED_CLASSES, UNTHROTTLED_SPEED_CLASS, type Group, type Subscriber } from '../model.js';
import { NftRulesetError, planEnforcement, QUARANTINE_MARK_BASE, quarantineSetName, type EnforcementPlan } from './nft-ruleset.js';

let nextImsi = 1;
function sub(ipAddress: string | null, over: Partial<Subscriber> = {}): Subscriber {
  const imsi = `00101${String(nextImsi++).padStart(10, '0')}`;
  return { imsi, imei: null, ipAddress, status: 'active', speedClass: UNTHROTTLED_SPEED_CLASS, groupId: null, operatorId: 'OP0000000001', tags: {}, createdTime: 0, lastModifiedTime: 0, ...over };
}

function group(groupId: string, redirectGateway: string | null, quarantine = true): Group {
  return { groupId, operatorId: 'OP0000000001', tags: {}, configuration: { tapwatch: { quarantine, redirectGateway } }, createdTime: 0, lastModifiedTime: 0 };
}

const plan = (subscribers: Subscriber[], groups: Group[] = []): EnforcementPlan => planEnforcement({ subscribers, groups });

/** The elements of one set, as rendered. */
function elements(p: EnforcementPlan, set: string): string[] {
  const m = new RegExp(`set ${set} \\{\\n[^}]*?(?:elements = \\{ ([^}]*) \\})?\\n\\t\\}`).exec(p.nft);
  if (!m) throw new Error(`no set ${set} in\n${p.nft}`);
  return m[1] ? m[1].split(', ') : [];
}

const forwardRules = (p: EnforcementPlan): string[] => /chain forward \{\n\t\t[^\n]*\n([^}]*)\t\}/.exec(p.nft)![1].split('\n').map((l) => l.trim()).filter(Boolean);

describe('planEnforcement', () => {
  it('renders the whole table, with empty sets and no rules of its own, for an empty state', () => {
    const p = plan([]);
    expect(p.nft).toBe(
      [
        'table inet tapwatch',
        'delete table inet tapwatch',
        'table inet tapwatch {',
        '\tset blocked_v4 {',
        '\t\ttype ipv4_addr',
        '\t}',
        '\tset blocked_v6 {',
        '\t\ttype ipv6_addr',
        '\t}',
        '\tchain prerouting {',
        '\t\ttype filter hook prerouting priority mangle; policy accept;',
        '\t}',
        '\tchain forward {',
        '\t\ttype filter hook forward priority filter; policy accept;',
        '\t\tip saddr @blocked_v4 drop',
        '\t\tip6 saddr @blocked_v6 drop',
        '\t\tip daddr @blocked_v4 drop',
        '\t\tip6 daddr @blocked_v6 drop',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
    expect(p.routes).toEqual([]);
    expect(p.counts).toEqual({ blocked: 0, quarantined: 0, throttled: 0, unaddressed: 0 });
  });

  it('names the table it is given, and refuses a name that is not an nft identifier', () => {
    expect(planEnforcement({ subscribers: [], groups: [] }, 'gw_1').nft).toMatch(/^table inet gw_1\ndelete table inet gw_1\ntable inet gw_1 \{/);
    expect(() => planEnforcement({ subscribers: [], groups: [] }, 'x; flush ruleset')).toThrow(NftRulesetError);
  });

  it('blocks inactive, suspended and terminated subscribers, in both directions, and no others', () => {
    const p = plan([
      sub('10.128.0.1', { status: 'inactive' }),
      sub('10.128.0.2', { status: 'suspended' }),
      sub('10.128.0.3', { status: 'terminated' }),
      sub('10.128.0.4', { status: 'active' }),
      sub('10.128.0.5', { status: 'ready' }),
      sub('10.128.0.6', { status: 'standby' }),
    ]);
    expect(elements(p, 'blocked_v4')).toEqual(['10.128.0.1', '10.128.0.2', '10.128.0.3']);
    expect(forwardRules(p)).toEqual(['ip saddr @blocked_v4 drop', 'ip6 saddr @blocked_v6 drop', 'ip daddr @blocked_v4 drop', 'ip6 daddr @blocked_v6 drop']);
    expect(p.counts.blocked).toBe(3);
  });

  it('puts IPv6 devices in the IPv6 set and rules, in canonical form', () => {
    const p = plan([sub('2001:DB8:0:0::0:1', { status: 'inactive' }), sub('2001:db8::a', { speedClass: 's1.slow' })]);
    expect(elements(p, 'blocked_v6')).toEqual(['2001:db8::1']);
    expect(elements(p, 'blocked_v4')).toEqual([]);
    expect(forwardRules(p)).toContain('ip6 saddr 2001:db8::a limit rate over 16000 bytes/second drop');
    expect(forwardRules(p)).toContain('ip6 daddr 2001:db8::a limit rate over 16000 bytes/second drop');
  });

  it('limits each throttled device, each way, to its class rate in bytes/s, and leaves the unthrottled class alone', () => {
    for (const speedClass of SPEED_CLASSES) {
      const rules = forwardRules(plan([sub('10.128.0.7', { speedClass })])).slice(4);
      if (speedClass === UNTHROTTLED_SPEED_CLASS) {
        expect(rules).toEqual([]);
        continue;
      }
      const bytes = (SPEED_CLASS_KBPS[speedClass] * 1000) / 8;
      expect(rules).toEqual([`ip saddr 10.128.0.7 limit rate over ${bytes} bytes/second drop`, `ip daddr 10.128.0.7 limit rate over ${bytes} bytes/second drop`]);
    }
    expect(plan([sub('10.128.0.7', { speedClass: 's1.minimum' })]).counts.throttled).toBe(1);
  });

  it('marks a quarantine group\'s devices for the policy route to its gateway', () => {
    const p = plan([sub('10.128.0.8', { groupId: 'q' }), sub('10.128.0.9', { groupId: 'plain' })], [group('q', '192.0.2.10'), group('plain', null, false)]);
    expect(p.routes).toHaveLength(1);
    const [r] = p.routes;
    expect(r).toMatchObject({ groupId: 'q', family: 4, gateway: '192.0.2.10' });
    expect(r.mark).toBeGreaterThan(QUARANTINE_MARK_BASE);
    expect(r.mark).toBeLessThanOrEqual(QUARANTINE_MARK_BASE + 0xffff);
    expect(elements(p, quarantineSetName(r))).toEqual(['10.128.0.8']);
    expect(p.nft).toContain(`ip saddr @${quarantineSetName(r)} meta mark set 0x${r.mark.toString(16)}`);
    expect(p.counts).toEqual({ blocked: 0, quarantined: 1, throttled: 0, unaddressed: 0 });
  });

  it('keeps a group\'s mark when other quarantine groups come and go, and gives colliding groups their own', () => {
    const one = plan([], [group('q', '192.0.2.10')]).routes;
    const many = plan([], [group('a', '192.0.2.11'), group('q', '192.0.2.10'), group('z', '2001:db8::10')]).routes;
    expect(many.find((r) => r.groupId === 'q')!.mark).toBe(one[0].mark);
    expect(new Set(many.map((r) => r.mark)).size).toBe(3);
    expect(many.find((r) => r.groupId === 'z')).toMatchObject({ family: 6, gateway: '2001:db8::10' });
    // 2000 ids in 65 535 slots: by the birthday bound some hash to one slot (~30 pairs), yet every mark differs.
    const crowd = Array.from({ length: 2000 }, (_, i) => group(`g${i}`, '192.0.2.10'));
    expect(new Set(plan([], crowd).routes.map((r) => r.mark)).size).toBe(2000);
  });

  it('blocks the devices of a quarantine group that cannot redirect them', () => {
    const p = plan(
      [sub('10.128.0.1', { groupId: 'nogw' }), sub('10.128.0.2', { groupId: 'badgw' }), sub('2001:db8::2', { groupId: 'v4gw' })],
      [group('nogw', null), group('badgw', '192.0.2.10 table 254'), group('v4gw', '192.0.2.10')],
    );
    expect(elements(p, 'blocked_v4')).toEqual(['10.128.0.1', '10.128.0.2']);
    expect(elements(p, 'blocked_v6')).toEqual(['2001:db8::2']); // an IPv4 gateway cannot take IPv6 packets
    expect(p.routes.map((r) => r.groupId)).toEqual(['v4gw']);
    expect(p.problems.map((s) => s.groupId ?? s.imsi)).toEqual(['badgw', 'nogw', expect.stringMatching(/^00101/)]);
    expect(p.problems.map((s) => s.reason)).toEqual([
      expect.stringMatching(/^redirectGateway '192\.0\.2\.10 table 254' is not an IP address.*: its members are blocked instead of quarantined$/),
      'quarantine without a redirectGateway: its members are blocked instead of quarantined',
      "its address is IPv6, group v4gw's redirect gateway IPv4: blocked instead of quarantined",
    ]);
    expect(p.nft).not.toContain('table 254');
  });

  it('blocks the devices of a group whose gateway cannot be a next hop, or whose route the gateway refused; the rest as asked', () => {
    const subscribers = [sub('10.128.0.1', { groupId: 'zero' }), sub('10.128.0.2', { groupId: 'refused' }), sub('10.128.0.3', { groupId: 'fine' }), sub('10.128.0.4', { status: 'inactive' })];
    const groups = [group('zero', '0.0.0.0'), group('refused', '192.0.2.1'), group('fine', '192.0.2.10')];
    const asked = plan(subscribers, groups);
    expect(asked.routes.map((r) => r.groupId).sort()).toEqual(['fine', 'refused']);
    expect(asked.problems).toEqual([{ groupId: 'zero', reason: 'redirectGateway 0.0.0.0 is the unspecified address: its members are blocked instead of quarantined' }]);
    const p = planEnforcement({ subscribers, groups }, 'tapwatch', new Map([['refused', 'Error: Nexthop has invalid gateway.']]));
    expect(p.routes.map((r) => r.groupId)).toEqual(['fine']);
    expect(elements(p, 'blocked_v4')).toEqual(['10.128.0.1', '10.128.0.2', '10.128.0.4']);
    expect(elements(p, quarantineSetName(p.routes[0]))).toEqual(['10.128.0.3']);
    expect(p.problems).toContainEqual({ groupId: 'refused', reason: 'the route via 192.0.2.1 could not be installed (Error: Nexthop has invalid gateway.): its members are blocked instead of quarantined' });
  });

  it('enforces only the strictest action on a device: blocked beats quarantine and throttle', () => {
    const p = plan([sub('10.128.0.3', { status: 'inactive', groupId: 'q', speedClass: 's1.minimum' })], [group('q', '192.0.2.10')]);
    expect(elements(p, 'blocked_v4')).toEqual(['10.128.0.3']);
    expect(elements(p, quarantineSetName(p.routes[0]))).toEqual([]);
    expect(p.nft).not.toContain('limit');
    expect(p.counts).toEqual({ blocked: 1, quarantined: 0, throttled: 0, unaddressed: 0 });
  });

  it('merges subscribers that share an address: any block blocks, the slowest class limits', () => {
    const blocked = plan([sub('10.128.0.4'), sub('10.128.0.4', { status: 'inactive' })]);
    expect(elements(blocked, 'blocked_v4')).toEqual(['10.128.0.4']);
    const slow = plan([sub('10.128.0.5', { speedClass: 's1.fast' }), sub('10.128.0.5', { speedClass: 's1.slow' })]);
    expect(forwardRules(slow).slice(4)).toEqual(['ip saddr 10.128.0.5 limit rate over 16000 bytes/second drop', 'ip daddr 10.128.0.5 limit rate over 16000 bytes/second drop']);
  });

  it('renders the same text whatever the order of subscribers and groups', () => {
    const subs = [sub('10.128.0.9', { status: 'inactive' }), sub('10.128.0.2', { speedClass: 's1.slow' }), sub('10.128.0.5', { groupId: 'q' }), sub('2001:db8::1')];
    const groups = [group('q', '192.0.2.10'), group('r', '192.0.2.11')];
    expect(plan([...subs].reverse(), [...groups].reverse())).toEqual(plan(subs, groups));
  });

  it('skips subscribers without a valid address and never puts an unvalidated string in the text', () => {
    const hostile = ['10.128.0.1; flush ruleset', '10.128.0.1/8', ' 10.128.0.1', '10.128.0.1\n', '010.128.0.1', '10.128.0.256', 'fe80::1%eth0', '2001:db8::1 } drop', 'example.com', ''];
    const p = plan([sub(null), ...hostile.map((ip) => sub(ip, { status: 'inactive', speedClass: 's1.minimum' }))]);
    expect(p.counts.unaddressed).toBe(1);
    expect(p.problems).toHaveLength(hostile.length);
    expect(p.nft).toBe(plan([]).nft);
    // Nor does anything else of the state: IMSIs and group ids never reach the text.
    const q = plan([sub('10.128.0.2', { groupId: 'evil"; flush ruleset' })], [group('evil"; flush ruleset', '192.0.2.10')]);
    expect(q.nft).not.toContain('evil');
    expect(q.nft).not.toContain('00101');
  });
});


// What a Linux gateway must do to follow the store's state, rendered as one nftables script (the
// whole table, replaced in one transaction) plus the policy routes that quarantine needs. Pure, so
// the text the gateway gets is unit-tested. Only addresses from the state reach the text, each
// validated and rewritten in canonical form first; nothing else from the state (IMSIs, group ids,
// tags) does, so no field of a subscriber or group can inject nft syntax.
//
// Per device address, strictest first:
//   block       status inactive/suspended/terminated, or a quarantine group that cannot redirect
//               (no gateway, one that cannot be a next hop, one of the other family, or one whose
//               route the gateway refused): its address in set blocked_v4/v6; forwarded packets from
//               or to it are dropped. A quarantined device is never left open.
//   quarantine  group with configuration.tapwatch.quarantine and a redirectGateway: its address in
//               that group's set; prerouting marks its packets, and `ip rule fwmark M lookup M` routes
//               them via the gateway (table M: `default via GW`).
//   throttle    speedClass other than UNTHROTTLED_SPEED_CLASS: one rule per direction and device,
//               `limit rate over N bytes/second drop`. Per-device rules rather than a meter: each
//               rule keeps its own token bucket, and the listing holds only what was rendered (a
//               meter's dynamic elements appear with traffic, so applying the same state twice would
//               not list the same). Throttling is a remedy for a few devices at a time, so the
//               linear rule walk stays short.

import { SPEED_CLASS_KBPS, UNTHROTTLED_SPEED_CLASS, type Group, type NotEnforced, type SubscriberStatus } from '../../contracts/control-api.js';
import type { ErrorCode } from '../../contracts/errors.js';
import { AddressError, parseAddress, unroutableReason, type Address, type AddressFamily as Family } from '../../net/address.js';
import { fnv1a } from '../../net/hash.js';
import type { EnforcementState } from '../model.js';

export type { Family };

export const DEFAULT_TABLE = 'tapwatch';
/** Quarantine marks, which are also the numbers of their routing tables: base + a 16-bit slot per
 *  group. 'tw' in the high half keeps them apart from marks and tables others use. */
export const QUARANTINE_MARK_BASE = 0x74770000;
/** Priority of the quarantine `ip rule`s: ahead of the main table's 32766. */
export const QUARANTINE_RULE_PREF = 1000;

const BLOCKED_STATUSES: ReadonlySet<SubscriberStatus> = new Set(['inactive', 'suspended', 'terminated']);

export class NftRulesetError extends Error {
  readonly code: ErrorCode = 'TWE0002';
}

/** The policy route of one quarantine group: packets marked `mark` use table `mark`, default via `gateway`. */
export interface QuarantineRoute {
  groupId: string;
  family: Family;
  mark: number;
  gateway: string;
}

export interface EnforcementPlan {
  /** The nft script: creates the table if missing, deletes it and adds it anew, as one transaction. */
  nft: string;
  routes: QuarantineRoute[];
  /** Device addresses per action (an address is counted under its strictest action only), and
   *  subscribers without an ipAddress (not enforced here: nothing to match their packets by). */
  counts: { blocked: number; quarantined: number; throttled: number; unaddressed: number };
  /** What the state asks that cannot be done as asked: subscribers whose ipAddress is not an address
   *  (skipped), quarantine groups without a usable gateway (their devices are blocked). */
  problems: NotEnforced[];
}

interface Decision {
  addr: Address;
  blocked: boolean;
  quarantine?: QuarantineRoute;
  /** The slowest class rate of the subscribers at this address, in kbit/s. */
  kbps?: number;
}

/** Throws unless `table` is a plain nft identifier (it goes into the text as it is). */
export function checkTableName(table: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(table)) throw new NftRulesetError(`bad nft table name '${table}'`);
}

/**
 * `unroutable`: quarantine groups whose route the gateway refused (group id → why), planned as groups that
 * cannot redirect: their members are blocked, everything else is planned as asked.
 */
export function planEnforcement(state: EnforcementState, table = DEFAULT_TABLE, unroutable: ReadonlyMap<string, string> = new Map()): EnforcementPlan {
  checkTableName(table);
  const problems: EnforcementPlan['problems'] = [];
  const quarantine = quarantineGroups(state.groups, problems, unroutable);
  let unaddressed = 0;

  const byAddr = new Map<string, Decision>();
  for (const sub of [...state.subscribers].sort((x, y) => cmp(x.imsi, y.imsi))) {
    if (sub.ipAddress === null) {
      unaddressed++;
      continue;
    }
    const addr = parseAddress(sub.ipAddress);
    if (addr instanceof AddressError) {
      problems.push({ imsi: sub.imsi, reason: `ipAddress ${addr.message}: not enforced` });
      continue;
    }
    const d = byAddr.get(addr.text) ?? { addr, blocked: false };
    byAddr.set(addr.text, d);
    const q = sub.groupId === null ? undefined : quarantine.get(sub.groupId);
    if (q && q.family !== addr.family) {
      problems.push({ imsi: sub.imsi, reason: `its address is IPv${addr.family}, group ${q.groupId}'s redirect gateway IPv${q.family}: blocked instead of quarantined` });
    }
    // A quarantine group without a usable gateway (null), or one of the other family, cannot redirect: block.
    if (BLOCKED_STATUSES.has(sub.status) || q === null || (q && q.family !== addr.family)) d.blocked = true;
    else if (q) d.quarantine ??= q; // two subscribers at one address in two groups: the first IMSI's group
    if (sub.speedClass !== UNTHROTTLED_SPEED_CLASS) d.kbps = Math.min(d.kbps ?? Infinity, SPEED_CLASS_KBPS[sub.speedClass]);
  }

  const decisions = [...byAddr.values()].sort((x, y) => x.addr.family - y.addr.family || cmp(x.addr.text, y.addr.text));
  const blocked = decisions.filter((d) => d.blocked);
  const active = decisions.filter((d) => !d.blocked);
  const routes = [...quarantine.values()].filter((r): r is QuarantineRoute => r !== null).sort((x, y) => x.mark - y.mark);
  const throttled = active.filter((d) => d.kbps !== undefined);

  const sets = [
    renderSet('blocked_v4', 4, blocked),
    renderSet('blocked_v6', 6, blocked),
    ...routes.map((r) => renderSet(quarantineSetName(r), r.family, active.filter((d) => d.quarantine === r))),
  ];
  const prerouting = routes.map((r) => `${match(r.family)} saddr @${quarantineSetName(r)} meta mark set ${formatMark(r.mark)}`);
  const forward = [
    ...(['saddr', 'daddr'] as const).flatMap((dir) => [`ip ${dir} @blocked_v4 drop`, `ip6 ${dir} @blocked_v6 drop`]),
    ...throttled.flatMap((d) =>
      (['saddr', 'daddr'] as const).map((dir) => `${match(d.addr.family)} ${dir} ${d.addr.text} limit rate over ${bytesPerSecond(d.kbps!)} bytes/second drop`),
    ),
  ];
  const nft = [
    // Create-then-delete makes the delete succeed whether or not the table exists; all three lines are one
    // transaction (nft -f), so the gateway never runs without the table, nor with half of the new one.
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    ...sets,
    renderChain('prerouting', 'type filter hook prerouting priority mangle; policy accept;', prerouting),
    renderChain('forward', 'type filter hook forward priority filter; policy accept;', forward),
    '}',
    '',
  ].join('\n');
  return {
    nft,
    routes,
    counts: { blocked: blocked.length, quarantined: active.filter((d) => d.quarantine).length, throttled: throttled.length, unaddressed },
    problems,
  };
}

/** Quarantine groups by id: their route, or null when they cannot redirect (no or a bad gateway). */
function quarantineGroups(groups: readonly Group[], problems: EnforcementPlan['problems'], unroutable: ReadonlyMap<string, string>): Map<string, QuarantineRoute | null> {
  const out = new Map<string, QuarantineRoute | null>();
  const used = new Set<number>();
  for (const g of [...groups].sort((x, y) => cmp(x.groupId, y.groupId))) {
    const conf = g.configuration.tapwatch;
    if (!conf?.quarantine) continue;
    const gw = gatewayOf(conf.redirectGateway, unroutable.get(g.groupId));
    if (!('family' in gw)) {
      problems.push({ groupId: g.groupId, reason: `${gw.why}: its members are blocked instead of quarantined` });
      out.set(g.groupId, null);
      continue;
    }
    // The slot comes from the group id, so a group keeps its mark and table when others come and go
    // (no moment where its marked packets meet another group's route); collisions take the next free slot.
    if (used.size === 0xffff) throw new NftRulesetError('more than 65535 quarantine groups');
    let slot = (fnv1a(g.groupId) % 0xffff) + 1;
    while (used.has(slot)) slot = (slot % 0xffff) + 1;
    used.add(slot);
    out.set(g.groupId, { groupId: g.groupId, family: gw.family, mark: QUARANTINE_MARK_BASE + slot, gateway: gw.text });
  }
  return out;
}

/** The gateway a quarantine group redirects to, or why it cannot. */
function gatewayOf(text: string | null, refused: string | undefined): Address | { why: string } {
  if (text === null) return { why: 'quarantine without a redirectGateway' };
  const a = parseAddress(text);
  if (a instanceof AddressError) return { why: `redirectGateway ${a.message}` };
  const bad = unroutableReason(a);
  if (bad) return { why: `redirectGateway ${a.text} is ${bad}` };
  if (refused) return { why: `the route via ${a.text} could not be installed (${refused})` };
  return a;
}

function renderSet(name: string, family: Family, members: readonly Decision[]): string {
  const elements = members.filter((d) => d.addr.family === family).map((d) => d.addr.text);
  const lines = [`\tset ${name} {`, `\t\ttype ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'}`];
  if (elements.length > 0) lines.push(`\t\telements = { ${elements.join(', ')} }`); // nft rejects an empty list
  return [...lines, '\t}'].join('\n');
}

function renderChain(name: string, head: string, rules: readonly string[]): string {
  return [`\tchain ${name} {`, `\t\t${head}`, ...rules.map((r) => `\t\t${r}`), '\t}'].join('\n');
}

/** True for the marks (and table numbers) quarantine uses. */
export function isQuarantineMark(n: number): boolean {
  return n > QUARANTINE_MARK_BASE && n <= QUARANTINE_MARK_BASE + 0xffff;
}

export const formatMark = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

export function quarantineSetName(r: QuarantineRoute): string {
  return `quarantine_${(r.mark - QUARANTINE_MARK_BASE).toString(16).padStart(4, '0')}`;
}

const match = (f: Family): string => (f === 4 ? 'ip' : 'ip6');
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** SORACOM's kbit/s are 1000 bits; nft's limit counts whole packets' bytes (IP header included). */
const bytesPerSecond = (kbps: number): number => kbps * 125;

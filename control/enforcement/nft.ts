// The nftables enforcer: makes the Linux gateway that forwards device traffic (this host, or a
// network namespace on it) follow the store. Every change renders the whole desired table
// (nft-ruleset.ts) and replaces it in one `nft -f -` transaction, so there is nothing to diff and
// no moment without rules; quarantine's policy routes (`ip rule` + a routing table per group) are
// made to match around it.
//
// A failure is kept to what it concerns: a quarantine group whose route the gateway refuses (its
// gateway is on no connected network, say) is planned again as a group that cannot redirect, so its
// members are blocked, and every other block, throttle and quarantine is applied all the same. The
// report says which group and why; the runner retries, so the route goes in once it can.
//
// close() leaves the rules in place on purpose: a blocked device stays blocked while the control
// server restarts, and the next reconcile() replaces the table anyway.

import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { EnforcementReport, EnforcementState, Enforcer, Subscriber, SubscriberAction } from '../model.js';
import { checkTableName, DEFAULT_TABLE, formatMark, isQuarantineMark, planEnforcement, QUARANTINE_RULE_PREF, type Family, type QuarantineRoute } from './nft-ruleset.js';
import type { ErrorCode } from '../../contracts/errors.js';

export class NftEnforcerError extends Error {
  readonly code: ErrorCode = 'TWE0001';
}

export interface NftEnforcerOptions {
  /** nft table (family inet) this enforcer owns; default 'tapwatch'. */
  table?: string;
  /** Network namespace of the gateway: commands run as `ip netns exec NS nft …` and `ip -n NS …`. */
  netns?: string;
  log: Logger;
}

export class NftEnforcer implements Enforcer {
  readonly name = 'nft';
  private readonly table: string;
  private readonly netns: string | undefined;
  private readonly log: Logger;
  /** The newest caller's state: a batch renders it once for everyone who joined. */
  private latest: (() => EnforcementState) | null = null;
  /** The batch not yet started, which new calls join. */
  private waiting: Promise<EnforcementReport> | null = null;
  /** The last batch started or queued: the next one runs after it, never beside it. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Whether the waiting batch includes a reconcile, which applies even an unchanged plan. */
  private force = false;
  /** The plan this enforcer last applied, and what it reported (null when unknown: none yet, or a failure since). */
  private applied: { key: string; report: EnforcementReport } | null = null;
  private closed = false;

  constructor(opts: NftEnforcerOptions) {
    this.table = opts.table ?? DEFAULT_TABLE;
    checkTableName(this.table);
    this.netns = opts.netns;
    this.log = opts.log.child({ enforcer: 'nft', table: this.table, ...(opts.netns ? { netns: opts.netns } : {}) });
  }

  /** Applies the state even when it renders as last applied: the gateway may have drifted meanwhile. */
  reconcile(state: EnforcementState): Promise<EnforcementReport> {
    return this.enqueue(() => state, true);
  }

  /**
   * The table is rendered from the whole state, so which subscriber changed and how does not matter.
   * A plan equal to the last applied is not applied again: a caller applying a batch of changes one
   * by one against one state snapshot replaces the table once, not once per change.
   */
  apply(_subscriber: Subscriber, _action: SubscriberAction, state: () => EnforcementState): Promise<EnforcementReport> {
    return this.enqueue(state, false);
  }

  /** Set elements and per-device rules in the live table (0 when there is no table). */
  async liveEntries(): Promise<number> {
    let listed: string;
    try {
      listed = await this.run('nft', ['-j', 'list', 'table', 'inet', this.table]);
    } catch (err) {
      if (/No such file or directory/.test((err as Error).message)) return 0;
      throw err;
    }
    const objects = (JSON.parse(listed) as { nftables: Array<{ set?: { elem?: unknown[] }; rule?: { chain: string; expr: Array<Record<string, unknown>> } }> }).nftables;
    let n = 0;
    for (const o of objects) {
      if (o.set) n += o.set.elem?.length ?? 0;
      else if (o.rule && o.rule.expr.some((e) => 'limit' in e)) n++;
    }
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail.catch(() => undefined);
  }

  private enqueue(state: () => EnforcementState, force: boolean): Promise<EnforcementReport> {
    if (this.closed) return Promise.reject(new NftEnforcerError('nft enforcer is closed'));
    this.latest = state;
    this.force ||= force;
    if (this.waiting) return this.waiting;
    const batch = this.tail
      .catch(() => undefined) // the previous batch's failure was its callers' to handle
      .then(() => {
        const latest = this.latest!;
        const force = this.force;
        this.latest = null;
        this.force = false;
        this.waiting = null; // calls from now on make the next batch
        return this.enforce(latest(), force);
      });
    this.waiting = batch;
    this.tail = batch;
    return batch;
  }

  private async enforce(state: EnforcementState, force: boolean): Promise<EnforcementReport> {
    let plan = planEnforcement(state, this.table);
    const key = JSON.stringify([plan.nft, plan.routes]);
    if (!force && key === this.applied?.key) {
      this.log.debug('nft ruleset unchanged');
      return this.applied.report;
    }
    this.applied = null;
    // Routes before the rules that mark packets for them. A route the gateway refuses takes its group
    // out of the plan (its members are blocked instead), and the rest is applied as asked.
    const refused = await this.ensureRoutes(plan.routes);
    if (refused.size > 0) plan = planEnforcement(state, this.table, refused);
    await this.run('nft', ['-f', '-'], plan.nft);
    // Stale routes only after no rule marks for them.
    await this.pruneRoutes(plan.routes);
    const report: EnforcementReport = { notEnforced: plan.problems, retry: refused.size > 0 };
    this.applied = { key, report };
    if (plan.problems.length > 0) this.log.warn({ problems: plan.problems.length, first: plan.problems.slice(0, 5) }, 'state not enforceable as asked (see reasons)');
    this.log.info({ ...plan.counts, quarantineGroups: plan.routes.length }, 'nft ruleset applied');
    return report;
  }

  /** Installs each route; returns the groups whose route the gateway refused, with why. */
  private async ensureRoutes(routes: readonly QuarantineRoute[]): Promise<Map<string, string>> {
    const refused = new Map<string, string>();
    for (const fam of [4, 6] as const) {
      const want = routes.filter((r) => r.family === fam);
      if (want.length === 0) continue;
      const have = new Set((await this.ourRules(fam)).map((r) => r.mark));
      for (const r of want) {
        const table = String(r.mark);
        try {
          await this.ip(fam, ['route', 'replace', 'default', 'via', r.gateway, 'table', table]);
          if (!have.has(r.mark)) await this.ip(fam, ['rule', 'add', 'pref', String(QUARANTINE_RULE_PREF), 'fwmark', formatMark(r.mark), 'table', table]);
        } catch (err) {
          refused.set(r.groupId, (err as Error).message);
        }
      }
    }
    return refused;
  }

  private async pruneRoutes(routes: readonly QuarantineRoute[]): Promise<void> {
    for (const fam of [4, 6] as const) {
      const keep = new Set(routes.filter((r) => r.family === fam).map((r) => r.mark));
      for (const r of await this.ourRules(fam)) {
        if (!keep.has(r.mark)) await this.ip(fam, ['rule', 'del', 'pref', String(QUARANTINE_RULE_PREF), 'fwmark', formatMark(r.mark), 'table', String(r.table)]);
      }
      const tables = JSON.parse(await this.ip(fam, ['-j', 'route', 'show', 'table', 'all'])) as Array<{ table?: string }>;
      for (const t of new Set(tables.map((r) => Number(r.table)))) {
        if (isQuarantineMark(t) && !keep.has(t)) await this.ip(fam, ['route', 'flush', 'table', String(t)]);
      }
    }
  }

  /** This enforcer's `ip rule`s of one family: at its priority, with a mark in its range. */
  private async ourRules(fam: Family): Promise<Array<{ mark: number; table: string }>> {
    const rules = JSON.parse(await this.ip(fam, ['-j', 'rule', 'show'])) as Array<{ priority?: number; fwmark?: string; table?: string }>;
    return rules
      .filter((r) => r.priority === QUARANTINE_RULE_PREF && r.fwmark !== undefined && isQuarantineMark(Number(r.fwmark)))
      .map((r) => ({ mark: Number(r.fwmark), table: r.table ?? '' }));
  }

  private ip(fam: Family, args: readonly string[]): Promise<string> {
    return this.run('ip', [...(this.netns ? ['-n', this.netns] : []), `-${fam}`, ...args]);
  }

  /** Runs `cmd` (inside the gateway's namespace for nft) and resolves with its stdout; rejects saying which command failed and why. */
  private run(cmd: 'nft' | 'ip', args: readonly string[], input?: string): Promise<string> {
    const argv = cmd === 'nft' && this.netns ? ['ip', 'netns', 'exec', this.netns, 'nft', ...args] : [cmd, ...args];
    const what = `\`${argv.join(' ')}\``;
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.stdin.on('error', () => undefined); // a child that exits early reports through its exit code
      child.stdin.end(input ?? '');
      child.once('error', (e: NodeJS.ErrnoException) => {
        reject(new NftEnforcerError(e.code === 'ENOENT' ? `${argv[0]} not found: ${missingHint(argv[0])}` : `${what} could not start: ${e.message}`));
      });
      child.once('close', (code, signal) => {
        if (code === 0) return resolve(out);
        const why = err.trim() || `no output`;
        // `ip netns exec` reports a missing command as its own failure.
        if (/exec of "nft" failed: No such file/.test(err)) return reject(new NftEnforcerError(`nft not found: ${missingHint('nft')}`));
        reject(new NftEnforcerError(`${what} failed (${code !== null ? `exit ${code}` : signal}): ${why}`));
      });
    });
  }
}

function missingHint(cmd: string): string {
  return cmd === 'nft' ? 'the nftables enforcer needs nftables (apt-get install nftables)' : 'the nftables enforcer needs iproute2 (apt-get install iproute2)';
}

// Makes the enforcer follow the store. The store is the desired state, so an enforcer failure never
// fails a request: it is logged, counted, and repaired by a full reconcile retried with backoff.
// Calls into the enforcer never overlap (an nft ruleset or an upstream API sees one change at a
// time). Changes that arrive while one is being applied wait and go together in the next batch,
// which reads the store's state at most once and keeps only the latest change per subscriber and
// field (status, speed class, group); a pending reconcile covers every change queued before it.
//
// What is not enforced is tracked per subscriber and group, not as one flag for the fleet: an
// enforcer reports what it could not do as asked (a quarantine group whose route failed: its members
// blocked instead) while it did the rest, and each caller learns whether *its* subscriber is
// enforced, and why not.

import type { Logger } from 'pino';
import type { NotEnforced } from '../../contracts/control-api.js';
import { backoffMs } from '../../net/backoff.js';
import type { ControlMetrics } from '../metrics.js';
import { ACTION_FIELD, type EnforcementReport, type EnforcementState, type Enforcer, type Subscriber, type SubscriberAction } from '../model.js';
import { redactUrls } from '../redact.js';

export interface EnforcementStatus {
  enforcer: string;
  /** False from a failed enforcer call until a reconcile succeeds. */
  healthy: boolean;
  lastError: string | null;
  lastReconcile: { time: number; ok: boolean } | null;
  /** What the enforcement point does not follow as the store asks, and why (empty when it follows it all). */
  notEnforced: NotEnforced[];
}

/** Whether a change (or the whole state) is enforced as asked; if not, why. */
export interface Enforcement {
  enforced: boolean;
  reasons: string[];
}

export interface RetryOptions {
  initialMs: number;
  maxMs: number;
}

interface Pending {
  subscriber: Subscriber;
  action: SubscriberAction;
  done: Array<(e: Enforcement) => void>;
}

export class EnforcementRunner {
  private readonly pending = new Map<string, Pending>();
  private reconcileWaiters: Array<(e: Enforcement) => void> | null = null;
  private running: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retries = 0;
  private closed = false;
  private readonly st: EnforcementStatus;

  constructor(
    private readonly enforcer: Enforcer,
    private readonly state: () => EnforcementState,
    private readonly log: Logger,
    private readonly metrics: ControlMetrics,
    private readonly retry: RetryOptions = { initialMs: 1000, maxMs: 60_000 },
  ) {
    this.st = { enforcer: enforcer.name, healthy: true, lastError: null, lastReconcile: null, notEnforced: [] };
  }

  status(): EnforcementStatus {
    return { ...this.st, notEnforced: [...this.st.notEnforced] };
  }

  /** Whether `subscriber` is enforced as the store has it now, from what the enforcer last reported. */
  enforcementOf(subscriber: Subscriber): Enforcement {
    // A reconcile that threw enforced nothing: no subscriber can be said to be enforced until one succeeds.
    if (this.st.lastReconcile?.ok === false) return { enforced: false, reasons: [`the enforcer is failing: ${this.st.lastError}`] };
    const reasons = this.st.notEnforced.filter((n) => concerns(n, subscriber)).map(describe);
    return { enforced: reasons.length === 0, reasons };
  }

  /** After a committed change; resolves once the enforcer has it, saying whether this subscriber is enforced. */
  apply(subscriber: Subscriber, action: SubscriberAction): Promise<Enforcement> {
    return new Promise((resolve) => {
      // Of two queued changes to one field only the later matters (an activate queued after a
      // deactivate replaces it), while changes to different fields commute.
      const key = `${subscriber.imsi} ${ACTION_FIELD[action.type]}`;
      const queued = this.pending.get(key);
      if (queued) {
        queued.subscriber = subscriber;
        queued.action = action;
        queued.done.push(resolve);
      } else this.pending.set(key, { subscriber, action, done: [resolve] });
      this.kick();
    });
  }

  /** The whole state again (at start, after a group or import change, and as the retry); enforced when all of it is. */
  reconcile(): Promise<Enforcement> {
    return new Promise((resolve) => {
      (this.reconcileWaiters ??= []).push(resolve);
      this.kick();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running;
    await this.enforcer.close();
  }

  private kick(): void {
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  private async drain(): Promise<void> {
    while (this.reconcileWaiters || this.pending.size > 0) {
      if (this.reconcileWaiters) {
        const covered = [...this.pending.values()];
        const waiters = this.reconcileWaiters;
        this.reconcileWaiters = null;
        this.pending.clear();
        const ok = await this.runReconcile();
        const all: Enforcement = ok
          ? { enforced: this.st.notEnforced.length === 0, reasons: this.st.notEnforced.map(describe) }
          : { enforced: false, reasons: [`the enforcer is failing: ${this.st.lastError}`] };
        for (const w of waiters) w(all);
        for (const p of covered) for (const w of p.done) w(this.enforcementOf(p.subscriber));
        continue;
      }
      const batch = [...this.pending.values()];
      this.pending.clear();
      let snapshot: EnforcementState | null = null;
      const state = (): EnforcementState => (snapshot ??= this.state());
      for (const p of batch) {
        try {
          const report = await this.enforcer.apply(p.subscriber, p.action, state);
          // A report describes the whole state (an enforcer that renders it); none says only that this change went through.
          if (report) this.reported(report);
          else this.st.notEnforced = this.st.notEnforced.filter((n) => n.imsi !== p.subscriber.imsi);
        } catch (err) {
          const reason = this.failed('apply', err, { imsi: p.subscriber.imsi, action: p.action.type });
          // This subscriber is not enforced; the others are as they were.
          this.st.notEnforced = [...this.st.notEnforced.filter((n) => n.imsi !== p.subscriber.imsi), { imsi: p.subscriber.imsi, reason: `the enforcer failed: ${reason}` }];
        }
        const e = this.enforcementOf(p.subscriber);
        for (const w of p.done) w(e);
      }
    }
  }

  private async runReconcile(): Promise<boolean> {
    let report: EnforcementReport | void;
    try {
      report = await this.enforcer.reconcile(this.state());
    } catch (err) {
      this.st.lastReconcile = { time: Date.now(), ok: false };
      this.failed('reconcile', err, {});
      return false;
    }
    this.st.lastReconcile = { time: Date.now(), ok: true };
    if (!this.st.healthy) this.log.info({ enforcer: this.enforcer.name }, 'enforcer reconciled, healthy again');
    this.st.healthy = true;
    this.st.lastError = null;
    this.reported(report ?? { notEnforced: [] });
    if (!report?.retry) this.retries = 0;
    return true;
  }

  /** What the enforcer could not do as asked: kept for /healthz and the replies, logged when it changes,
   *  and retried later when its cause may pass. */
  private reported(report: EnforcementReport): void {
    const before = JSON.stringify(this.st.notEnforced);
    this.st.notEnforced = report.notEnforced.map((n) => ({ ...n, reason: redactUrls(n.reason) }));
    if (JSON.stringify(this.st.notEnforced) !== before && this.st.notEnforced.length > 0) {
      this.log.warn({ enforcer: this.enforcer.name, count: this.st.notEnforced.length, first: this.st.notEnforced.slice(0, 5) }, 'not everything is enforced as the store asks');
    }
    if (report.retry && report.notEnforced.length > 0) this.scheduleRetry();
  }

  /** Logs, counts and schedules the repairing reconcile; returns the (redacted) error message. */
  private failed(operation: 'apply' | 'reconcile', err: unknown, context: object): string {
    const message = redactUrls((err as Error)?.message ?? String(err));
    this.metrics.enforcementFailures.inc([this.enforcer.name, operation]);
    this.st.healthy = false;
    this.st.lastError = message;
    this.log.error({ ...context, enforcer: this.enforcer.name, operation, err: message }, 'enforcer failed; will reconcile');
    this.scheduleRetry();
    return message;
  }

  /** A reconcile after a delay growing with each retry (net/backoff.ts), one at a time. */
  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    const ms = backoffMs(this.retries++, { baseMs: this.retry.initialMs, maxMs: this.retry.maxMs });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.reconcile();
    }, ms);
    this.retryTimer.unref();
  }
}

/** An entry concerns a subscriber when it names it, or names the group it is in. */
function concerns(n: NotEnforced, s: Subscriber): boolean {
  return n.imsi === s.imsi || (n.groupId !== undefined && n.groupId === s.groupId);
}

const describe = (n: NotEnforced): string => `${n.imsi ? `subscriber ${n.imsi}` : `group ${n.groupId}`}: ${n.reason}`;

/** `--enforcer none`: the store alone, nothing to enforce (tests, the bench, a dry run). */
export class NoopEnforcer implements Enforcer {
  readonly name = 'none';
  async reconcile(): Promise<void> {}
  async apply(): Promise<void> {}
  async close(): Promise<void> {}
}

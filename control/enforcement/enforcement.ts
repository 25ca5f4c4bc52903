// Makes the enforcer follow the store. The store is the desired state, so an enforcer failure never
// fails a request: it is logged, counted, and repaired by a full reconcile retried with backoff.
// Calls into the enforcer never overlap (an nft ruleset or an upstream API sees one change at a
// time). Changes that arrive while one is being applied wait and go together in the next batch,
// which reads the store's state at most once and keeps only the latest change per subscriber and
// field (status, speed class, group); a pending reconcile covers every change queued before it.

import type { Logger } from 'pino';
import type { ControlMetrics } from '../metrics.js';
import type { EnforcementState, Enforcer, Subscriber, SubscriberAction } from '../model.js';

export interface EnforcementStatus {
  enforcer: string;
  /** False from a failed enforcer call until a reconcile succeeds. */
  healthy: boolean;
  lastError: string | null;
  lastReconcile: { time: number; ok: boolean } | null;
}

export interface RetryOptions {
  initialMs: number;
  maxMs: number;
}

/** The field each action sets: of two queued changes to one field only the later matters (an
 *  activate queued after a deactivate replaces it), while changes to different fields commute. */
const FIELD: Record<SubscriberAction['type'], string> = {
  deactivate: 'status',
  activate: 'status',
  update_speed_class: 'speedClass',
  set_group: 'group',
  unset_group: 'group',
};

interface Pending {
  subscriber: Subscriber;
  action: SubscriberAction;
  done: Array<(enforced: boolean) => void>;
}

export class EnforcementRunner {
  private readonly pending = new Map<string, Pending>();
  private reconcileWaiters: Array<(enforced: boolean) => void> | null = null;
  private running: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs: number;
  private closed = false;
  private readonly st: EnforcementStatus;

  constructor(
    private readonly enforcer: Enforcer,
    private readonly state: () => EnforcementState,
    private readonly log: Logger,
    private readonly metrics: ControlMetrics,
    private readonly retry: RetryOptions = { initialMs: 1000, maxMs: 60_000 },
  ) {
    this.retryMs = retry.initialMs;
    this.st = { enforcer: enforcer.name, healthy: true, lastError: null, lastReconcile: null };
  }

  status(): EnforcementStatus {
    return { ...this.st };
  }

  /** After a committed change; resolves once the enforcer has it (true) or has failed (false). */
  apply(subscriber: Subscriber, action: SubscriberAction): Promise<boolean> {
    return new Promise((resolve) => {
      const key = `${subscriber.imsi} ${FIELD[action.type]}`;
      const queued = this.pending.get(key);
      if (queued) {
        queued.subscriber = subscriber;
        queued.action = action;
        queued.done.push(resolve);
      } else this.pending.set(key, { subscriber, action, done: [resolve] });
      this.kick();
    });
  }

  /** The whole state again (at start, after a group or import change, and as the retry). */
  reconcile(): Promise<boolean> {
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
        const waiters = [...this.reconcileWaiters, ...[...this.pending.values()].flatMap((p) => p.done)];
        this.reconcileWaiters = null;
        this.pending.clear();
        const ok = await this.runReconcile();
        for (const w of waiters) w(ok);
        continue;
      }
      const batch = [...this.pending.values()];
      this.pending.clear();
      let snapshot: EnforcementState | null = null;
      const state = (): EnforcementState => (snapshot ??= this.state());
      for (const p of batch) {
        let ok = true;
        try {
          await this.enforcer.apply(p.subscriber, p.action, state);
        } catch (err) {
          ok = false;
          this.failed('apply', err, { imsi: p.subscriber.imsi, action: p.action.type });
        }
        for (const w of p.done) w(ok);
      }
    }
  }

  private async runReconcile(): Promise<boolean> {
    try {
      await this.enforcer.reconcile(this.state());
    } catch (err) {
      this.st.lastReconcile = { time: Date.now(), ok: false };
      this.failed('reconcile', err, {});
      return false;
    }
    this.st.lastReconcile = { time: Date.now(), ok: true };
    if (!this.st.healthy) this.log.info({ enforcer: this.enforcer.name }, 'enforcer reconciled, healthy again');
    this.st.healthy = true;
    this.st.lastError = null;
    this.retryMs = this.retry.initialMs;
    return true;
  }

  private failed(operation: 'apply' | 'reconcile', err: unknown, context: object): void {
    const message = (err as Error)?.message ?? String(err);
    this.metrics.enforcementFailures.inc([this.enforcer.name, operation]);
    this.st.healthy = false;
    this.st.lastError = message;
    this.log.error({ ...context, enforcer: this.enforcer.name, operation, err: message, retryInMs: this.retryMs }, 'enforcer failed; will reconcile');
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.reconcile();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, this.retry.maxMs);
  }
}

/** `--enforcer none`: the store alone, nothing to enforce (tests, the bench, a dry run). */
export class NoopEnforcer implements Enforcer {
  readonly name = 'none';
  async reconcile(): Promise<void> {}
  async apply(): Promise<void> {}
  async close(): Promise<void> {}
}

// What a retry loop logs while its peer (Kafka, Elasticsearch) is away: one line when it goes away, with the
// reason; then at most one reminder every `remindEveryMs` (default a minute) with the number of failed
// attempts so far; and one line when an attempt succeeds again. A loop that retries every few seconds
// (net/backoff.ts caps the delay at 5 s) would otherwise write a warning at that rate for as long as the
// outage lasts, burying everything else in the log.

import type { Logger } from 'pino';

export interface OutageLogOptions {
  /** Longest silence between two lines while the peer stays away (default 60 s). */
  remindEveryMs?: number;
  /** Fields added to every line (the sink's name, ...). */
  fields?: Record<string, unknown>;
  /** The clock (tests pass a fake one). */
  now?: () => number;
}

export class OutageLog {
  private downSince: number | null = null;
  private remindedAt = 0;
  private failures = 0;
  private readonly now: () => number;

  constructor(private readonly log: Pick<Logger, 'warn' | 'info'>, private readonly peer: string, private readonly o: OutageLogOptions = {}) {
    this.now = o.now ?? Date.now;
  }

  /** Failed attempts since the peer went away (0 while it is reachable). */
  get attempts(): number {
    return this.failures;
  }

  /** An attempt failed: a line when this starts an outage, else a reminder once remindEveryMs has passed. */
  failed(err: Error): void {
    const now = this.now();
    this.failures++;
    if (this.downSince === null) {
      this.downSince = this.remindedAt = now;
      this.log.warn({ ...this.o.fields, err: err.message }, `${this.peer} unreachable; retrying`);
    } else if (now - this.remindedAt >= (this.o.remindEveryMs ?? 60_000)) {
      this.remindedAt = now;
      this.log.warn({ ...this.o.fields, err: err.message, failedAttempts: this.failures, downForS: Math.round((now - this.downSince) / 1000) }, `${this.peer} still unreachable; retrying`);
    }
  }

  /** An attempt succeeded: a line if the peer had been away. */
  ok(): void {
    if (this.downSince === null) return;
    this.log.info({ ...this.o.fields, failedAttempts: this.failures, downForS: Math.round((this.now() - this.downSince) / 1000) }, `${this.peer} reachable again`);
    this.downSince = null;
    this.failures = 0;
  }
}

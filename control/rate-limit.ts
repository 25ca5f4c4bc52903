// A token bucket per caller, in memory: `perSecond` sustained with bursts up to `burst`. In memory
// is enough for one server; the count restarts with it, which errs on the side of letting through.

export interface RateLimitOptions {
  perSecond: number;
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 200, burst: 400 };

/** Buckets beyond this many are swept of the full ones (callers idle long enough to have refilled). */
const SWEEP_AT = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly opts: RateLimitOptions, private readonly clock: () => number = Date.now) {
    if (!(opts.perSecond > 0) || !(opts.burst >= 1)) throw new RangeError(`rate limit: perSecond must be > 0 and burst >= 1, got ${opts.perSecond}/${opts.burst}`);
  }

  /** 0 if `caller` may go ahead (and takes a token), else the seconds until it may (for Retry-After). */
  take(caller: string): number {
    const now = this.clock();
    let b = this.buckets.get(caller);
    if (!b) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(now);
      b = { tokens: this.opts.burst, at: now };
      this.buckets.set(caller, b);
    } else {
      b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) / 1000) * this.opts.perSecond);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.opts.perSecond));
  }

  private sweep(now: number): void {
    const refillMs = (this.opts.burst / this.opts.perSecond) * 1000;
    for (const [caller, b] of this.buckets) if (now - b.at >= refillMs) this.buckets.delete(caller);
  }
}

// What keeps POST /v1/auth serving under attack (issue 11 item 4). A login costs a scrypt (~22 ms of a
// core here, slow on purpose), so a flood of bad logins once took the whole server down: 512
// connections made a legitimate login time out and cut the action routes to a quarter. Three limits,
// each below what the hashing can serve, are checked before any scrypt runs:
//
//   - per address: a few attempts a second, bursts of twice that (every attempt spends);
//   - per authKeyId: the same, so guessing one key from many addresses is bounded too (the price: a
//     key under such an attack is locked out for as long as it lasts, like any account lockout);
//   - at most `concurrency` scrypts at once, `queue` waiting; past that the login is refused at once
//     rather than queued behind the flood. Addresses with no failed login in the last ten minutes wait
//     in a queue of their own, served first: a legitimate client waits for the scrypt in progress at
//     most, however many guesses are queued.
//
// A refused login is 429 with Retry-After, and costs no scrypt.

import { RateLimiter, type RateLimitOptions } from './rate-limit.js';

export interface LoginLimits {
  perAddress: RateLimitOptions;
  perKeyId: RateLimitOptions;
  /** scrypts at once; the rest of the cores keep serving requests. */
  concurrency: number;
  /** logins waiting for a scrypt; past this, refused. */
  queue: number;
}

/** scrypt serves ~45 logins/s on two idle cores here, far fewer on a busy machine: an attacking address
 *  gets one a second, so a legitimate login waits behind one scrypt at most. A client logs in once a day. */
export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perAddress: { perSecond: 1, burst: 3 },
  perKeyId: { perSecond: 1, burst: 3 },
  concurrency: 1,
  queue: 16,
};

export class LoginBusyError extends Error {}

/** How long a failed login marks its address as one whose logins wait behind the others. */
const SUSPECT_MS = 10 * 60_000;
/** Addresses remembered at most; past this, the oldest failures are forgotten first. */
const MAX_SUSPECTS = 10_000;

export class LoginGuard {
  private readonly byAddress: RateLimiter;
  private readonly byKeyId: RateLimiter;
  private running = 0;
  /** Logins waiting for a scrypt: from addresses without recent failures, and from the others. */
  private readonly waiting = { clean: [] as Array<() => void>, suspect: [] as Array<() => void> };
  /** Address → when its last login failed. */
  private readonly failures = new Map<string, number>();

  constructor(private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS, private readonly clock: () => number = Date.now) {
    if (!(limits.concurrency >= 1) || !(limits.queue >= 0)) throw new RangeError(`login limits: concurrency must be >= 1 and queue >= 0, got ${limits.concurrency}/${limits.queue}`);
    this.byAddress = new RateLimiter(limits.perAddress, clock);
    this.byKeyId = new RateLimiter(limits.perKeyId, clock);
  }

  /** 0 when a login from `address` for `authKeyId` may go ahead (and spends from both budgets), else
   *  the seconds to wait. The address is checked first: one address flooding cannot spend a key's budget
   *  beyond its own. */
  admit(address: string, authKeyId: string): number {
    return this.byAddress.take(address) || this.byKeyId.take(authKeyId);
  }

  /** A login from `address` failed: its next ones wait behind those of addresses that have not failed. */
  failed(address: string): void {
    this.failures.delete(address); // re-inserted last: the map stays in order of last failure
    this.failures.set(address, this.clock());
    if (this.failures.size > MAX_SUSPECTS) this.failures.delete(this.failures.keys().next().value!);
  }

  /** Runs `hash` when a slot is free; throws LoginBusyError at once when too many are waiting already. */
  async run<T>(address: string, hash: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrency) {
      const failedAt = this.failures.get(address);
      const queue = failedAt !== undefined && this.clock() - failedAt < SUSPECT_MS ? this.waiting.suspect : this.waiting.clean;
      if (queue.length >= this.limits.queue) throw new LoginBusyError('too many logins at once');
      await new Promise<void>((resolve) => queue.push(resolve));
    } else this.running++;
    try {
      return await hash();
    } finally {
      // The slot passes straight to the next waiter (running stays counted), clean addresses first, or is freed.
      const next = this.waiting.clean.shift() ?? this.waiting.suspect.shift();
      if (next) next();
      else this.running--;
    }
  }
}

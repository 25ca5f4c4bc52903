// The one retry delay: exponential from `baseMs`, doubling per attempt (attempt 0 waits baseMs), capped
// at `maxMs`. Every retry loop in tapwatch takes its delay from here, so "how long do we wait before
// trying again" has one answer; a caller that wants jitter spreads the value it gets (control/client.ts).

export function backoffMs(attempt: number, { baseMs = 250, maxMs = 5000 }: { baseMs?: number; maxMs?: number } = {}): number {
  // 2 ** attempt overflows to Infinity past ~1023: the cap still holds.
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
}

// Waiting for a condition instead of sleeping for a guess: `get` is polled until it returns
// something other than undefined or false, with one generous deadline for the whole wait, so a
// loaded two-core machine makes a test slower, never wrong.

export async function until<T>(
  what: string,
  get: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs?: number; everyMs?: number; context?: () => string } = {},
): Promise<T> {
  const { timeoutMs = 60_000, everyMs = 200 } = opts;
  const t0 = Date.now();
  for (;;) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${opts.context ? `\n${opts.context()}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

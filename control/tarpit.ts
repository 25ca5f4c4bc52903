// Holding back a 429 to an address before sending it. A flooding client that waits for each answer
// (every HTTP/1.1 client without pipelining) then makes a request per connection per hold, however
// fast it is, and the server's time goes to callers with keys. The hold grows with how many of the
// address's requests are already held (a flood over many connections is held longer), up to `maxMs`.

export class Tarpit {
  private readonly held = new Map<string, number>();

  constructor(private readonly baseMs: number, private readonly maxMs = 5 * baseMs) {}

  /** Resolves after the address's hold: baseMs, plus baseMs for every 32 of its requests held already. */
  async hold(address: string): Promise<void> {
    const n = this.held.get(address) ?? 0;
    this.held.set(address, n + 1);
    const ms = Math.min(this.maxMs, this.baseMs * (1 + Math.floor(n / 32)));
    try {
      await new Promise((resolve) => setTimeout(resolve, ms));
    } finally {
      const left = (this.held.get(address) ?? 1) - 1;
      if (left > 0) this.held.set(address, left);
      else this.held.delete(address);
    }
  }
}

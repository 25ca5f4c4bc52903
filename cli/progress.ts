// Progress of a long replay on stderr: one rewritten line on a terminal, nothing otherwise.
// Callers invoke update() every 2^20 frames or so; it rate-limits itself to ~4 lines a second.

export class Progress {
  private last = 0;
  private readonly start = Date.now();

  constructor(private readonly label: string, private readonly totalBytes: number, private readonly enabled: boolean) {}

  update(bytes: number, frames: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 250) return;
    this.last = now;
    const pct = this.totalBytes > 0 ? Math.min(100, (bytes / this.totalBytes) * 100) : 0;
    const secs = (now - this.start) / 1000;
    const rate = secs > 0 ? frames / secs : 0;
    const eta = pct > 0 ? (secs * (100 - pct)) / pct : 0;
    process.stderr.write(
      `\r${this.label}: ${pct.toFixed(1)}%  ${frames.toLocaleString('en-US')} frames  ${(rate / 1e6).toFixed(2)} Mfps  eta ${eta.toFixed(0)}s   `,
    );
  }

  done(bytes: number, frames: number): void {
    if (!this.enabled) return;
    this.last = 0;
    this.update(bytes, frames);
    process.stderr.write('\n');
  }
}

// Packets in time order without holding the capture: every activity (a device's life, a TCP
// session, an incident) is a generator that yields the time (µs) of its next packet and, when
// resumed, writes that packet and yields the time of the one after. A min-heap keyed by (time,
// insertion number) resumes whichever is due first, so the output is in time order and, ties
// included, the same for the same options. Activities start others with spawn().

/** Yields the absolute time (µs) of its next packet; resumed at that time, it writes it. */
export type Proc = Generator<number, void, void>;
/** A helper run with `yield*` inside a Proc: yields like a Proc and returns a value (often the time it ended). */
export type Sub<R> = Generator<number, R, void>;

export class Scheduler {
  /** Time of the activity being resumed: never goes backwards. */
  now = 0;
  private ts: number[] = [];
  private ns: number[] = [];
  private ps: Proc[] = [];
  private n = 0;

  constructor(readonly end: number) {}

  /** Starts an activity: runs it to its first yield (which must not be before now). */
  spawn(p: Proc): void {
    const r = p.next();
    if (r.done) return;
    this.push(r.value, p);
  }

  get pending(): number {
    return this.ts.length;
  }

  /** Resumes activities in time order until none is left before `end`. */
  run(): void {
    while (this.ts.length > 0) {
      const t = this.ts[0], p = this.ps[0];
      if (t >= this.end) break;
      this.pop();
      this.now = t;
      const r = p.next();
      if (r.done) continue;
      if (!(r.value >= t)) throw new Error(`an activity yielded ${r.value} µs after running at ${t} µs: time must not go backwards`);
      this.push(r.value, p);
    }
    for (const p of this.ps) p.return();
    this.ts = []; this.ns = []; this.ps = [];
  }

  private less(i: number, j: number): boolean {
    return this.ts[i] < this.ts[j] || (this.ts[i] === this.ts[j] && this.ns[i] < this.ns[j]);
  }

  private swap(i: number, j: number): void {
    const t = this.ts[i]; this.ts[i] = this.ts[j]; this.ts[j] = t;
    const n = this.ns[i]; this.ns[i] = this.ns[j]; this.ns[j] = n;
    const p = this.ps[i]; this.ps[i] = this.ps[j]; this.ps[j] = p;
  }

  private push(t: number, p: Proc): void {
    if (!(t >= this.now)) throw new Error(`an activity asked to run at ${t} µs, before now (${this.now} µs)`);
    let i = this.ts.length;
    this.ts.push(t); this.ns.push(this.n++); this.ps.push(p);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!this.less(i, up)) break;
      this.swap(i, up);
      i = up;
    }
  }

  private pop(): void {
    const last = this.ts.length - 1;
    this.swap(0, last);
    this.ts.pop(); this.ns.pop(); this.ps.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < last && this.less(l, m)) m = l;
      if (r < last && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}

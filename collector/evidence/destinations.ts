// Per-destination evidence of the open interval, indexed by the aggregator's destination id (device,
// far address, transport, far port): activity bursts for contacts, and the connection outcomes (SYNs
// sent, SYN-ACKs and RSTs received, UDP flows opened, ICMP unreachables about it) for failed first
// contacts. Volume each way is kept per flow by the aggregator (its flow line is touched anyway) and
// summed per destination at record time. The packet loop touches 8 bytes of `burst` per packet (so the
// per-packet working set grows little: measured, a 64-byte line per destination slowed every table
// lookup through cache misses); `rare` only on SYNs, RSTs, new UDP flows, DNS queries and ICMP errors.
//
// A burst starts with a packet to or from the destination more than BURST_GAP_MS after the previous
// one, or with its first packet in the interval; each start goes into a bounded log of (destination,
// ms since the interval start), read once at record time. A full log drops starts (counted per
// destination: bursts minus those logged), never blocks.

export const BURST_GAP_MS = 1000;

// burst: 2 int32 per destination: ms of its last packet after the interval start, bursts so far
const B_LAST_MS = 0;
const B_COUNT = 1;
// rare: 8 words per destination
export const X_SYN = 0; // TCP SYN without ACK, sent by the device
export const X_SYN_ACK = 1; // received
export const X_RST = 2; // received
export const X_UDP_STARTS = 3; // UDP flows whose first packet in the interval was the device's
export const X_ICMP_UNREACH = 4; // ICMP destination-unreachable messages about it, received by the device
export const X_DNS_QUERIES = 5; // DNS queries the device sent to it (a resolver)
const RARE = 8;

export class DestinationEvidence {
  burst: Int32Array;
  rare: Uint32Array;
  /** Burst starts: [destination id, ms] pairs. */
  readonly log: Uint32Array;
  logLen = 0;
  /** Burst starts the log had no room for, since the collector started. */
  logDropped = 0;
  private capacity: number;

  constructor(private readonly maxDestinations: number, maxBursts: number) {
    // Grows with the destination table (see KeyTable): sized for the worst case, every interval would
    // zero megabytes it never used.
    this.capacity = Math.min(maxDestinations, 4096);
    this.burst = new Int32Array(this.capacity * 2);
    this.rare = new Uint32Array(this.capacity * RARE);
    this.log = new Uint32Array(maxBursts * 2);
  }

  /** Makes room for destination id d (ids are dense: at most one past the largest so far). */
  ensure(d: number): void {
    if (d >= this.capacity) this.grow();
  }

  /** A packet to or from the destination, `ms` after the interval start (negative for a late frame). */
  packet(d: number, ms: number): void {
    const b = this.burst;
    const p = d * 2;
    if (b[p + B_COUNT] === 0 || ms - b[p + B_LAST_MS] > BURST_GAP_MS) {
      b[p + B_COUNT]++;
      b[p + B_LAST_MS] = ms;
      if (this.logLen < this.log.length) {
        this.log[this.logLen] = d;
        // A frame stamped before the interval (late, counted into it) starts at 0.
        this.log[this.logLen + 1] = ms > 0 ? ms : 0;
        this.logLen += 2;
      } else this.logDropped++;
    } else if (ms > b[p + B_LAST_MS]) b[p + B_LAST_MS] = ms;
  }

  /** Activity bursts of destination d in the interval. */
  bursts(d: number): number {
    return this.burst[d * 2 + B_COUNT];
  }

  count(d: number, field: number): void {
    this.rare[d * RARE + field]++;
  }

  get(d: number, field: number): number {
    return this.rare[d * RARE + field];
  }

  /** Forget the interval's first n destinations. */
  reset(n: number): void {
    this.burst.fill(0, 0, Math.min(n, this.capacity) * 2);
    this.rare.fill(0, 0, Math.min(n, this.capacity) * RARE);
    this.logLen = 0;
  }

  private grow(): void {
    const capacity = Math.min(this.capacity * 2, this.maxDestinations);
    const burst = new Int32Array(capacity * 2);
    burst.set(this.burst);
    const rare = new Uint32Array(capacity * RARE);
    rare.set(this.rare);
    this.burst = burst;
    this.rare = rare;
    this.capacity = capacity;
  }
}

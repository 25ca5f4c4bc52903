// Per-destination evidence of the open interval, indexed by the aggregator's destination id (device,
// far address, transport, far port): volume each way and activity bursts for contacts, and the
// connection outcomes (SYNs sent, SYN-ACKs and RSTs received, UDP flows opened, ICMP unreachables about
// it) for failed first contacts. The packet loop touches one 64-byte line of `hot` per packet; `rare`
// only on SYNs, RSTs, new UDP flows, DNS queries and ICMP errors.
//
// A burst starts with a packet to or from the destination more than BURST_GAP_MS after the previous
// one, or with its first packet in the interval; each start goes into a bounded log of (destination,
// ms since the interval start), read once at record time. A full log drops starts (counted per
// destination: bursts minus those logged), never blocks.

export const BURST_GAP_MS = 1000;

// hot: 8 doubles per destination
export const H_UP_PACKETS = 0;
export const H_UP_BYTES = 1;
export const H_DOWN_PACKETS = 2;
export const H_DOWN_BYTES = 3;
export const H_LAST_MS = 4;
export const H_BURSTS = 5;
const HOT = 8;
// rare: 8 words per destination
export const X_SYN = 0; // TCP SYN without ACK, sent by the device
export const X_SYN_ACK = 1; // received
export const X_RST = 2; // received
export const X_UDP_STARTS = 3; // UDP flows whose first packet in the interval was the device's
export const X_ICMP_UNREACH = 4; // ICMP destination-unreachable messages about it, received by the device
export const X_DNS_QUERIES = 5; // DNS queries the device sent to it (a resolver)
const RARE = 8;

export class DestinationEvidence {
  hot: Float64Array;
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
    this.hot = new Float64Array(this.capacity * HOT);
    this.rare = new Uint32Array(this.capacity * RARE);
    this.log = new Uint32Array(maxBursts * 2);
  }

  /** Makes room for destination id d (ids are dense: at most one past the largest so far). */
  ensure(d: number): void {
    if (d >= this.capacity) this.grow();
  }

  /** A packet to (up) or from the destination, `ms` after the interval start. */
  packet(d: number, up: boolean, len: number, ms: number): void {
    const h = this.hot;
    const p = d * HOT;
    if (up) {
      h[p + H_UP_PACKETS]++;
      h[p + H_UP_BYTES] += len;
    } else {
      h[p + H_DOWN_PACKETS]++;
      h[p + H_DOWN_BYTES] += len;
    }
    if (h[p + H_BURSTS] === 0 || ms - h[p + H_LAST_MS] > BURST_GAP_MS) {
      h[p + H_BURSTS]++;
      h[p + H_LAST_MS] = ms;
      if (this.logLen < this.log.length) {
        this.log[this.logLen] = d;
        // A frame stamped before the interval (late, counted into it) starts at 0.
        this.log[this.logLen + 1] = ms > 0 ? ms : 0;
        this.logLen += 2;
      } else this.logDropped++;
    } else if (ms > h[p + H_LAST_MS]) h[p + H_LAST_MS] = ms;
  }

  count(d: number, field: number): void {
    this.rare[d * RARE + field]++;
  }

  get(d: number, field: number): number {
    return this.rare[d * RARE + field];
  }

  getHot(d: number, field: number): number {
    return this.hot[d * HOT + field];
  }

  /** Forget the interval's first n destinations. */
  reset(n: number): void {
    this.hot.fill(0, 0, Math.min(n, this.capacity) * HOT);
    this.rare.fill(0, 0, Math.min(n, this.capacity) * RARE);
    this.logLen = 0;
  }

  private grow(): void {
    const capacity = Math.min(this.capacity * 2, this.maxDestinations);
    const hot = new Float64Array(capacity * HOT);
    hot.set(this.hot);
    const rare = new Uint32Array(capacity * RARE);
    rare.set(this.rare);
    this.hot = hot;
    this.rare = rare;
    this.capacity = capacity;
  }
}

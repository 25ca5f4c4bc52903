// What the pcap and pcapng readers share: their stats, how they stop, and what they report when the
// input runs out — a clean end, a read error, or a truncated final record (never silently dropped).

import { newStats, type ByteSource } from './byte-source.js';
import type { ReaderStats } from './frame.js';

export abstract class StreamReader {
  readonly stats: ReaderStats = newStats();
  readonly path: string;
  protected done = false;

  constructor(protected readonly src: ByteSource) {
    this.path = src.path;
  }

  close(): void {
    this.done = true;
    this.src.close();
  }

  /**
   * The input ran out while `need` bytes were wanted. `truncated(need, left)` words the error for a
   * tail that is not a whole record (it runs once, at the end of the input).
   */
  protected atEnd(need: number, truncated: (need: number, left: number) => string): boolean {
    const src = this.src;
    const left = src.end - src.pos;
    if (src.readError !== null) return this.fail(src.offset, src.readError);
    if (left === 0) {
      this.close();
      return false;
    }
    this.stats.truncatedTailBytes = left;
    return this.fail(src.offset, truncated(need, left));
  }

  protected fail(offset: number, msg: string): boolean {
    this.stats.error = msg;
    this.stats.errorOffset = offset;
    this.close();
    return false;
  }
}

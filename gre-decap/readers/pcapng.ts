// pcapng reader (draft-ietf-opsawg-pcapng). Every block is framed the same way, so unknown blocks are
// skipped by length:
//
//  block:  type(4) total_length(4) body[total_length - 12] total_length(4)      (length multiple of 4)
//  SHB  0x0A0D0D0A: byte_order_magic(4) major(2) minor(2) section_length(8) options
//  IDB  1:          linktype(2) reserved(2) snaplen(4) options       (if_tsresol = 9, if_tsoffset = 14)
//  PB   2:          interface_id(2) drops(2) ts_high(4) ts_low(4) caplen(4) origlen(4) data options
//  SPB  3:          origlen(4) data
//  EPB  6:          interface_id(4) ts_high(4) ts_low(4) caplen(4) origlen(4) data options
//
// A section (SHB) fixes the byte order and owns its interfaces; a later SHB may switch both.

import { ByteSource, MAX_RECORD, leadingHex } from './byte-source.js';
import { StreamReader } from './stream-reader.js';
import { CaptureFormatError, type Frame, type FrameReader } from './frame.js';

const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 1;
const BT_PB = 2;
const BT_SPB = 3;
const BT_EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;
const SHB_MIN = 28;
const OPT_TSRESOL = 9;
const OPT_TSOFFSET = 14;
const TWO32 = 4294967296;
// div64 divides exactly while divisor × 2^16 < 2^53 with margin for the float floor: divisors up to
// 2^36. That admits if_tsresol 10^-0..10^-19 (finer than ns is first divided down to ns) and 2^-0..2^-36.
const MAX_DECIMAL_RESOL = 19;
const MAX_BINARY_RESOL = 36;

// div64's operands and results. A typed array, not arguments and return values: if the call is not
// inlined, passing or returning a number above 2^30 boxes it into a heap number, once per frame.
const div = new Float64Array(3);

/**
 * Divides the 64-bit count div[0]·2^32 + div[1] by div[2] (at most 2^36), exactly, by long division in
 * 16-bit digits (float math rounds above 2^53). Leaves quotient high and low 32 bits in div[0], div[1]
 * and the remainder in div[2].
 */
function div64(): void {
  const hi = div[0];
  const lo = div[1];
  const d = div[2];
  let r = hi >>> 16;
  const q3 = Math.floor(r / d);
  r = (r - q3 * d) * 65536 + (hi & 0xffff);
  const q2 = Math.floor(r / d);
  r = (r - q2 * d) * 65536 + (lo >>> 16);
  const q1 = Math.floor(r / d);
  r = (r - q1 * d) * 65536 + (lo & 0xffff);
  const q0 = Math.floor(r / d);
  div[0] = q3 * 65536 + q2;
  div[1] = q1 * 65536 + q0;
  div[2] = r - q0 * d;
}

/** True when the input starts with a pcapng Section Header Block type (the same in both byte orders). */
export function isPcapngMagic(src: ByteSource): boolean {
  return src.end >= 4 && src.view.getUint32(0, true) === BT_SHB;
}

export class PcapngReader extends StreamReader implements FrameReader {
  readonly format = 'pcapng' as const;
  private le = true;
  // Interfaces of the current section, indexed by interface id. Typed arrays, grown only at an IDB.
  private nIf = 0;
  private ifLink = new Uint32Array(4);
  private ifSnap = new Uint32Array(4);
  /** Divides raw timestamps finer than ns down to ns first; 1 = not needed. */
  private ifPreDiv = new Float64Array(4);
  /** Timestamp units per second (after ifPreDiv). */
  private ifUnits = new Float64Array(4);
  /** Nanoseconds per unit for decimal resolutions up to ns; 0 = binary, needs the exact mul-div. */
  private ifNsPerUnit = new Float64Array(4);
  private ifOffset = new Float64Array(4);

  /** Checks the first Section Header Block of `src` (positioned at 0); next() then reads it again. */
  constructor(src: ByteSource) {
    super(src);
    if (!src.ensure(SHB_MIN)) {
      throw new CaptureFormatError(src.path, leadingHex(src.buf, src.end),
        `file is ${src.end} bytes, shorter than the ${SHB_MIN}-byte pcapng section header`);
    }
    const bom = src.view.getUint32(8, true);
    if (bom !== BYTE_ORDER_MAGIC && bom !== BYTE_ORDER_MAGIC_SWAPPED) {
      throw new CaptureFormatError(src.path, leadingHex(src.buf, src.end),
        `pcapng section header with bad byte-order magic ${bom.toString(16).padStart(8, '0')}`);
    }
  }

  next(f: Frame): boolean {
    if (this.done) return false;
    const src = this.src;
    for (;;) {
      if (!src.ensure(12)) return this.ended(12);
      let v = src.view;
      let p = src.pos;
      const type = v.getUint32(p, this.le);
      if (type === BT_SHB) {
        const bom = v.getUint32(p + 8, true);
        if (bom !== BYTE_ORDER_MAGIC && bom !== BYTE_ORDER_MAGIC_SWAPPED) {
          return this.bad(0, 'section header', `bad byte-order magic ${bom.toString(16)}`);
        }
        this.le = bom === BYTE_ORDER_MAGIC;
      }
      const le = this.le;
      const len = v.getUint32(p + 4, le);
      if (len < 12 || (len & 3) !== 0 || len > MAX_RECORD) {
        return this.bad(0, 'impossible block', `type ${type}, length ${len} (must be a multiple of 4 from 12 to ${MAX_RECORD})`);
      }
      if (!src.ensure(len)) return this.ended(len);
      v = src.view;
      p = src.pos;
      const trailing = v.getUint32(p + len - 4, le);
      if (trailing !== len) {
        return this.bad(0, 'corrupt block', `trailing length ${trailing} differs from leading length ${len}`);
      }
      // Consumed before it is parsed: every block method below finds its start at src.pos - len.
      src.pos = p + len;
      this.stats.bytes = src.base + src.pos;
      switch (type) {
        case BT_EPB:
        case BT_PB:
          return this.packet(f, type, len);
        case BT_SPB:
          return this.simplePacket(f, len);
        case BT_IDB:
          if (!this.interfaceBlock(len)) return false;
          break;
        case BT_SHB:
          if (!this.section(len)) return false;
          break;
        default:
          this.stats.skippedBlocks++;
      }
    }
  }

  /** Enhanced (6) or obsolete (2) Packet Block: same layout but for the width of the interface id. */
  private packet(f: Frame, type: number, len: number): boolean {
    const le = this.le;
    const v = this.src.view;
    const p = this.src.pos - len;
    if (len < 32) return this.bad(len, 'packet block', `length ${len} is below the 32-byte minimum`);
    const id = type === BT_EPB ? v.getUint32(p + 8, le) : v.getUint16(p + 8, le);
    const cap = v.getUint32(p + 20, le);
    if (cap > len - 32) return this.bad(len, 'packet block', `captured length ${cap} overruns the ${len}-byte block`);
    if (id >= this.nIf) return this.bad(len, 'packet block', `interface ${id} has no Interface Description Block`);
    const wire = v.getUint32(p + 24, le);
    this.timestamp(f, id, p + 12);
    const snap = this.ifSnap[id];
    if (cap > wire || (snap !== 0 && cap > snap)) this.stats.oddLengths++;
    f.buf = this.src.buf;
    f.off = p + 28;
    f.capLen = cap;
    f.wireLen = wire;
    f.linkType = this.ifLink[id];
    f.iface = id;
    this.stats.frames++;
    return true;
  }

  /** Simple Packet Block: interface 0, no timestamp; captured length is implied by the block. */
  private simplePacket(f: Frame, len: number): boolean {
    const p = this.src.pos - len;
    if (len < 16) return this.bad(len, 'simple packet block', `length ${len} is below the 16-byte minimum`);
    if (this.nIf === 0) return this.bad(len, 'simple packet block', 'interface 0 has no Interface Description Block');
    const wire = this.src.view.getUint32(p + 8, this.le);
    const snap = this.ifSnap[0];
    // The body is padded to 4 bytes, so only the smallest of the three is the real frame.
    let cap = len - 16;
    if (wire < cap) cap = wire;
    if (snap !== 0 && snap < cap) cap = snap;
    f.buf = this.src.buf;
    f.off = p + 12;
    f.capLen = cap;
    f.wireLen = wire;
    f.tsSec = 0;
    f.tsNsec = 0;
    f.linkType = this.ifLink[0];
    f.iface = 0;
    this.stats.frames++;
    return true;
  }

  /** Reads the 64-bit count of interface units at `at` into seconds + nanoseconds, exactly. */
  private timestamp(f: Frame, id: number, at: number): void {
    const v = this.src.view;
    div[0] = v.getUint32(at, this.le);
    div[1] = v.getUint32(at + 4, this.le);
    const pre = this.ifPreDiv[id];
    if (pre !== 1) {
      div[2] = pre;
      div64();
    }
    const units = this.ifUnits[id];
    div[2] = units;
    div64();
    const r = div[2];
    const nsPerUnit = this.ifNsPerUnit[id];
    if (nsPerUnit !== 0) {
      f.tsNsec = r * nsPerUnit;
    } else {
      // floor(r·1e9 / units) with r < 2^36: r·1e9 needs 66 bits, so split r into 16-bit halves.
      const a = Math.floor(r / 65536);
      const x = a * 1e9;
      const qa = Math.floor(x / units);
      f.tsNsec = qa * 65536 + Math.floor(((x - qa * units) * 65536 + (r - a * 65536) * 1e9) / units);
    }
    f.tsSec = div[0] * TWO32 + div[1] + this.ifOffset[id];
  }

  private interfaceBlock(len: number): boolean {
    const le = this.le;
    const v = this.src.view;
    const p = this.src.pos - len;
    if (len < 20) return this.bad(len, 'interface block', `length ${len} is below the 20-byte minimum`);
    let resol = 6;
    let tsOffset = 0;
    const optEnd = p + len - 4;
    // Each option advances q by at least 4, so the walk ends within the block.
    for (let q = p + 16; q + 4 <= optEnd;) {
      const code = v.getUint16(q, le);
      const olen = v.getUint16(q + 2, le);
      if (code === 0) break;
      const at = q + 4;
      if (at + olen > optEnd) return this.bad(len, 'interface block', `option ${code} overruns the block`);
      if (code === OPT_TSRESOL && olen >= 1) resol = v.getUint8(at);
      else if (code === OPT_TSOFFSET && olen === 8) {
        tsOffset = le
          ? v.getInt32(at + 4, true) * TWO32 + v.getUint32(at, true)
          : v.getInt32(at, false) * TWO32 + v.getUint32(at + 4, false);
      }
      q = at + ((olen + 3) & ~3);
    }
    const n = resol & 0x7f;
    const binary = (resol & 0x80) !== 0;
    if (binary ? n > MAX_BINARY_RESOL : n > MAX_DECIMAL_RESOL) {
      return this.bad(len, 'interface block', `unsupported if_tsresol 0x${resol.toString(16)}`);
    }
    const id = this.nIf;
    if (id === this.ifLink.length) this.growInterfaces();
    this.ifLink[id] = v.getUint16(p + 8, le);
    this.ifSnap[id] = v.getUint32(p + 12, le);
    this.ifOffset[id] = tsOffset;
    if (binary) {
      this.ifPreDiv[id] = 1;
      this.ifUnits[id] = 2 ** n;
      this.ifNsPerUnit[id] = 0;
    } else if (n <= 9) {
      this.ifPreDiv[id] = 1;
      this.ifUnits[id] = 10 ** n;
      this.ifNsPerUnit[id] = 10 ** (9 - n);
    } else {
      this.ifPreDiv[id] = 10 ** (n - 9);
      this.ifUnits[id] = 1e9;
      this.ifNsPerUnit[id] = 1;
    }
    this.nIf = id + 1;
    return true;
  }

  /** A new section: its own byte order (already taken in next()) and no interfaces yet. */
  private section(len: number): boolean {
    if (len < SHB_MIN) return this.bad(len, 'section header', `length ${len} is below the ${SHB_MIN}-byte minimum`);
    const major = this.src.view.getUint16(this.src.pos - len + 12, this.le);
    if (major !== 1) return this.bad(len, 'section header', `unsupported pcapng version ${major}`);
    this.nIf = 0;
    return true;
  }

  private growInterfaces(): void {
    const n = this.ifLink.length * 2;
    const grow = <T extends Uint32Array | Float64Array>(a: T, next: T): T => { next.set(a); return next; };
    this.ifLink = grow(this.ifLink, new Uint32Array(n));
    this.ifSnap = grow(this.ifSnap, new Uint32Array(n));
    this.ifPreDiv = grow(this.ifPreDiv, new Float64Array(n));
    this.ifUnits = grow(this.ifUnits, new Float64Array(n));
    this.ifNsPerUnit = grow(this.ifNsPerUnit, new Float64Array(n));
    this.ifOffset = grow(this.ifOffset, new Float64Array(n));
  }


  /** Stops on a bad block; `consumed` = bytes of it already taken from the input, to report its start. */
  private bad(consumed: number, what: string, detail: string): boolean {
    const off = this.src.offset - consumed;
    this.stats.bytes = off; // the bad block was not consumed after all
    return this.fail(off, `${what} at offset ${off}: ${detail}`);
  }


  /** The input ran out: a clean end, a read error, or a truncated tail reported with its offset. */
  private ended(need: number): boolean {
    return this.atEnd(need, (need, left) =>
      need === 12
        ? `truncated block header at offset ${this.src.offset}: ${left} of 12 bytes remain`
        : `truncated block at offset ${this.src.offset}: header says ${need} bytes, ${left} remain`);
  }
}

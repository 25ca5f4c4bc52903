// Classic pcap reader (libpcap savefile): a 24-byte file header, then 16-byte record headers each
// followed by the captured bytes. Either byte order, microsecond or nanosecond timestamps.
//
//  file header: magic(4) version_major(2) version_minor(2) thiszone(4) sigfigs(4) snaplen(4) linktype(4)
//  record:      ts_sec(4) ts_frac(4) incl_len(4) orig_len(4) data[incl_len]

import { ByteSource, MAX_RECORD, leadingHex } from './byte-source.js';
import { StreamReader } from './stream-reader.js';
import { CaptureFormatError, type Frame, type FrameReader } from './frame.js';

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;

/** True when the input starts with a classic pcap magic in either byte order. */
export function isPcapMagic(src: ByteSource): boolean {
  if (src.end < 4) return false;
  const be = src.view.getUint32(0, false);
  const le = src.view.getUint32(0, true);
  return be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS;
}

export class PcapReader extends StreamReader implements FrameReader {
  readonly format = 'pcap' as const;
  readonly linkType: number;
  readonly snaplen: number;
  private readonly le: boolean;
  /** 1000 for microsecond files, 1 for nanosecond: fraction × this = nanoseconds. */
  private readonly fracToNs: number;

  /** Reads the file header from `src` (positioned at offset 0, magic already sniffed as pcap). */
  constructor(src: ByteSource) {
    super(src);
    if (!src.ensure(FILE_HEADER)) {
      throw new CaptureFormatError(src.path, leadingHex(src.buf, src.end),
        `file is ${src.end} bytes, shorter than the ${FILE_HEADER}-byte pcap header`);
    }
    const v = src.view;
    const magicLe = v.getUint32(0, true);
    this.le = magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS;
    this.fracToNs = v.getUint32(0, this.le) === PCAP_MAGIC_NS ? 1 : 1000;
    this.snaplen = v.getUint32(16, this.le);
    // The upper bits carry FCS-length flags (pcap spec, libpcap LT_LINKTYPE): the link type is the low 16.
    this.linkType = v.getUint32(20, this.le) & 0xffff;
    src.pos = FILE_HEADER;
    this.stats.bytes = FILE_HEADER;
  }

  next(f: Frame): boolean {
    if (this.done) return false;
    const src = this.src;
    if (!src.ensure(RECORD_HEADER)) return this.ended(RECORD_HEADER);
    const le = this.le;
    let p = src.pos;
    const incl = src.view.getUint32(p + 8, le);
    if (incl > MAX_RECORD) {
      return this.fail(src.offset, `impossible record at offset ${src.offset}: captured length ${incl} exceeds the ${MAX_RECORD}-byte cap`);
    }
    if (!src.ensure(RECORD_HEADER + incl)) return this.ended(RECORD_HEADER + incl);
    const v = src.view;
    p = src.pos;
    const wire = v.getUint32(p + 12, le);
    let sec = v.getUint32(p, le);
    let ns = v.getUint32(p + 4, le) * this.fracToNs;
    if (ns >= 1_000_000_000) {
      // An out-of-range fraction (buggy writer) is carried into seconds so tsNsec stays below 1e9.
      sec += Math.floor(ns / 1_000_000_000);
      ns %= 1_000_000_000;
    }
    f.buf = src.buf;
    f.off = p + RECORD_HEADER;
    f.capLen = incl;
    f.wireLen = wire;
    f.tsSec = sec;
    f.tsNsec = ns;
    f.linkType = this.linkType;
    f.iface = 0;
    if (incl > wire || (this.snaplen !== 0 && incl > this.snaplen)) this.stats.oddLengths++;
    src.pos = p + RECORD_HEADER + incl;
    this.stats.frames++;
    this.stats.bytes = src.base + src.pos;
    return true;
  }



  /** The input ran out: a clean end, a read error, or a truncated tail reported with its offset. */
  private ended(need: number): boolean {
    return this.atEnd(need, (need, left) =>
      need === RECORD_HEADER
        ? `truncated record header at offset ${this.src.offset}: ${left} of ${RECORD_HEADER} bytes remain`
        : `truncated record at offset ${this.src.offset}: header says ${need - RECORD_HEADER} bytes, ${left - RECORD_HEADER} remain`);
  }
}

// DNS messages (RFC 1035 §4.1) read in place, for the collector's DNS evidence: the header, the first
// question's name (copied lower-cased into the caller's scratch buffer), its type, and for responses
// the A/AAAA answers as offsets into the message. Same contract as the decoders in gre-decap/: a pure
// function of (b, off, end) writing numbers into a reusable result, reading nothing at or past `end`,
// returning 0 or a negative D_* reason, never throwing, allocating nothing.
//
//                                  1  1  1  1  1  1
//    0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
//  +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//  |                      ID                       |
//  |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
//  |                    QDCOUNT                    |
//  |                    ANCOUNT                    |
//  |                    NSCOUNT                    |
//  |                    ARCOUNT                    |
//  +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//  question: QNAME QTYPE(2) QCLASS(2); answer: NAME TYPE(2) CLASS(2) TTL(4) RDLENGTH(2) RDATA
//
// Bounded work whatever the bytes say (a device or a resolver can send anything): a name is at most
// 253 characters; a compression pointer may only point backwards, before every byte of the name read
// so far (so a chain of pointers strictly descends and cannot loop) and never into the header; at most
// MAX_JUMPS of them per name; at most MAX_ANSWERS answer records are read; every length is checked
// against `end` before the bytes it covers are read.

export const MAX_ANSWERS = 16;
export const MAX_JUMPS = 16;
/** Longest name in text form: 255 bytes on the wire (RFC 1035 §3.1) less the first length byte and the root. */
export const MAX_NAME = 253;
const HEADER = 12;

export const D_TOO_SHORT = 1;
export const D_NO_QUESTION = 2;
export const D_LABEL_PAST_END = 3;
export const D_BAD_LABEL_TYPE = 4;
export const D_BAD_POINTER = 5;
export const D_TOO_MANY_JUMPS = 6;
export const D_NAME_TOO_LONG = 7;
export const D_QUESTION_PAST_END = 8;
export const D_ANSWER_PAST_END = 9;
export const DNS_REASON_NAMES: readonly string[] = [
  'ok',
  'dns.too_short',
  'dns.no_question',
  'dns.label_past_end',
  'dns.bad_label_type',
  'dns.bad_pointer',
  'dns.too_many_jumps',
  'dns.name_too_long',
  'dns.question_past_end',
  'dns.answer_past_end',
];

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
const CLASS_IN = 1;

/** One message's numbers. Fields past the header are valid only when decodeDns returned 0. */
export class DnsMessage {
  id = 0;
  qr = 0; // 1 for a response
  rcode = 0;
  qdcount = 0;
  ancount = 0;
  qtype = 0;
  qclass = 0;
  /** Length of the question name in the scratch buffer (0 for the root). */
  nameLen = 0;
  /** Longest label of the question name. */
  labelMax = 0;
  /** A/AAAA answers of class IN found among the first MAX_ANSWERS records. */
  answers = 0;
  /** Offset of each answer's address in the buffer, and its family (4 or 6). */
  readonly answerOff = new Int32Array(MAX_ANSWERS);
  readonly answerVersion = new Uint8Array(MAX_ANSWERS);
}

/**
 * Decodes the message at b[off, end): header, first question (its name into name[0, nameLen),
 * lower-cased, labels joined by '.'), and for a response (QR set) the answer section. 0, or -D_*.
 * `name` must hold MAX_NAME bytes.
 */
export function decodeDns(b: Uint8Array, off: number, end: number, r: DnsMessage, name: Uint8Array): number {
  r.answers = 0;
  if (end - off < HEADER) return -D_TOO_SHORT;
  r.id = (b[off] << 8) | b[off + 1];
  r.qr = b[off + 2] >> 7;
  r.rcode = b[off + 3] & 0x0f;
  r.qdcount = (b[off + 4] << 8) | b[off + 5];
  r.ancount = (b[off + 6] << 8) | b[off + 7];
  if (r.qdcount === 0) return -D_NO_QUESTION;
  let p = readName(b, off, off + HEADER, end, r, name);
  if (p < 0) return p;
  if (p + 4 > end) return -D_QUESTION_PAST_END;
  r.qtype = (b[p] << 8) | b[p + 1];
  r.qclass = (b[p + 2] << 8) | b[p + 3];
  p += 4;
  if (r.qr === 0) return 0;
  // Further questions (qdcount is 1 in practice): skipped, each at least 5 bytes, so a count that
  // lies runs into `end` after at most (end - p) / 5 steps.
  for (let q = 1; q < r.qdcount; q++) {
    p = skipName(b, off, p, end);
    if (p < 0) return p;
    if (p + 4 > end) return -D_QUESTION_PAST_END;
    p += 4;
  }
  const n = r.ancount < MAX_ANSWERS ? r.ancount : MAX_ANSWERS;
  for (let a = 0; a < n; a++) {
    p = skipName(b, off, p, end);
    if (p < 0) return p;
    if (p + 10 > end) return -D_ANSWER_PAST_END;
    const type = (b[p] << 8) | b[p + 1];
    const cls = (b[p + 2] << 8) | b[p + 3];
    const rdlen = (b[p + 8] << 8) | b[p + 9];
    p += 10;
    if (p + rdlen > end) return -D_ANSWER_PAST_END;
    if (cls === CLASS_IN && ((type === TYPE_A && rdlen === 4) || (type === TYPE_AAAA && rdlen === 16))) {
      r.answerOff[r.answers] = p;
      r.answerVersion[r.answers] = type === TYPE_A ? 4 : 6;
      r.answers++;
    }
    p += rdlen;
  }
  return 0;
}

/**
 * Reads the name at b[p] of the message starting at b[msg], following compression pointers, into
 * name[]: returns the offset just after the name where it was written (after its first pointer, if
 * any), or -D_*. Sets r.nameLen and r.labelMax. (The first question's name can hold no valid pointer,
 * as nothing but the header precedes it; the reader is general all the same, and tested on its own.)
 */
export function readName(b: Uint8Array, msg: number, p: number, end: number, r: DnsMessage, name: Uint8Array): number {
  let len = 0;
  let labelMax = 0;
  let jumps = 0;
  let after = -1; // where the name ends in the message: set at the first pointer, or at the root
  let floor = p; // every pointer must point before this: the lowest byte of the name read so far
  for (;;) {
    if (p >= end) return -D_LABEL_PAST_END;
    const c = b[p];
    if (c === 0) {
      if (after < 0) after = p + 1;
      break;
    }
    const kind = c & 0xc0;
    if (kind === 0xc0) {
      if (p + 1 >= end) return -D_LABEL_PAST_END;
      const target = msg + (((c & 0x3f) << 8) | b[p + 1]);
      if (target >= floor || target < msg + HEADER) return -D_BAD_POINTER;
      if (++jumps > MAX_JUMPS) return -D_TOO_MANY_JUMPS;
      if (after < 0) after = p + 2;
      p = floor = target;
      continue;
    }
    if (kind !== 0) return -D_BAD_LABEL_TYPE; // 0x40 and 0x80: extended and reserved label types (RFC 6891 §5)
    if (p + 1 + c > end) return -D_LABEL_PAST_END;
    const at = len === 0 ? 0 : len + 1;
    if (at + c > MAX_NAME) return -D_NAME_TOO_LONG;
    if (len > 0) name[len] = 0x2e;
    for (let i = 0; i < c; i++) {
      const x = b[p + 1 + i];
      name[at + i] = x >= 0x41 && x <= 0x5a ? x | 0x20 : x;
    }
    len = at + c;
    if (c > labelMax) labelMax = c;
    p += 1 + c;
  }
  r.nameLen = len;
  r.labelMax = labelMax;
  return after;
}

/** Offset just after the name at b[p] (not followed), or -D_*; a pointer in it is checked, not read. */
function skipName(b: Uint8Array, msg: number, p: number, end: number): number {
  const start = p;
  for (;;) {
    if (p >= end) return -D_LABEL_PAST_END;
    const c = b[p];
    if (c === 0) return p + 1;
    const kind = c & 0xc0;
    if (kind === 0xc0) {
      if (p + 1 >= end) return -D_LABEL_PAST_END;
      const target = msg + (((c & 0x3f) << 8) | b[p + 1]);
      if (target >= start || target < msg + HEADER) return -D_BAD_POINTER;
      return p + 2;
    }
    if (kind !== 0) return -D_BAD_LABEL_TYPE;
    p += 1 + c;
  }
}

// The server name in a TLS ClientHello (RFC 8446 §4.1.2; the server_name extension, RFC 6066 §3),
// read in place from one TCP segment: no reassembly, so a hello that continues past the segment (or
// past its TLS record) is "cut", counted as malformed, though a server name already complete in the
// bytes at hand is still reported. Same contract as the decoders in gre-decap/: pure, nothing read at
// or past `end`, 0 or a negative T_* reason, no throw, no allocation.
//
//  record:    type=22(1) legacy_version(2) length(2)
//  handshake: type=1(1) length(3) legacy_version(2) random(32) session_id<0..32>
//             cipher_suites<2..2^16-2> compression_methods<1..2^8-1> extensions<8..2^16-1>
//  extension: type(2) length(2) data; server_name (0): list length(2), then entries
//             name_type(1) (0 = host_name) length(2) name

export const T_CUT = 1;
export const T_BAD_LENGTH = 2;
export const T_BAD_SERVER_NAME = 3;
export const TLS_REASON_NAMES: readonly string[] = ['ok', 'tls.hello_cut', 'tls.inconsistent_length', 'tls.bad_server_name'];

const EXT_SERVER_NAME = 0;
const MAX_HOST_NAME = 255;

export class ClientHello {
  /** Offset and length of the first host_name in the buffer; sniLen is -1 when there is none. */
  sniOff = 0;
  sniLen = -1;
}

/** Whether the segment payload at b[off, end) begins a TLS handshake record holding a ClientHello. */
export function isClientHello(b: Uint8Array, off: number, end: number): boolean {
  return end - off >= 6 && b[off] === 0x16 && b[off + 1] === 3 && b[off + 5] === 1;
}

/** Reads the ClientHello at b[off, end) (isClientHello true); 0 when whole and consistent, else -T_*. */
export function decodeClientHello(b: Uint8Array, off: number, end: number, h: ClientHello): number {
  h.sniLen = -1;
  if (end - off < 9) return -T_CUT;
  const recEnd = off + 5 + ((b[off + 3] << 8) | b[off + 4]);
  const hsEnd = off + 9 + ((b[off + 6] << 16) | (b[off + 7] << 8) | b[off + 8]);
  // The hello continues past this segment, or in the next record: only its start is here.
  const cut = hsEnd > end || hsEnd > recEnd;
  const lim = hsEnd < end ? (hsEnd < recEnd ? hsEnd : recEnd) : end < recEnd ? end : recEnd;
  // A read past `lim` means the hello is cut here, or that an inner length contradicts an outer one.
  const short = cut ? -T_CUT : -T_BAD_LENGTH;
  let p = off + 9 + 2 + 32; // legacy_version, random
  if (p + 1 > lim) return short;
  const sid = b[p];
  if (sid > 32) return -T_BAD_LENGTH;
  p += 1 + sid;
  if (p + 2 > lim) return short;
  const suites = (b[p] << 8) | b[p + 1];
  if (suites < 2 || (suites & 1) !== 0) return -T_BAD_LENGTH;
  p += 2 + suites;
  if (p + 1 > lim) return short;
  const comp = b[p];
  if (comp < 1) return -T_BAD_LENGTH;
  p += 1 + comp;
  if (p === hsEnd && !cut) return 0; // no extensions at all (allowed before TLS 1.3): no server name
  if (p + 2 > lim) return short;
  const extEnd = p + 2 + ((b[p] << 8) | b[p + 1]);
  if (extEnd !== hsEnd) return -T_BAD_LENGTH;
  p += 2;
  while (p < extEnd) {
    if (p + 4 > lim) return short;
    const type = (b[p] << 8) | b[p + 1];
    const len = (b[p + 2] << 8) | b[p + 3];
    p += 4;
    if (p + len > extEnd) return -T_BAD_LENGTH;
    if (type === EXT_SERVER_NAME && h.sniLen < 0) {
      if (p + len > lim) return short;
      const r = serverName(b, p, p + len, h);
      if (r < 0) return r;
    }
    p += len;
  }
  return cut ? -T_CUT : 0;
}

/** The first host_name of a server_name extension whose data is b[p, end), all of it at hand. */
function serverName(b: Uint8Array, p: number, end: number, h: ClientHello): number {
  if (p + 2 > end || p + 2 + ((b[p] << 8) | b[p + 1]) !== end) return -T_BAD_LENGTH;
  p += 2;
  while (p < end) {
    if (p + 3 > end) return -T_BAD_LENGTH;
    const type = b[p];
    const len = (b[p + 1] << 8) | b[p + 2];
    p += 3;
    if (p + len > end) return -T_BAD_LENGTH;
    if (type === 0 && h.sniLen < 0) {
      if (len === 0 || len > MAX_HOST_NAME) return -T_BAD_SERVER_NAME;
      h.sniOff = p;
      h.sniLen = len;
    }
    p += len;
  }
  return 0;
}

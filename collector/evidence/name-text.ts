// Names as record text (record time only: these allocate). A name arrives as bytes a device or a
// server chose, possibly binary; in a record it is printable ASCII, lower case, every other byte (and
// the backslash itself, so the form reads back unambiguously) written as \xHH. The result is valid
// JSON text once JSON.stringify has escaped the quote.

/** Bytes b[off, off + len) as a string of one char per byte (code = byte), for tldts and slicing. */
export function latin1(b: Uint8Array, off: number, len: number): string {
  return Buffer.from(b.buffer, b.byteOffset + off, len).toString('latin1');
}

const HEX = '0123456789abcdef';

/**
 * The record form of a raw name (one char per byte), at most `cut` characters plus '…' when longer:
 * cut between escapes, never inside one. The root name (empty) is '.'.
 */
export function escapeName(raw: string, cut = 255): string {
  if (raw.length === 0) return '.';
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    const unit = c >= 0x20 && c < 0x7f && c !== 0x5c ? (c >= 0x41 && c <= 0x5a ? String.fromCharCode(c | 0x20) : raw[i]) : `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
    if (out.length + unit.length > cut) return `${out}…`;
    out += unit;
  }
  return out;
}

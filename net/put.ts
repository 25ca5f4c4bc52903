// Writing 16- and 32-bit fields into frames and capture files: network byte order unless `le` (a
// little-endian capture file's headers). A Uint8Array store keeps the low 8 bits, so no masks.

export function put16(b: Uint8Array, p: number, v: number, le = false): void {
  if (le) {
    b[p] = v; b[p + 1] = v >>> 8;
  } else {
    b[p] = v >>> 8; b[p + 1] = v;
  }
}

export function put32(b: Uint8Array, p: number, v: number, le = false): void {
  if (le) {
    b[p] = v; b[p + 1] = v >>> 8; b[p + 2] = v >>> 16; b[p + 3] = v >>> 24;
  } else {
    b[p] = v >>> 24; b[p + 1] = v >>> 16; b[p + 2] = v >>> 8; b[p + 3] = v;
  }
}

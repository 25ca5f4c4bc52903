// The Internet checksum (RFC 1071), shared by the test builders and the fleet generator's
// per-packet IPv4 header patching, so both produce the same bytes.

/** One's-complement sum of buf[off, end) as 16-bit big-endian words, folded to 16 bits (not inverted). */
function onesSum(buf: Uint8Array, off: number, end: number): number {
  let sum = 0;
  let i = off;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8; // odd length: pad with a zero byte (RFC 1071 §4.1)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Checksum to store in a header whose checksum field is zero while summing. */
export function internetChecksum(buf: Uint8Array, off: number, end: number): number {
  return ~onesSum(buf, off, end) & 0xffff;
}

/** Zero, compute and store the header checksum of the IPv4 header at `off` (RFC 791 §3.1). */
export function patchIpv4Checksum(buf: Uint8Array, off: number): void {
  const ihl = (buf[off] & 0x0f) << 2;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  const c = internetChecksum(buf, off, off + ihl);
  buf[off + 10] = c >>> 8;
  buf[off + 11] = c & 0xff;
}

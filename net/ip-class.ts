// Which part of the address space an address is in, for the analyzer's evidence: a beacon, a flood
// target or a destination new to the device means something on the internet, not on the LAN, in the
// carrier's shared space, on loopback, link-local, multicast or broadcast (RFC 6890's special-purpose
// registries, the parts an IoT device reaches in ordinary operation).

const V4_SPECIAL: readonly (readonly [number, number])[] = [
  [0x00000000, 8], // "this network"
  [0x0a000000, 8], // private
  [0x64400000, 10], // shared address space (carrier-grade NAT)
  [0x7f000000, 8], // loopback
  [0xa9fe0000, 16], // link-local
  [0xac100000, 12], // private
  [0xc0000000, 24], // IETF protocol assignments
  [0xc0a80000, 16], // private
  [0xe0000000, 4], // multicast
  [0xf0000000, 4], // reserved, and the limited broadcast
];

/** The IPv4 dotted quad as a number, null for anything else; by char codes: the analyzer asks per contact. */
function v4(text: string): number | null {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return null;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return null;
    } else return null;
  }
  return dots === 3 && digits > 0 ? (n * 256 + part) >>> 0 : null;
}

/** A unicast address on the internet (IPv4 or IPv6 text); false for anything special-purpose or unparsable. */
export function isUnicastPublic(ip: string): boolean {
  const a = v4(ip);
  if (a !== null) {
    for (const [net, len] of V4_SPECIAL) if (((a >>> (32 - len)) << (32 - len)) >>> 0 === net) return false;
    return true;
  }
  const lower = ip.toLowerCase();
  if (!lower.includes(':')) return false;
  if (lower === '::' || lower === '::1') return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return isUnicastPublic(mapped[1]);
  const head = parseInt(lower.split(':')[0] || '0', 16);
  // fc00::/7 unique local, fe80::/10 link-local, ff00::/8 multicast; global unicast is 2000::/3.
  return head >= 0x2000 && head <= 0x3fff;
}

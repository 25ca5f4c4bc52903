// Text forms of addresses, for reports and records only (these allocate; never call per packet).

/** Dotted quad of an unsigned 32-bit IPv4 address. */
export function formatIpv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** RFC 5952 text of an IPv6 address given as four 32-bit words. */
export function formatIpv6Words(w: ArrayLike<number>): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 4; i++) {
    g[i * 2] = w[i] >>> 16;
    g[i * 2 + 1] = w[i] & 0xffff;
  }
  // The longest run of two or more zero groups (the first such run on a tie) becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Text of an AddrTable key: IPv4-mapped keys print as dotted quads. */
export function formatAddrKey(w: ArrayLike<number>): string {
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return formatIpv4(w[3]);
  return formatIpv6Words(w);
}

// Subdomains and the randomness of names, at record time (never per packet).

/** The subdomain part of `name` under `domain` (what stands left of it, without the joining dot). */
export function subdomainOf(name: string, domain: string): string {
  return name.length > domain.length ? name.slice(0, name.length - domain.length - 1) : '';
}

/** Adds the characters of `sub`, dots left out, to a 256-entry histogram; returns how many were added. */
export function countChars(sub: string, hist: Float64Array): number {
  let n = 0;
  for (let i = 0; i < sub.length; i++) {
    const c = sub.charCodeAt(i);
    if (c === 0x2e) continue;
    hist[c & 255]++;
    n++;
  }
  return n;
}

/** Shannon entropy, bits per character, of a histogram holding `total` characters (0 when empty). */
export function entropy(hist: Float64Array, total: number): number {
  if (total === 0) return 0;
  let h = 0;
  for (let c = 0; c < 256; c++) {
    const n = hist[c];
    if (n > 0) h -= (n / total) * Math.log2(n / total);
  }
  return h;
}

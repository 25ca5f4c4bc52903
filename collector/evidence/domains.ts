// Registered domains and the randomness of names, at record time (never per packet).

import { parse } from 'tldts';

// Private domains included (the Public Suffix List's private section: github.io, s3.amazonaws.com ...),
// so each customer of a hosting provider is a domain of its own. The names are already lower case and
// are not URLs; an IP literal is detected, not treated as a name.
const PSL = { allowPrivateDomains: true, extractHostname: false, validateHostname: false, detectIp: true } as const;

/**
 * The registered domain (public suffix + one label) of a lower-cased name given one char per byte;
 * for an IP literal, a name that is itself a public suffix, or one whose suffix is not in the list:
 * its last two labels. '' (the root) stays ''.
 */
export function registeredDomain(name: string): string {
  if (name === '') return '';
  const r = parse(name, PSL);
  if (!r.isIp && r.domain && (r.isIcann || r.isPrivate) && name.endsWith(r.domain)) return r.domain;
  return lastLabels(name, 2);
}

function lastLabels(name: string, n: number): string {
  let at = name.length;
  for (let i = 0; i < n; i++) {
    const dot = name.lastIndexOf('.', at - 1);
    if (dot < 0) return name;
    at = dot;
  }
  return name.slice(at + 1);
}

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

// The registered domain of a name (public suffix + one label): what a name's owner controls, so the
// analyzer knows a device's hosts by it (a new subdomain of a domain the device uses is no news) and the
// collector groups DNS names by it.

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


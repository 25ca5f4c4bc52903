// The one canonical text form of an IP address, used wherever an address from outside is stored or
// compared: inventory import, the collector's inventory lookup, the responder's allowlist, policy and
// group configuration, the control store and the enforcers. Two spellings of one device must be one
// key, or a block is stored and never matches (issue 11: `::ffff:10.128.0.50` landed in the IPv6 set
// while the device spoke IPv4; `010.128.0.1` and `2001:DB8::1` never matched their devices).
//
//   IPv4            dotted quad, decimal octets without leading zeros: 10.128.0.1
//   IPv4-mapped     ::ffff:10.128.0.1 (in any spelling) becomes the IPv4 address, which it is on the wire
//   IPv6            RFC 5952: lower case, leading zeros dropped, the longest run of zero groups as '::'
//
// Refused, with the reason: a zero-padded octet (010 is octal to inet_aton and to ping, decimal to a
// person: ambiguous), fewer than four parts (10.1), hex or octal octets, zones (%eth0), prefixes,
// surrounding spaces. Allocates: for configuration and import, never per packet.

import { formatIpv4, formatIpv6Words } from './ip-format.js';

export type AddressFamily = 4 | 6;

export interface Address {
  family: AddressFamily;
  /** The canonical text. */
  text: string;
}

export class AddressError extends Error {
  constructor(readonly input: string, readonly why: string) {
    super(`'${input}' is not an IP address: ${why}`);
    this.name = 'AddressError';
  }
}

const DECIMAL_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

/** The address in canonical form, or an AddressError saying what is wrong with it. */
export function parseAddress(input: string): Address | AddressError {
  if (input.includes(':')) {
    const words = ipv6Words(input);
    if (words instanceof AddressError) return words;
    // ::ffff:a.b.c.d is an IPv4 host seen through an IPv6 socket: the same device as a.b.c.d.
    if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) return { family: 4, text: formatIpv4(words[3]) };
    return { family: 6, text: formatIpv6Words(words) };
  }
  const word = ipv4Word(input);
  return word instanceof AddressError ? word : { family: 4, text: formatIpv4(word) };
}

/** The canonical text of `input`; throws AddressError when it is not an address. */
export function canonicalAddress(input: string): string {
  const a = parseAddress(input);
  if (a instanceof AddressError) throw a;
  return a.text;
}

/** The canonical text, or null when `input` is not an address (for lookups, which just miss). */
export function canonicalOrNull(input: string): string | null {
  const a = parseAddress(input);
  return a instanceof AddressError ? null : a.text;
}

/** True when `input` is meant as an address (four dot-separated numbers, or something with ':' that parses
 *  as IPv6), so that a list mixing ids and addresses (the allowlist) can tell which it holds. */
export function looksLikeAddress(input: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(input) || (input.includes(':') && !(ipv6Words(input) instanceof AddressError));
}

/** Why `a` cannot be a next hop (unspecified, loopback, multicast, broadcast), or null when it can. */
export function unroutableReason(a: Address): string | null {
  if (a.family === 4) {
    const first = Number(a.text.split('.')[0]);
    if (a.text === '0.0.0.0') return 'the unspecified address';
    if (a.text === '255.255.255.255') return 'the broadcast address';
    if (first === 127) return 'a loopback address';
    if (first >= 224 && first <= 239) return 'a multicast address';
    if (first === 0) return "an address of 'this network' (0.0.0.0/8)";
    return null;
  }
  if (a.text === '::') return 'the unspecified address';
  if (a.text === '::1') return 'the loopback address';
  if (a.text.startsWith('ff')) return 'a multicast address';
  return null;
}

function ipv4Word(input: string): number | AddressError {
  const parts = input.split('.');
  if (parts.length !== 4) return new AddressError(input, `an IPv4 address has four dot-separated numbers, this has ${parts.length}`);
  let w = 0;
  for (const p of parts) {
    if (!DECIMAL_OCTET.test(p)) {
      return new AddressError(input, /^0[0-9]+$/.test(p) ? `the zero-padded part '${p}' is ambiguous (octal to some tools, decimal to others)` : `'${p}' is not a decimal number from 0 to 255`);
    }
    const n = Number(p);
    if (n > 255) return new AddressError(input, `${n} is above 255`);
    w = w * 256 + n;
  }
  return w >>> 0;
}

/** The four 32-bit words of an IPv6 address (an embedded dotted quad allowed at the end). */
export function ipv6Words(input: string): number[] | AddressError {
  if (input.includes('%')) return new AddressError(input, 'a zone (%…) names an interface of one host, not a device');
  let text = input;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    // ::ffff:10.0.0.1 → ::ffff:a00:1, then parsed like any other address.
    const v4 = ipv4Word(text.slice(lastColon + 1));
    if (v4 instanceof AddressError) return new AddressError(input, `its IPv4 part: ${v4.why}`);
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return new AddressError(input, "'::' may appear once");
  const split = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = split(halves[0]);
  const rest = halves.length === 2 ? split(halves[1]) : [];
  if (halves.length === 1 && head.length !== 8) return new AddressError(input, `an IPv6 address has 8 groups of hex digits, this has ${head.length}`);
  if (halves.length === 2 && head.length + rest.length > 7) return new AddressError(input, "'::' must stand for at least one group");
  const groups = [...head, ...new Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  const values: number[] = [];
  for (const g of groups) {
    if (!HEX_GROUP.test(g)) return new AddressError(input, `'${g}' is not a group of 1 to 4 hex digits`);
    values.push(parseInt(g, 16));
  }
  return [0, 1, 2, 3].map((i) => ((values[2 * i] << 16) | values[2 * i + 1]) >>> 0);
}

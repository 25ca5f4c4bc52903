// Which inner addresses are devices: the device networks (--device-net CIDR, repeatable; default
// 10.128.0.0/9, SORACOM's default VPG device subnet), less the excluded addresses or networks
// (--exclude-address, e.g. the site router inside a device network, which is not a device). Parsed once into words and masks; a match is
// a few integer compares per packet, reading the address straight from the frame.

import type { ErrorCode } from '../contracts/errors.js';

export class DeviceNetError extends Error {
  readonly code: ErrorCode = 'TWC0008';
}

export class DeviceNets {
  private readonly v4Net: Int32Array;
  private readonly v4Mask: Int32Array;
  private readonly v6Net: Int32Array; // 4 words per network
  private readonly v6Mask: Int32Array;
  private readonly excludedNets: DeviceNets | null;

  constructor(readonly cidrs: readonly string[], readonly excluded: readonly string[] = []) {
    this.excludedNets = excluded.length ? new DeviceNets(excluded.map((a) => (a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`))) : null;
    const v4: [number, number][] = [];
    const v6: [number[], number[]][] = [];
    for (const c of cidrs) {
      const [addr, lenText] = c.split('/');
      const len = Number(lenText);
      if (addr.includes(':')) {
        if (!Number.isInteger(len) || len < 0 || len > 128) throw new DeviceNetError(`--device-net ${c}: prefix length must be 0..128`);
        const words = parseIpv6Words(addr, c);
        const mask = [0, 1, 2, 3].map((i) => maskBits(Math.max(0, Math.min(32, len - 32 * i))));
        v6.push([words.map((w, i) => w & mask[i]), mask]);
      } else {
        if (!Number.isInteger(len) || len < 0 || len > 32) throw new DeviceNetError(`--device-net ${c}: prefix length must be 0..32`);
        const mask = maskBits(len);
        v4.push([parseIpv4Word(addr, c) & mask, mask]);
      }
    }
    this.v4Net = Int32Array.from(v4, (x) => x[0]);
    this.v4Mask = Int32Array.from(v4, (x) => x[1]);
    this.v6Net = Int32Array.from(v6.flatMap((x) => x[0]));
    this.v6Mask = Int32Array.from(v6.flatMap((x) => x[1]));
  }

  /** True when the address at b[off] (IPv4 when version is 4, else IPv6) is in a device network. */
  contains(b: Uint8Array, off: number, version: number): boolean {
    return this.inNets(b, off, version) && !(this.excludedNets?.inNets(b, off, version) ?? false);
  }

  private inNets(b: Uint8Array, off: number, version: number): boolean {
    if (version === 4) {
      const a = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
      for (let i = 0; i < this.v4Net.length; i++) if ((a & this.v4Mask[i]) === this.v4Net[i]) return true;
      return false;
    }
    for (let n = 0; n < this.v6Net.length; n += 4) {
      let j = 0;
      for (; j < 4; j++) {
        const p = off + 4 * j;
        const w = (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
        if ((w & this.v6Mask[n + j]) !== this.v6Net[n + j]) break;
      }
      if (j === 4) return true;
    }
    return false;
  }
}

function maskBits(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) | 0;
}

function parseIpv4Word(s: string, cidr: string): number {
  const parts = s.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new DeviceNetError(`--device-net ${cidr}: not an IPv4 address`);
  return (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3];
}

/** Four 32-bit words of an IPv6 address in text form (with :: and an optional dotted tail). */
export function parseIpv6Words(s: string, context = s): number[] {
  let text = s;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const w = parseIpv4Word(dotted[1], context) >>> 0;
    text = text.slice(0, -dotted[1].length) + `${(w >>> 16).toString(16)}:${(w & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new DeviceNetError(`${context}: not an IPv6 address`);
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...new Array<string>(fill).fill('0'), ...tail].map((g) => parseInt(g, 16));
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) throw new DeviceNetError(`${context}: not an IPv6 address`);
  return [0, 1, 2, 3].map((i) => ((groups[2 * i] << 16) | groups[2 * i + 1]) | 0);
}

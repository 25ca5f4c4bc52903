// One canonical form per address: what the inventory, the allowlist, the store and the enforcers
// compare. Every spelling of one address gives one text; anything ambiguous is refused saying why.

import { describe, expect, it } from 'vitest';
import { AddressError, canonicalAddress, canonicalOrNull, looksLikeAddress, parseAddress, unroutableReason } from './address.js';
import { backoffMs } from './backoff.js';

describe('canonicalAddress', () => {
  it('gives one text for every spelling of an address', () => {
    const same: Array<[string[], string]> = [
      [['10.128.0.50', '::ffff:10.128.0.50', '::FFFF:10.128.0.50', '0:0:0:0:0:ffff:a80:32', '::ffff:0a80:0032'], '10.128.0.50'],
      [['2001:db8:1::1', '2001:DB8:1::1', '2001:0db8:0001:0000:0000:0000:0000:0001', '2001:db8:1:0:0:0:0:1'], '2001:db8:1::1'],
      [['2001:db8:1:0:0:0:0:a', '2001:db8:1::a'], '2001:db8:1::a'],
      [['2001:db8:0:0:1:0:0:1'], '2001:db8::1:0:0:1'], // RFC 5952: the first of two equal runs
      [['::'], '::'],
      [['0.0.0.0'], '0.0.0.0'],
      [['::1.2.3.4'], '::102:304'],
    ];
    for (const [spellings, text] of same) for (const s of spellings) expect(canonicalAddress(s), s).toBe(text);
    expect(parseAddress('::ffff:10.0.0.1')).toEqual({ family: 4, text: '10.0.0.1' });
    expect(parseAddress('2001:db8::1')).toEqual({ family: 6, text: '2001:db8::1' });
  });

  it('refuses what is ambiguous or not an address, saying why', () => {
    const refused: Array<[string, RegExp]> = [
      ['010.128.0.1', /zero-padded part '010' is ambiguous/],
      ['10.128.0.01', /zero-padded part '01'/],
      ['10.1', /four dot-separated numbers, this has 2/],
      ['0x0a.0.0.1', /'0x0a' is not a decimal number/],
      ['10.0.0.256', /256 is above 255/],
      [' 10.0.0.1', /not a decimal number/],
      ['10.0.0.1/24', /not a decimal number/],
      ['fe80::1%eth0', /zone/],
      ['1::2::3', /'::' may appear once/],
      ['1:2:3:4:5:6:7', /8 groups of hex digits, this has 7/],
      ['1:2:3:4:5:6:7::8', /at least one group/],
      ['2001:db8::g', /'g' is not a group/],
      ['::ffff:010.0.0.1', /its IPv4 part: the zero-padded part '010'/],
      ['meter-1', /four dot-separated numbers/],
      ['', /four dot-separated numbers/],
    ];
    for (const [input, why] of refused) {
      expect(() => canonicalAddress(input), input).toThrow(AddressError);
      expect(() => canonicalAddress(input), input).toThrow(why);
      expect(canonicalOrNull(input)).toBeNull();
    }
  });

  it('tells an address from an id in a mixed list', () => {
    expect(['10.0.0.1', '010.0.0.1', '2001:db8::1', '::ffff:1.2.3.4'].map(looksLikeAddress)).toEqual([true, true, true, true]);
    expect(['meter-1', '440100000000001', 'aa:bb', 'a.b.c.d'].map(looksLikeAddress)).toEqual([false, false, false, false]);
  });

  it('knows the addresses that cannot be a next hop', () => {
    const reason = (s: string) => unroutableReason(parseAddress(s) as { family: 4 | 6; text: string });
    expect(['0.0.0.0', '255.255.255.255', '127.0.0.1', '224.0.0.1', '0.1.2.3', '::', '::1', 'ff02::1'].map((s) => reason(s) !== null)).toEqual(Array(8).fill(true));
    expect(['192.0.2.1', '10.0.0.1', '2001:db8::1'].map(reason)).toEqual([null, null, null]);
  });
});

describe('backoffMs', () => {
  it('doubles from the base up to the cap, and never overflows', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffMs(a))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(backoffMs(3, { baseMs: 1000, maxMs: 60_000 })).toBe(8000);
    expect(backoffMs(5000)).toBe(5000);
  });
});

import { describe, expect, it } from 'vitest';
import { subdomainOf, countChars, entropy } from './domains.js';
import { escapeName } from './name-text.js';

describe('entropy of subdomains', () => {
  it('is Shannon entropy in bits per character over the characters left of the domain, dots removed', () => {
    expect(subdomainOf('a.b.example.com', 'example.com')).toBe('a.b');
    expect(subdomainOf('example.com', 'example.com')).toBe('');
    const hist = new Float64Array(256);
    const n = countChars('ab.cd', hist);
    expect(n).toBe(4);
    expect(entropy(hist, n)).toBeCloseTo(2, 12); // four distinct characters
    const same = new Float64Array(256);
    expect(entropy(same, countChars('aaaa', same))).toBe(0);
    expect(entropy(new Float64Array(256), 0)).toBe(0);
    const pooled = new Float64Array(256);
    const total = countChars('aabb', pooled) + countChars('ccdd', pooled);
    expect(entropy(pooled, total)).toBeCloseTo(2, 12);
  });
});

describe('escapeName', () => {
  it('writes bytes outside printable ASCII, and the backslash, as \\xHH; lower case; the root as "."', () => {
    expect(escapeName('Ab\x00\x7f\xff\\"z')).toBe('ab\\x00\\x7f\\xff\\x5c"z');
    expect(escapeName('')).toBe('.');
    expect(JSON.parse(JSON.stringify(escapeName('\x01"')))).toBe('\\x01"');
  });

  it('cuts at a whole character or escape and marks the cut', () => {
    expect(escapeName('abcdef', 6)).toBe('abcdef');
    expect(escapeName('abcdefg', 6)).toBe('abcdef…');
    expect(escapeName('abcd\x01', 6)).toBe('abcd…'); // the 4-character escape does not fit in 2
  });
});

import { describe, expect, it } from 'vitest';
import { registeredDomain } from './registered-domain.js';

describe('registeredDomain', () => {
  it('is public-suffix aware, private domains included', () => {
    expect(registeredDomain('a30hje92j76kem.iot.us-west-2.amazonaws.com')).toBe('amazonaws.com');
    expect(registeredDomain('x.y.example.co.uk')).toBe('example.co.uk');
    expect(registeredDomain('someone.github.io')).toBe('someone.github.io');
    expect(registeredDomain('example.com')).toBe('example.com');
  });

  it('falls back to the last two labels: IP literals, unknown suffixes, bare suffixes, single labels', () => {
    expect(registeredDomain('192.0.2.1')).toBe('2.1');
    expect(registeredDomain('android.clients.google.com.belkin')).toBe('com.belkin');
    expect(registeredDomain('co.uk')).toBe('co.uk');
    expect(registeredDomain('gw')).toBe('gw');
    expect(registeredDomain('')).toBe('');
  });
});

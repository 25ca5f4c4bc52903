// The token bucket on a clock we move: bursts, the sustained rate, Retry-After, one bucket per caller.

import { expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

it('allows the burst, then the rate, and says how long to wait', () => {
  let now = 0;
  const limiter = new RateLimiter({ perSecond: 10, burst: 20 }, () => now);
  for (let i = 0; i < 20; i++) expect(limiter.take('a')).toBe(0);
  expect(limiter.take('a')).toBe(1);
  expect(limiter.take('b')).toBe(0); // its own bucket
  now += 500; // five tokens back
  for (let i = 0; i < 5; i++) expect(limiter.take('a')).toBe(0);
  expect(limiter.take('a')).toBeGreaterThan(0);
  now += 60_000; // refills only up to the burst
  for (let i = 0; i < 20; i++) expect(limiter.take('a')).toBe(0);
  expect(limiter.take('a')).toBe(1);
});

it('Retry-After covers the wait at a slow rate', () => {
  let now = 0;
  const limiter = new RateLimiter({ perSecond: 0.25, burst: 1 }, () => now);
  expect(limiter.take('a')).toBe(0);
  expect(limiter.take('a')).toBe(4);
  now += 4000;
  expect(limiter.take('a')).toBe(0);
});

it('refuses a rate that cannot work', () => {
  expect(() => new RateLimiter({ perSecond: 0, burst: 10 })).toThrow(RangeError);
  expect(() => new RateLimiter({ perSecond: 10, burst: 0.5 })).toThrow(RangeError);
});

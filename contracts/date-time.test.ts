import { IsDateTime } from 'typebox/format';
import { describe, expect, it } from 'vitest';
import { isDateTime } from './date-time.js';

const CASES = [
  '2026-03-03T17:38:00.000Z', '2026-03-03T17:38:00Z', '2026-03-03t17:38:00z', '2026-03-03T17:38:00.123456789+05:30',
  '2026-03-03T17:38:00-23:59', '2026-03-03T17:38:00+24:00', '2026-03-03T17:38:00+05:60', '2026-03-03T17:38:00.Z',
  '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '0000-02-29T00:00:00Z',
  '2026-04-31T00:00:00Z', '2026-12-31T23:59:59Z', '2026-00-10T00:00:00Z', '2026-13-10T00:00:00Z', '2026-01-00T00:00:00Z',
  '2026-03-03T24:00:00Z', '2026-03-03T23:60:00Z', '2016-12-31T23:59:60Z', '2016-12-31T18:59:60-05:00', '2026-03-03T12:00:60Z',
  '2026-03-03T17:38:00', '2026-03-03 17:38:00Z', '2026-03-03T17:38Z', '26-03-03T17:38:00Z', '2026-3-03T17:38:00Z',
  '2026-03-03T17:38:00Z[Europe/Paris]', '2026-03-03T17:38:00+01:00[!u-ca=iso8601]', '2026-03-03T17:38:00Z[', '２026-03-03T17:38:00Z',
  '2026-03-03T17:38:00+0530', '2026-03-03T17:38:00.5+05:30x', '', 'T', '2026-03-03TT17:38:00Z', '+2026-03-03T17:38:00Z',
];

/** Each case with every character replaced by, and with, each of a few that matter to the format, and cut at every length. */
function variants(s: string): string[] {
  const out = [s];
  for (let i = 0; i <= s.length; i++) {
    out.push(s.slice(0, i));
    for (const c of '0123569-:.+TtZz[ a') {
      out.push(s.slice(0, i) + c + s.slice(i + 1));
      out.push(s.slice(0, i) + c + s.slice(i));
    }
  }
  return out;
}

describe('isDateTime', () => {
  it('accepts and rejects exactly the strings TypeBox\'s date-time format does', () => {
    let accepted = 0;
    for (const base of CASES) {
      for (const s of variants(base)) {
        expect(isDateTime(s), JSON.stringify(s)).toBe(IsDateTime(s));
        if (IsDateTime(s)) accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});

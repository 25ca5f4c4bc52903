// RFC 3339 date-times exactly as TypeBox's 'date-time' format accepts them, at a cost a record can pay
// three times: the shape producers write (2026-03-03T17:38:00.000Z, or with an offset) is read by char
// codes; anything else, valid or not (a leap second, an RFC 9557 suffix, garbage), goes to TypeBox's own
// check, whose regexes and splits were ~4% of analyzing a record.

import { IsDateTime } from 'typebox/format';

const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function isDateTime(s: string): boolean {
  return isCommonDateTime(s) || IsDateTime(s);
}

/** YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM), seconds below 60: true only for strings IsDateTime accepts. */
function isCommonDateTime(s: string): boolean {
  const n = s.length;
  if (n < 20 || s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d || (s.charCodeAt(10) | 0x20) !== 0x74 || s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) return false;
  const year = num(s, 0, 4);
  const month = num(s, 5, 2);
  const day = num(s, 8, 2);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > (month === 2 && leap ? 29 : DAYS[month])) return false;
  const hour = num(s, 11, 2);
  const minute = num(s, 14, 2);
  const second = num(s, 17, 2);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  let i = 19;
  if (s.charCodeAt(i) === 0x2e) {
    const from = ++i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === from) return false;
  }
  if (i === n - 1) return (s.charCodeAt(i) | 0x20) === 0x7a;
  const sign = s.charCodeAt(i);
  if (i !== n - 6 || (sign !== 0x2b && sign !== 0x2d) || s.charCodeAt(i + 3) !== 0x3a) return false;
  const offsetHours = num(s, i + 1, 2);
  const offsetMinutes = num(s, i + 4, 2);
  return offsetHours >= 0 && offsetHours <= 23 && offsetMinutes >= 0 && offsetMinutes <= 59;
}

/** The decimal number of `length` digits at `at`; -1 when one of them is not a digit. */
function num(s: string, at: number, length: number): number {
  let v = 0;
  for (let i = at; i < at + length; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

// bench:real's judgement of one capture, as the real-capture README states it: benign devices may have
// one low alarm per started week and nothing above; an attack must draw a medium or above from its
// onset's minute to three minutes after, and nothing above low before it.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { judge, readManifest } from './real.js';

const t0 = Date.parse('2026-03-08T00:00:00Z') / 1000;
const ev = (minute: number, severity: AnomalyEvent['severity'], alarm: AnomalyEvent['alarm'] = 'in-alarm') =>
  ({ '@timestamp': new Date((t0 + minute * 60) * 1000).toISOString(), severity, alarm, behavior: 'scan' }) as AnomalyEvent;
const week = Array.from({ length: 7 * 1440 + 600 }, (_, i) => t0 + i * 60); // 7.4 days of one-minute records

describe('bench:real', () => {
  it('benign: nothing above low, at most one low per started device-week', () => {
    const row = { file: 'lock.pcap', device: '192.168.1.2', kind: 'benign', onset: null };
    expect(judge(row, [ev(10, 'low'), ev(5000, 'low')], week)).toMatchObject({ pass: true });
    expect(judge(row, [ev(10, 'low'), ev(50, 'low'), ev(5000, 'low')], week)).toMatchObject({ pass: false });
    expect(judge(row, [ev(10, 'medium')], week)).toMatchObject({ pass: false, why: expect.stringMatching(/1 above low/) });
    expect(judge(row, [ev(10, 'medium', 'alarm-cleared')], week)).toMatchObject({ pass: true });
  });

  it('attack: medium or above within three minutes of the onset minute, nothing above low before', () => {
    const row = { file: 'scan.pcap', device: '10.0.0.5', kind: 'scan', onset: new Date((t0 + 600 + 30) * 1000).toISOString() };
    const starts = week.slice(0, 30);
    expect(judge(row, [ev(12, 'medium')], starts)).toMatchObject({ pass: true, minutesToDetect: 2 });
    expect(judge(row, [ev(14, 'high')], starts)).toMatchObject({ pass: false }); // too late
    expect(judge(row, [ev(11, 'low')], starts)).toMatchObject({ pass: false }); // too weak
    expect(judge(row, [ev(3, 'medium'), ev(11, 'high')], starts)).toMatchObject({ pass: false }); // before the onset
    // No onset: anywhere in the capture.
    expect(judge({ ...row, onset: null }, [ev(25, 'medium')], starts)).toMatchObject({ pass: true });
  });

  it('reads the manifest, and says what is wrong with a row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwatch-real-'));
    writeFileSync(join(dir, 'm.tsv'), '# file\trepo\n a.pcap\tr\tc\tp\tb\t10.0.0.1\tbenign\t-\nb.pcap\tr\tc\tp\tb\t10.0.0.2\tscan\t2026-03-08T00:10:30Z\n');
    expect(readManifest(join(dir, 'm.tsv'))).toEqual([
      { file: ' a.pcap', device: '10.0.0.1', kind: 'benign', onset: null },
      { file: 'b.pcap', device: '10.0.0.2', kind: 'scan', onset: '2026-03-08T00:10:30Z' },
    ]);
    writeFileSync(join(dir, 'bad.tsv'), 'a.pcap\t10.0.0.1\n');
    expect(() => readManifest(join(dir, 'bad.tsv'))).toThrow(/needs 8 tab-separated fields, got 2/);
  });
});

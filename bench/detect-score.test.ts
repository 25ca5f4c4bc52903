// The scorer's definitions on hand-made labels and events: what counts as a detection, its time to
// detect, what is a false alarm, and which benign event it is put down to.

import { expect, it } from 'vitest';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import type { Labels } from '../synth/scenarios/labels.js';
import { GRACE, scoreRun } from './detect-score.js';

const at = (min: number): string => new Date(Date.parse('2026-03-02T00:00:00.000Z') + min * 60_000).toISOString();

const labels: Labels = {
  generator: 'tapwatch-scenarios', format: 1, options: {}, start: at(0), end: at(1440), interval: 60, learning_end: at(360),
  devices: [
    { id: 'a', ip: '10.128.0.1', imsi: '1', group: 'meters', class: 'meter' },
    { id: 'b', ip: '10.128.0.2', imsi: '2', group: 'meters', class: 'meter' },
    { id: 'c', ip: '10.128.0.3', imsi: '3', group: 'cameras', class: 'camera', joined: at(720) },
  ],
  incidents: [
    { id: 'inc-1', type: 'scan', device_id: 'a', device_ip: '10.128.0.1', start: '2026-03-02T08:00:30.000Z', end: at(490), detail: '', params: {} },
    { id: 'inc-2', type: 'flood', device_id: 'b', device_ip: '10.128.0.2', start: at(600), end: at(605), detail: '', params: {} },
  ],
  benign: [
    { kind: 'address-rotation', group: 'meters', start: at(0), end: at(1440), detail: '' },
    { kind: 'reconnect-storm', group: 'meters', start: at(100), end: at(110), detail: '' },
    { kind: 'backlog-burst', device_id: 'b', start: at(105), end: at(106), detail: '' },
  ],
};

const ev = (device: string, behavior: string, min: number, severity: AnomalyEvent['severity'] = 'medium', alarm: AnomalyEvent['alarm'] = 'in-alarm') =>
  ({ device: { id: device }, behavior, severity, alarm, '@timestamp': at(min), summary: `${device} ${behavior} ${min}` }) as unknown as AnomalyEvent;

it('a detection is an alarm of a behavior meant for the type, on the device, in the window or the grace after it', () => {
  const s = scoreRun(labels, [
    ev('a', 'beacon', 481), // during the scan, not a scan behavior: off target
    ev('a', 'scan', 483),
    ev('a', 'scan', 482, 'medium', 'alarm-cleared'), // a clearing is no alarm
    ev('b', 'flood', 605 + GRACE - 1, 'low'), // in the grace, any severity
  ]);
  const scan = s.types.find((t) => t.type === 'scan')!;
  expect(scan).toMatchObject({ incidents: 1, detected: 1, recall: 1, medianTimeToDetect: 3, missed: [] });
  expect(s.types.find((t) => t.type === 'flood')).toMatchObject({ detected: 1, medianTimeToDetect: 5 + GRACE - 1 });
  expect(s.types.find((t) => t.type === 'beacon')).toMatchObject({ incidents: 0, detected: 0, medianTimeToDetect: null });
  expect(s.offTarget).toEqual({ beacon: 1 });
  expect(s.medium.count).toBe(0);
});

it('an alarm past the grace, on another device, or before the incident is a false alarm, put down to the most specific benign event', () => {
  const s = scoreRun(labels, [
    ev('b', 'flood', 605 + GRACE), // past the grace: false, and a miss
    ev('a', 'scan', 479), // the interval before the incident's start
    ev('b', 'beacon', 105, 'high'), // the device's own backlog burst, inside its group's storm
    ev('a', 'beacon', 105, 'critical'), // the group's storm
    ev('c', 'beacon', 800), // no benign event of its group: 'none'
    ev('c', 'new-destination', 900, 'low'), // low: not counted
  ]);
  expect(s.types.find((t) => t.type === 'flood')!.missed).toEqual(['inc-2']);
  expect(s.types.find((t) => t.type === 'scan')!.recall).toBe(0);
  expect(s.medium).toMatchObject({ count: 5, byBehavior: { flood: 1, scan: 1, beacon: 3 }, byBenign: { 'address-rotation': 2, 'backlog-burst': 1, 'reconnect-storm': 1, none: 1 } });
  expect(s.high).toMatchObject({ count: 2, byBehavior: { beacon: 2 }, byBenign: { 'backlog-burst': 1, 'reconnect-storm': 1 } });
  expect(s.deviceDays).toBe(2.5); // c joined half way
  expect(s.high.per1000DeviceDays).toBe(800);
});

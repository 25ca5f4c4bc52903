import { describe, expect, it } from 'vitest';
import { AlarmStates, CLEARED, IN_ALARM } from './alarms.js';

describe('alarm lifecycle', () => {
  it('alarms after N breaching datapoints in a row and clears after M quiet ones, once each', () => {
    const a = new AlarmStates(1);
    const seq = [1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0];
    const out = seq.map((b, i) => a.step(0, b === 1, 2, 3, i));
    expect(out).toEqual([null, null, null, IN_ALARM, null, null, null, null, null, null, null, CLEARED, null]);
    expect(a.since(0)).toBe(3);
    expect(a.active(0)).toBe(false);
  });

  it('keeps each behavior apart and reports whether any is active', () => {
    const a = new AlarmStates(3);
    expect(a.step(1, true, 1, 1, 0)).toBe(IN_ALARM);
    expect(a.anyActive()).toBe(true);
    expect(a.active(0) || a.active(2)).toBe(false);
    expect(a.streak(1, IN_ALARM, 1)).toBe(1);
    expect(a.step(1, false, 1, 1, 1)).toBe(CLEARED);
    expect(a.anyActive()).toBe(false);
  });

  it('raises the severity level while in alarm as a new in-alarm transition, and never lowers it before clearing', () => {
    const a = new AlarmStates(1);
    expect(a.step(0, true, 1, 2, 0, 1)).toBe(IN_ALARM);
    expect(a.level(0)).toBe(1);
    expect(a.step(0, true, 1, 2, 1, 1)).toBe(null);
    expect(a.step(0, true, 1, 2, 2, 2)).toBe(IN_ALARM);
    expect(a.level(0)).toBe(2);
    expect(a.step(0, true, 1, 2, 3, 1)).toBe(null);
    expect(a.level(0)).toBe(2);
    expect(a.step(0, false, 1, 2, 4)).toBe(null);
    expect(a.step(0, false, 1, 2, 5)).toBe(CLEARED);
  });

  it('checkpoints by behavior name, so behaviors can be added or reordered', () => {
    const a = new AlarmStates(2);
    a.step(1, true, 1, 5, 42);
    const json = JSON.parse(JSON.stringify(a.toJSON(['scan', 'beacon'])));
    expect(Object.keys(json)).toEqual(['beacon']);
    const b = AlarmStates.fromJSON(['new-one', 'beacon', 'scan'], json);
    expect(b.active(1)).toBe(true);
    expect(b.since(1)).toBe(42);
    expect(b.active(0) || b.active(2)).toBe(false);
  });
});

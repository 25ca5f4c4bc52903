import { describe, expect, it } from 'vitest';
import { record } from '../test/helpers/records.js';
import { lineGroup } from './line-group.js';

const of = (text: string) => lineGroup(Buffer.from(text), 'default');

describe('lineGroup', () => {
  it('reads device.group from a record line as JSON.parse would', () => {
    for (const group of ['meters', 'lock hubs', 'ü日本', 'a"b\\c', 'tab\there', '']) {
      const r = record({ i: 0, group });
      expect(of(JSON.stringify(r)), group).toBe(group);
      expect(of(JSON.stringify(r, null, 2)), group).toBe(group);
    }
  });

  it('is not misled by "group" inside a string, and says the fallback when there is no group', () => {
    const r = record({ i: 0, group: 'meters' });
    expect(of(JSON.stringify({ ...r, collector: { source: '"group":"x"' }, device: r.device }))).toBe('meters');
    expect(of(JSON.stringify({ name: 'group', device: { id: 'd' } }))).toBe('default');
    const { group: _, ...device } = r.device;
    expect(of(JSON.stringify({ ...r, device }))).toBe('default');
  });

  it('gives the fallback, never a throw, for lines that are not records', () => {
    for (const bad of ['', 'not json', '{"group":', '{"group": 7}', '{"group":"unterminated', '{"group":"\\u00zz"}', '"group"']) expect(of(bad), bad).toBe('default');
  });
});

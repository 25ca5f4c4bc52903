import { expect, it } from 'vitest';
import { DeviceNets } from './device-nets.js';

const v4 = (a: string) => Uint8Array.from(a.split('.').map(Number));

it('an excluded address inside a device network is not a device; its neighbours are', () => {
  const nets = new DeviceNets(['10.128.0.0/9'], ['10.128.0.1', '10.130.0.0/24']);
  expect(nets.contains(v4('10.128.0.1'), 0, 4)).toBe(false);
  expect(nets.contains(v4('10.128.0.2'), 0, 4)).toBe(true);
  expect(nets.contains(v4('10.130.0.77'), 0, 4)).toBe(false);
  expect(nets.contains(v4('10.131.0.77'), 0, 4)).toBe(true);
  expect(nets.contains(v4('192.168.0.1'), 0, 4)).toBe(false);
});

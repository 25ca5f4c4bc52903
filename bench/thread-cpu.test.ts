// thread-cpu on a node process whose main thread and one worker each burn a known amount of their own
// CPU time (measured by the process itself, so a loaded machine makes them take longer, not less): the
// report must find both, by name, with about that much each.

import { expect, it } from 'vitest';
import { threadCpu } from './thread-cpu.js';

const burn = (seconds: number) => `const u0 = process.threadCpuUsage(); for (;;) { const u = process.threadCpuUsage(u0); if (u.user + u.system >= ${seconds * 1e6}) break; }`;
const script = `
const { Worker } = require('node:worker_threads');
const w = new Worker(${JSON.stringify(burn(0.6))}, { eval: true });
${burn(0.6)}
w.on('exit', () => process.exit(3));
`;

it('sums CPU per thread name: a main thread and a worker that each burn 0.6 s of their own CPU', async () => {
  const r = await threadCpu([process.execPath, '-e', script], 20);
  expect(r.exitCode).toBe(3);
  const main = r.byName.find((t) => t.name === 'MainThread');
  const worker = r.byName.find((t) => t.name === 'WorkerThread');
  expect(main?.threads).toBe(1);
  expect(worker?.threads).toBe(1);
  // At least what each burned, less what can fall between two samples; not far beyond it either.
  expect(main!.seconds).toBeGreaterThanOrEqual(0.45);
  expect(worker!.seconds).toBeGreaterThanOrEqual(0.45);
  expect(worker!.seconds).toBeLessThan(1.5);
  expect(r.wallSeconds).toBeGreaterThan(0.3);
});

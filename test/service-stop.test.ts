// SIGTERM while a service is still starting (its broker not there yet, retrying with backoff): every long-running
// command stops within 10 s, exit 0, saying it stopped, never a stack trace. /healthz meanwhile says why it is not ok.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CliProcess } from './helpers/cli-process.js';

const AWAY = '127.0.0.1:9'; // discard port: nothing listens
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-stop-'));
});
const started: CliProcess[] = [];
const track = (p: CliProcess): CliProcess => (started.push(p), p);
afterAll(() => {
  for (const p of started) p.child.kill('SIGKILL'); // only what a failed test left running
  rmSync(dir, { recursive: true, force: true });
});

const cases: [string, () => string[]][] = [
  ['collect --kafka', () => ['collect', '--listen-udp', String(40_000 + Math.floor(Math.random() * 20_000)), '--kafka', AWAY, '--http', '127.0.0.1:0']],
  ['analyze --kafka', () => ['analyze', '--kafka', AWAY, '--http', '127.0.0.1:0']],
  ['respond', () => ['respond', '--kafka', AWAY, '--control-url', 'http://127.0.0.1:9/v1', '--control-key-id', 'k', '--control-key', 's', '--http', '127.0.0.1:0']],
  ['index', () => ['index', '--kafka', AWAY, '--elasticsearch', 'http://127.0.0.1:9', '--http', '127.0.0.1:0']],
];

for (const [name, args] of cases) {
  it(`${name}: SIGTERM during start-up stops it within 10 s`, async () => {
    const p = track(new CliProcess(name, args()));
    const http = (await p.waitForLog('where it serves', (l) => l.msg === 'serving /healthz and /metrics')).http as string;
    await p.waitForLog('a retry', (l) => /retrying/.test(String(l.msg)), 30_000);
    const res = await fetch(`http://${http}/healthz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reasons: string[] }).reasons.join()).toMatch(/kafka unreachable/);
    const t0 = Date.now();
    const code = await p.stop();
    expect(code, p.tail()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(p.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
}

// tapwatch respond as an operator runs it (the built dist/): it agrees with `control serve` on where
// the control API is, logs the policy it will apply before it consumes anything, and refuses a
// notification channel it cannot use.

import { spawnSync } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { CLI, CliProcess } from './helpers/cli-process.js';

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.child.kill('SIGKILL');
});

const tapwatch = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TAPWATCH_NOTIFY_SECRET: '' } });

it('respond looks for the control API where control serve listens by default', () => {
  const serve = /--port <value>\s+TCP port \(default (\d+)/.exec(tapwatch('control', 'serve', '--help').stdout);
  const respond = /--control-url <value>\s+control API root \(default http:\/\/127\.0\.0\.1:(\d+)/.exec(tapwatch('respond', '--help').stdout);
  expect(serve?.[1]).toBe('8700');
  expect(respond?.[1]).toBe(serve?.[1]);
});

it('logs its effective policy at start, before it reaches Kafka', async () => {
  // Nothing listens on port 1: the policy line must come before any broker answers.
  const p = new CliProcess('respond', ['respond', '--kafka', '127.0.0.1:1', '--control-key-id', 'keyId-x', '--control-key', 'secret-x', '--dry-run', '--notify-syslog', '127.0.0.1:5514']);
  running.push(p);
  const line = await p.waitForLog('the effective policy', (l) => l.msg === 'effective response policy', 20_000);
  expect(line).toMatchObject({
    source: 'default',
    control: 'http://127.0.0.1:8700',
    notify: ['syslog 127.0.0.1:5514'],
    policy: { dryRun: true, quarantineGroupId: null, redirectFallback: 'throttle', rules: expect.arrayContaining([expect.objectContaining({ name: 'critical', action: 'redirect' })]) },
  });
  expect(p.stderr).not.toContain('secret-x');
});

it('refuses a webhook without its signing secret, and a syslog target that is not HOST:PORT', () => {
  const base = ['respond', '--kafka', '127.0.0.1:1', '--control-key-id', 'k', '--control-key', 's'];
  const webhook = tapwatch(...base, '--notify-webhook', 'http://127.0.0.1:9/hook');
  expect(webhook.status).toBe(2);
  expect(webhook.stderr).toMatch(/--notify-webhook needs the signing secret in TAPWATCH_NOTIFY_SECRET/);
  const syslog = tapwatch(...base, '--notify-syslog', 'loghost');
  expect(syslog.status).toBe(2);
  expect(syslog.stderr).toMatch(/--notify-syslog: syslog: expected HOST:PORT, got 'loghost'/);
});

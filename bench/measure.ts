// Runs one workload as a child process and measures it from outside: wall time around the whole
// process (start-up included, as for the peers), and from GNU time peak RSS (%M, the kernel's ru_maxrss
// of the child) and CPU time (%U + %S), so every workload is measured the same way. CPU time is given
// beside wall time because on a shared VM wall time also counts the time other tenants had the cores.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
const MAX_OUTPUT = 256 * 1024 * 1024; // decap --json lists every destination

export interface Measured {
  wallS: number;
  /** Peak resident set in KiB, or null when GNU time is not installed. */
  maxRssKb: number | null;
  /** User + system CPU seconds of the child and what it waited for, or null without GNU time. */
  cpuS: number | null;
  ok: boolean;
  /** What went wrong when !ok: exit status, signal or spawn error. */
  failure: string;
  stdout: string;
  stderr: string;
}

export const haveGnuTime = (): boolean => existsSync(GNU_TIME);

export function measure(argv: string[], cwd: string, scratch: string): Measured {
  const rssFile = join(scratch, 'maxrss');
  const timed = haveGnuTime();
  const [cmd, ...args] = timed ? [GNU_TIME, '-f', '%M %U %S', '-o', rssFile, ...argv] : argv;
  const t0 = process.hrtime.bigint();
  const res = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: MAX_OUTPUT, stdio: ['ignore', 'pipe', 'pipe'] });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  let maxRssKb: number | null = null;
  let cpuS: number | null = null;
  if (timed && existsSync(rssFile)) {
    // On failure GNU time writes "Command exited with non-zero status N" before the figures.
    const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '';
    const m = /^(\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(last);
    if (m) {
      maxRssKb = Number(m[1]);
      cpuS = Number(m[2]) + Number(m[3]);
    }
    rmSync(rssFile);
  }
  const failure = res.error ? res.error.message
    : res.signal ? `killed by ${res.signal}`
    : res.status !== 0 ? `exit status ${res.status}` : '';
  return { wallS, maxRssKb, cpuS, ok: failure === '', failure, stdout: res.stdout ?? '', stderr: res.stderr ?? '' };
}

// Where a multi-threaded run's CPU goes, thread by thread. Runs a command and samples its threads' CPU
// time (utime + stime of /proc/PID/task/TID/stat, Linux) every 100 ms, keeping each thread's last
// reading, then sums them by thread name. Node names its threads: MainThread, WorkerThread (worker_threads),
// V8Worker (V8's background compiler and garbage-collector helpers), libuv-worker (the fs/dns pool).
// For `analyze --in` on two cores: how much of the machine the analysing workers get, and what else takes it.
//
//   node dist/bench/thread-cpu.js [--json] -- COMMAND [ARG...]
//
// Run node itself, not npm (the command's own process is the one sampled). A thread that ends between two
// samples loses what it used since the last one (under 0.1 s each).

import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadCpu {
  name: string;
  threads: number;
  seconds: number;
}

export interface ThreadCpuReport {
  command: string[];
  wallSeconds: number;
  exitCode: number | null;
  byName: ThreadCpu[];
}

const USAGE = 'usage: node dist/bench/thread-cpu.js [--json] -- COMMAND [ARG...]\n';

/** utime + stime in clock ticks, and the thread's name, from one /proc/PID/task/TID/stat. */
function readStat(path: string): { name: string; ticks: number } | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null; // the thread (or the process) ended
  }
  // The name is in parentheses and may hold spaces or parentheses itself: the fields start after the last ')'.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // Fields from the state (field 3 of proc(5)): utime is field 14, stime 15.
  return { name: text.slice(text.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
}

export async function threadCpu(command: string[], everyMs = 100): Promise<ThreadCpuReport> {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const started = performance.now();
  const child = spawn(command[0], command.slice(1), { stdio: 'inherit' });
  const last = new Map<string, { name: string; ticks: number }>();
  const sample = () => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${child.pid}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      const s = readStat(`/proc/${child.pid}/task/${tid}/stat`);
      if (s) last.set(tid, s);
    }
  };
  const timer = setInterval(sample, everyMs);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  }).finally(() => clearInterval(timer));
  const wallSeconds = (performance.now() - started) / 1000;
  const byName = new Map<string, ThreadCpu>();
  for (const { name, ticks } of last.values()) {
    const t = byName.get(name) ?? { name, threads: 0, seconds: 0 };
    t.threads++;
    t.seconds += ticks / ticksPerSecond;
    byName.set(name, t);
  }
  return { command, wallSeconds, exitCode, byName: [...byName.values()].sort((a, b) => b.seconds - a.seconds) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args[0] === '--json';
  const dash = args.indexOf('--');
  const command = dash >= 0 ? args.slice(dash + 1) : [];
  if (command.length === 0 || args.slice(0, dash).some((a) => a !== '--json')) {
    process.stderr.write(USAGE);
    process.exitCode = 2;
    return;
  }
  const r = await threadCpu(command);
  if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    const total = r.byName.reduce((s, t) => s + t.seconds, 0);
    process.stderr.write(`wall ${r.wallSeconds.toFixed(2)} s, CPU ${total.toFixed(2)} s (${(total / r.wallSeconds).toFixed(2)} cores), exit ${r.exitCode}\n`);
    for (const t of r.byName) {
      process.stderr.write(`${t.seconds.toFixed(2).padStart(8)} s ${((100 * t.seconds) / (total || 1)).toFixed(1).padStart(5)} %  ${t.name} (${t.threads} thread${t.threads === 1 ? '' : 's'})\n`);
    }
  }
  if (r.exitCode !== 0) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: Error) => {
    process.stderr.write(`thread-cpu: ${e.message}\n`);
    process.exitCode = 1;
  });
}

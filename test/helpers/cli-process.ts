// A `tapwatch` command run as its own process, as an operator runs it: its pino log lines parsed
// as they arrive, waits on what it logged, and its exit.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { until } from './until.js';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'tapwatch.js');

export type LogLine = Record<string, unknown> & { msg?: string };

export class CliProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private err = '';
  private out = '';

  constructor(readonly name: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd, uid: opts.uid, gid: opts.gid });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Every complete JSON log line so far. */
  logs(): LogLine[] {
    const out: LogLine[] = [];
    for (const l of this.err.split('\n')) {
      if (!l.startsWith('{')) continue;
      try {
        out.push(JSON.parse(l) as LogLine);
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  /** The last log line with this message, if any. */
  last(msg: string): LogLine | undefined {
    return this.logs().filter((l) => l.msg === msg).at(-1);
  }

  /** The last `n` lines of stderr, for a failure message. */
  tail(n = 20): string {
    return `--- ${this.name}:\n${this.err.trim().split('\n').slice(-n).join('\n')}`;
  }

  /** Waits for a log line that satisfies `ok`; fails at once if the process exits first. */
  waitForLog(what: string, ok: (l: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    return until(
      `${this.name} to log ${what}`,
      () => {
        const hit = this.logs().find(ok);
        if (hit) return hit;
        if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before logging ${what}\n${this.tail()}`);
        return undefined;
      },
      { timeoutMs, context: () => this.tail() },
    );
  }

  /** SIGTERM, then the exit status. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** What a finished run left: its exit status, its output, its log lines. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  logs: LogLine[];
}

/** Runs `tapwatch ...args` to its end. */
export async function runCli(args: readonly string[], opts: ConstructorParameters<typeof CliProcess>[2] = {}): Promise<CliRun> {
  const p = new CliProcess(args[0] ?? 'tapwatch', args, opts);
  const code = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr, logs: p.logs() };
}

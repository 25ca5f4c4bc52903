// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside whichever commit
// crosses its threshold (1000 pages) and fsyncs twice: some milliseconds of stall for that request
// and everything queued behind it, dozens of times a second under load. So the store's connection
// checkpoints only as a last resort, and this worker thread does it on its own connection,
// PASSIVE (never waiting for the writer), every interval. Commits themselves do not fsync
// (synchronous=NORMAL in WAL mode), so no request waits on the disk.
//
// Under sustained writes a PASSIVE checkpoint never sees the WAL complete (frames keep arriving
// while it copies), so the WAL is never restarted and would grow. When the worker finds it past
// `finishAtFrames`, the store finishes the job on its own connection: only the few frames written
// since, after which the next commit starts the WAL from the beginning again.
//
// The worker is a few lines of CommonJS evaluated from a string: a separate module file would
// exist only after tsc, and the tests run the TypeScript sources.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r.checkpointed > 0) parentPort.postMessage({ walFrames: r.log });
  } catch (err) {
    parentPort.postMessage({ error: err.message });
  }
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface CheckpointerOptions {
  intervalMs: number;
  finishAtFrames: number;
  /** Checkpoint inline now: the WAL is past finishAtFrames. */
  finish(): void;
  /** Told once if the worker stops working; the caller then checkpoints itself. */
  failed(message: string): void;
}

export class Checkpointer {
  private readonly worker: Worker;
  /** Checkpoints that copied something, in the worker. */
  passes = 0;

  constructor(path: string, opts: CheckpointerOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, { eval: true, workerData: { path, intervalMs: opts.intervalMs, driver } });
    this.worker.unref();
    let failed = false;
    const fail = (message: string) => {
      if (failed) return;
      failed = true;
      opts.failed(message);
    };
    this.worker.on('message', (m: { walFrames?: number; error?: string }) => {
      if (m.error) return fail(m.error);
      this.passes++;
      if (m.walFrames! >= opts.finishAtFrames) opts.finish();
    });
    this.worker.on('error', (err) => fail(err.message));
  }

  /** Asks the worker to close its connection and end; resolves once it has (its last checkpoint may still touch the files until then). */
  stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    return exited;
  }
}

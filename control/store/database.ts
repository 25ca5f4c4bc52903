// Opening the store's SQLite file: never created by accident (a wrong --db must not become an empty
// database, whose reconcile would then wipe the gateway), readable by its owner only (it holds key
// hashes and the audit), WAL mode with checkpoints off the event loop, and migrated to this version.

import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { Checkpointer } from './checkpointer.js';
import { StoreError } from './errors.js';
import { migrate } from './migrations.js';

export interface OpenOptions {
  /** Create the file when it does not exist (`--init`). Without it a missing file is refused. */
  create?: boolean;
  /** Told about tightened permissions and failed background checkpoints. */
  log?: Logger;
}

/** Owner read/write only: the file holds scrypt hashes of the keys and every audited change. */
const FILE_MODE = 0o600;
/** How often the background thread checkpoints the WAL into the database file. */
const CHECKPOINT_INTERVAL_MS = 250;
/** WAL frames past which the store finishes a background checkpoint itself, so that the WAL restarts
 *  (checkpointer.ts); 16 MiB of 4 KiB pages. */
const FINISH_CHECKPOINT_FRAMES = 4096;
/** The last resort, should the background thread stall: SQLite's own checkpoint in the commit that
 *  takes the WAL past this many pages (its default is 1000). */
const INLINE_CHECKPOINT_PAGES = 16_384;

export function openDatabase(path: string, opts: OpenOptions): { db: Database; checkpointer: Checkpointer | null } {
  if (path !== ':memory:') prepareFile(path, opts);
  const db = new BetterSqlite3(path);
  try {
    // WAL: readers never wait for the writer. NORMAL: commits do not fsync (checkpoints do), so a
    // power cut can lose the last commits but never corrupts the file.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_size_limit = 67108864'); // truncate the WAL back to 64 MiB after a burst
    migrate(db);
    if (db.memory) return { db, checkpointer: null };
    db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
    const checkpointer = new Checkpointer(path, {
      intervalMs: CHECKPOINT_INTERVAL_MS,
      finishAtFrames: FINISH_CHECKPOINT_FRAMES,
      finish: () => {
        try {
          if (db.open) db.pragma('wal_checkpoint(PASSIVE)');
        } catch (err) {
          // Harmless (the WAL restarts after a later one); it must not escape into the event loop.
          opts.log?.warn({ err: (err as Error).message }, 'WAL checkpoint failed');
        }
      },
      failed: (message) => {
        opts.log?.warn({ err: message }, 'background WAL checkpoints failed; checkpointing inline');
        if (db.open) db.pragma('wal_autocheckpoint = 1000');
      },
    });
    return { db, checkpointer };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Creates the file 0600 when asked to, refuses a missing one otherwise, and tightens a looser one. SQLite
 *  gives the -wal and -shm files the database file's mode, so they follow. */
function prepareFile(path: string, opts: OpenOptions): void {
  if (!existsSync(path)) {
    if (!opts.create) {
      throw new StoreError('database-missing', `the control database ${path} does not exist: give the right --db, or --init to create a new, empty one`);
    }
    closeSync(openSync(path, 'wx', FILE_MODE)); // an empty file is an empty SQLite database
    return;
  }
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    if (!existsSync(f)) continue;
    const mode = statSync(f).mode & 0o777;
    if ((mode & 0o077) === 0) continue;
    chmodSync(f, mode & 0o700);
    opts.log?.warn({ file: f, was: mode.toString(8), now: (mode & 0o700).toString(8) }, 'the control database was readable by others: permissions tightened');
  }
}

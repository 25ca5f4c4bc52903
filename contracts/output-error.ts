// An output a command cannot open or write (a missing directory, a read-only file, a full disk,
// /dev/full) or an input it cannot read: one line for the operator, with the path and the reason,
// exit 1, never a stack trace nor an 'error' event nobody listens to.

import { openSync, writeSync } from 'node:fs';
import type { ErrorCode } from './errors.js';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EPIPE: 'the reader went away',
};

export class OutputError extends Error {
  readonly code: ErrorCode = 'TWU0004';

  /** "cannot write PATH: reason" from a failed fs call. */
  static from(action: string, path: string, err: unknown): OutputError {
    const e = err as NodeJS.ErrnoException;
    return new OutputError(`cannot ${action} ${path}: ${(e.code && REASONS[e.code]) ?? e.message}${e.code ? ` (${e.code})` : ''}`);
  }

  /** Opens `path` for writing (truncating), or throws an OutputError. */
  static open(path: string, flags = 'w'): number {
    try {
      return openSync(path, flags);
    } catch (err) {
      throw OutputError.from('write', path, err);
    }
  }

  /** Writes all of `data` to `fd`, or throws an OutputError naming `path`. */
  static write(fd: number, path: string, data: string | Uint8Array): void {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    try {
      for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
    } catch (err) {
      throw OutputError.from('write', path, err);
    }
  }
}

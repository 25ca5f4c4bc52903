// The bench capture: generated once into the OS temp directory (never the repository, it is
// ~1.5 GB), named by generator format, seed and packet count so a later run reuses it, and read
// through once before timing so every workload starts from a warm page cache, as the peer
// baselines were measured.

import { closeSync, existsSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLEET_MIRROR_FORMAT, generateFleetMirror } from '../synth/fleet-mirror.js';

export interface BenchCapture {
  path: string;
  packets: number;
  bytes: number;
  seed: number;
  generatedS: number | null; // null when reused
  warmS: number;
}

function warm(path: string): number {
  const t0 = process.hrtime.bigint();
  const buf = new Uint8Array(8 * 1024 * 1024);
  const fd = openSync(path, 'r');
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function benchCapture(packets: number, seed: number): BenchCapture {
  const path = join(tmpdir(), `tapwatch-fleet-v${FLEET_MIRROR_FORMAT}-s${seed}-n${packets}.pcap`);
  let generatedS: number | null = null;
  if (!existsSync(path)) {
    // Written under another name and renamed when complete, so an interrupted run leaves no
    // truncated file that a later run would take for the real one.
    const partial = `${path}.partial-${process.pid}`;
    try {
      generatedS = generateFleetMirror({ out: partial, packets, seed }).seconds;
      renameSync(partial, path);
    } finally {
      rmSync(partial, { force: true });
    }
  }
  return { path, packets, bytes: statSync(path).size, seed, generatedS, warmS: warm(path) };
}

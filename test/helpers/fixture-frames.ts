// Every frame of every real capture in fixtures/real, copied out with its link type: material
// for tests that need many varied, real frames (allocation probe, fuzzing).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openCapture } from '../../gre-decap/readers/capture.js';
import { Frame } from '../../gre-decap/readers/frame.js';

export const FIXTURE_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'real');

export interface FixtureFrame {
  file: string;
  linkType: number;
  data: Uint8Array;
}

export function fixtureFrames(): FixtureFrame[] {
  const out: FixtureFrame[] = [];
  for (const file of readdirSync(FIXTURE_DIR).filter((f) => /\.(pcap|pcapng)$/.test(f)).sort()) {
    const reader = openCapture(join(FIXTURE_DIR, file));
    const f = new Frame();
    while (reader.next(f)) out.push({ file, linkType: f.linkType, data: f.buf.slice(f.off, f.off + f.capLen) });
    reader.close();
  }
  return out;
}

// The collector's memory follows its table capacities, not the packets: peak RSS of
// `tapwatch collect` on captures of growing size (same fleet, same seed), for the bench report.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchCapture } from './capture.js';
import { measure } from './measure.js';

export interface RssPoint {
  packets: number;
  wallS: number;
  maxRssKb: number | null;
}

export function collectRss(sizes: number[], seed: number, root: string): RssPoint[] {
  return sizes.map((packets) => {
    const cap = benchCapture(packets, seed);
    const scratch = mkdtempSync(join(tmpdir(), 'tapwatch-rss-'));
    try {
      const m = measure(['dist/cli/tapwatch.js', 'collect', '--pcap', cap.path, '--out', '/dev/null', '--log-level', 'warn'], root, scratch);
      if (!m.ok) throw new Error(`collect on ${packets} packets failed: ${m.failure}\n${m.stderr.slice(-2000)}`);
      return { packets, wallS: m.wallS, maxRssKb: m.maxRssKb };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}

export function formatRss(points: RssPoint[]): string {
  const lines = points.map((p) => `| ${p.packets.toLocaleString('en-US').padStart(12)} | ${p.wallS.toFixed(2).padStart(6)} | ${p.maxRssKb === null ? 'n/a' : `${(p.maxRssKb / 1024).toFixed(0)} MB`.padStart(7)} |`);
  return ['| packets      | wall s | max RSS |', '| ------------ | ------ | ------- |', ...lines].join('\n');
}

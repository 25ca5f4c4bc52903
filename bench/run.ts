// `npm run bench`: tapwatch beside its peers on one generated mirror capture, in one run, so the
// ratios compare like with like (absolute figures move between machines and runs). Workloads run
// one after another, never in parallel: the target machines have 2 cores.
//
//   node dist/bench/run.js [--packets 5000000] [--runs 3] [--seed 1] [--json FILE] [--verbose]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { collectRss, formatRss } from './collect-rss.js';
import { benchCapture } from './capture.js';
import { formatMachine, machineInfo } from './machine.js';
import { haveGnuTime, measure } from './measure.js';
import { missingPeerReason, peerStatusPath, readPeerStatus } from './peer-status.js';
import { formatTable, median, type WorkloadResult } from './report.js';
import { type Workload, workloads } from './workloads.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..'); // dist/bench → repository
const STDERR_TAIL = 15;

const HELP = `Usage: node dist/bench/run.js [options]   (npm run bench -- [options])

  --packets N   packets in the generated capture (default 5000000)
  --runs N      runs per workload; the table shows the median (default 3)
  --seed N      generator seed (default 1)
  --json FILE   also write the results as JSON
  --verbose     print every run's time and peak RSS
  --rss-sizes L  capture sizes for the collector's RSS check, comma-separated (default 1000000,10000000; 0 = skip)
  --help        this text

Peers missing? bash bench/install-peers.sh (tcpdump, GNU time, suricata from bookworm-backports).
`;

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  const n = v === undefined ? dflt : Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
}

function newResult(w: Workload): WorkloadResult {
  return { name: w.name, kind: w.kind, status: 'ok', reason: '', runsS: [], medianS: null, cpuS: [], medianCpuS: null, maxRssKb: null, packetsSeen: null, youngGcs: null, note: '' };
}

/** Run i of workload w into res; false once it failed (the workload then runs no more). */
function runOnce(w: Workload, i: number, runs: number, res: WorkloadResult, verbose: boolean): boolean {
  const scratch = mkdtempSync(join(tmpdir(), 'tapwatch-bench-'));
  try {
    const argv = w.argv(scratch);
    const m = measure(argv, ROOT, scratch);
    const rep = m.ok ? w.report(m, scratch) : null;
    const failure = !m.ok ? m.failure
      : w.kind === 'tapwatch' && rep?.packets === null ? `printed no packet count${rep.note ? ` (${rep.note})` : ''}` : '';
    if (failure) {
      process.stderr.write(`${w.name}: run ${i} failed (${failure}): ${argv.join(' ')}\n${tail(m.stderr || m.stdout, STDERR_TAIL)}\n`);
      Object.assign(res, { status: 'failed', reason: failure });
      return false;
    }
    res.runsS.push(m.wallS);
    if (m.cpuS !== null) res.cpuS.push(m.cpuS);
    if (m.maxRssKb !== null) res.maxRssKb = Math.max(res.maxRssKb ?? 0, m.maxRssKb);
    res.packetsSeen = rep!.packets;
    res.youngGcs = rep!.youngGcs;
    res.note = rep!.note;
    if (verbose) {
      const rss = m.maxRssKb === null ? '' : `, peak RSS ${(m.maxRssKb / 1024).toFixed(0)} MB`;
      const cpu = m.cpuS === null ? '' : `, CPU ${m.cpuS.toFixed(2)} s`;
      process.stderr.write(`${w.name}: run ${i}/${runs}: ${m.wallS.toFixed(3)} s${cpu}${rss}${rep!.packets === null ? '' : `, ${rep!.packets} packets`}\n`);
    }
    return true;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Every workload `runs` times, in rounds (one run of each, then the next round), so that a slow spell of
 * a shared machine falls on all of them alike rather than on whichever ran then: the ratios compare
 * runs made side by side.
 */
function runAll(list: Workload[], runs: number, packets: number, verbose: boolean, peers: Map<string, string>): WorkloadResult[] {
  const results = list.map((w) => {
    const res = newResult(w);
    if (!w.unavailable) return res;
    // A peer's tool is its command (tcpdump, suricata), which is also the Debian package install-peers.sh installs.
    const reason = w.kind === 'peer' ? missingPeerReason(w.argv('')[0], w.unavailable, peers) : w.unavailable;
    process.stderr.write(`${w.name}: ${reason}\n`);
    return { ...res, status: 'n/a' as const, reason };
  });
  for (let i = 1; i <= runs; i++) {
    list.forEach((w, k) => {
      if (results[k].status === 'ok') runOnce(w, i, runs, results[k], verbose);
    });
  }
  for (const res of results) {
    if (res.status !== 'ok') continue;
    res.medianS = median(res.runsS);
    res.medianCpuS = res.cpuS.length ? median(res.cpuS) : null;
    if (res.packetsSeen !== null && res.packetsSeen !== packets) res.note = [res.note, 'packet count differs'].filter(Boolean).join('; ');
    process.stderr.write(`${res.name}: median ${res.medianS.toFixed(2)} s of ${runs}\n`);
  }
  return results;
}

function main(): number {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string' }, runs: { type: 'string' }, seed: { type: 'string' }, json: { type: 'string' },
      verbose: { type: 'boolean' }, help: { type: 'boolean' }, 'rss-sizes': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const packets = positiveInt('packets', values.packets, 5_000_000);
  const runs = positiveInt('runs', values.runs, 3);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed)) throw new RangeError(`--seed must be an integer, got '${values.seed}'`);

  const command = ['node', ...process.argv.slice(1).map((a, i) => (i === 0 ? a.replace(`${ROOT}/`, '') : a))].join(' ');
  const machine = machineInfo(ROOT);
  process.stdout.write(`command: ${command}\n${formatMachine(machine)}\n`);
  const peers = readPeerStatus(peerStatusPath(ROOT));
  if (!haveGnuTime()) process.stdout.write(`note: no peak RSS: ${missingPeerReason('time', '/usr/bin/time not installed (apt-get install time)', peers).replace(/^n\/a: /, '')}\n`);

  const cap = benchCapture(packets, seed);
  const made = cap.generatedS === null ? 'reused' : `generated in ${cap.generatedS.toFixed(1)} s`;
  process.stdout.write(`capture: ${cap.path} (${packets.toLocaleString('en-US')} packets, ${(cap.bytes / 1e6).toFixed(1)} MB, `
    + `seed ${seed}, ${made}, read once to warm the page cache in ${cap.warmS.toFixed(2)} s)\n`);
  process.stdout.write(`runs per workload: ${runs}, one process at a time, in rounds (one run of every workload a round)\n\n`);

  const results = runAll(workloads(cap.path, ROOT), runs, packets, values.verbose ?? false, peers);
  process.stdout.write(`\n${formatTable(results, packets, cap.bytes)}\n\n`);
  process.stdout.write('median s: wall time of the whole process; CPU s: its user + system time (GNU time); packets/s and MB/s: '
    + 'the capture\'s size over the wall time; × X: X\'s wall time ÷ this workload\'s (above 1 = faster than X), '
    + 'and in brackets the same with CPU times; max RSS: peak over the runs (GNU time).\n');

  const rssSizes = (values['rss-sizes'] ?? '1000000,10000000').split(',').map(Number).filter((n) => n > 0);
  const rss = rssSizes.length ? collectRss(rssSizes, seed, ROOT) : [];
  if (rss.length) process.stdout.write(`\ntapwatch collect peak RSS by capture size (default capacities: 65,536 devices, 2^20 flows and destinations an interval):\n${formatRss(rss)}\n`);

  // The control API's own load test (autocannon against a server in a child process), after the packet path.
  process.stdout.write('\ncontrol API (node dist/bench/control-api.js):\n');
  const control = spawnSync(process.execPath, [join(ROOT, 'dist', 'bench', 'control-api.js')], { stdio: 'inherit' });

  if (values.json) {
    const out = { command, machine, capture: { path: cap.path, packets, bytes: cap.bytes, seed }, runs, results, collectRss: rss };
    writeFileSync(values.json, JSON.stringify(out, null, 2) + '\n');
  }
  // Peers are context; only tapwatch's own rows (and the control API's run) decide the exit status.
  return results.some((r) => r.kind === 'tapwatch' && r.status === 'failed') || control.status !== 0 ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exitCode = 2;
}

// One collector's knee on the UDP source (issue 14): `tapwatch collect --listen-udp` as its own process,
// a sender process pacing VXLAN datagrams of a generated fleet at rising rates on loopback, and this
// process reading the collector's /metrics, the socket's kernel drops (/proc/net/udp) and the
// collector's CPU and RSS (/proc/PID) between steps. The knee is the highest step with loss < 0.1 %.
//
//   npm run bench:udp -- [--rates 25000,50000,...] [--seconds 10] [--devices 10000] [--packets 200000]
//                        [--interval 1] [--seed 1] [--json FILE]

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { udpSocketDrops } from '../collector/sources/live-source.js';
import { FLEET_MIRROR_FORMAT, generateFleetMirror } from '../synth/fleet-mirror.js';
import type { SendResult } from './udp-sender.js';
import { freePort } from '../scripts/service-utils.js';
import { metricSums } from '../test/helpers/prometheus.js';

/** The repository root, whether this runs from bench/ (vitest) or dist/bench/ (npm run bench:udp). */
const ROOT = import.meta.dirname.endsWith(join('dist', 'bench')) ? join(import.meta.dirname, '..', '..') : join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'cli', 'tapwatch.js');
const SENDER = join(ROOT, 'dist', 'bench', 'udp-sender.js');

export interface KneeOptions {
  rates: number[];
  seconds: number;
  devices: number;
  packets: number;
  seed: number;
  /** The collector's --interval: 1 s makes every active device a record a second (the most records). */
  interval: number;
  /** Stop after a step losing more than this fraction (default 0.05). */
  stopLoss?: number;
  /** The whole run is killed after this many seconds (default 180). */
  budgetS?: number;
  log?: (line: string) => void;
}

export interface KneeStep {
  offeredPps: number;
  seconds: number;
  sent: number;
  sendErrors: number;
  /** Scheduled datagrams the sender fell too far behind to send. */
  senderSkipped: number;
  achievedPps: number;
  /** tapwatch_collector_packets_total over the step. */
  counted: number;
  /** The socket's kernel drops over the step (/proc/net/udp `drops`, as tapwatch_capture_dropped_packets_total reads it). */
  kernelDrops: number;
  /** tapwatch_capture_dropped_packets_total over the step (sampled by the collector once a second). */
  metricDrops: number;
  /** (sent − counted) ÷ sent. */
  lossPct: number;
  recordsPerS: number;
  /** tapwatch_collector_devices at the end of the step. */
  devices: number;
  /** Collector CPU (user + system) over the step, 100 = one core. */
  cpuPct: number;
  rssMB: number;
  /** The sender process's CPU over the step (it shares the cores with the collector). */
  senderCpuPct: number;
  /** CPU everything else on the machine used over the step (/proc/stat busy less collector and sender): a neighbour's share. */
  otherCpuPct: number;
  /** The rest of the machine used more than CONTENDED_PCT: the step's loss is not the collector's alone. */
  contended: boolean;
  /** The machine's 1-minute load average at the end of the step (the machine is shared). */
  load1: number;
}

export interface KneeReport {
  date: string;
  cores: number;
  loadavgBefore: string;
  loadavgAfter: string;
  rmemMax: number | null;
  datagrams: number;
  datagramBytes: number;
  options: Omit<KneeOptions, 'log'>;
  command: string;
  steps: KneeStep[];
  /** The highest offered rate with loss < 0.1 % (null: none). */
  kneePps: number | null;
  stoppedEarly: boolean;
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function readNumber(path: string): number | null {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine since boot (/proc/stat: all but idle and iowait). */
function machineBusyS(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3] - (f[4] ?? 0) - (f[8] ?? 0) - (f[9] ?? 0)) / 100; // less idle, iowait, guest (already in user)
}

/** utime + stime of a process in seconds (clock ticks of 100 Hz, as on Linux everywhere) and its RSS in MB. */
function procUsage(pid: number): { cpuS: number; rssMB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after "(comm)": state is index 0 (field 3), utime field 14, stime field 15.
  const cpuS = (Number(f[11]) + Number(f[12])) / 100;
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS, rssMB: rss ? Number(rss[1]) / 1024 : NaN };
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The fleet's traffic as VXLAN mirror frames: generated once into the temp directory, reused after. */
export function kneeCapture(packets: number, devices: number, seed: number): string {
  const path = join(tmpdir(), `tapwatch-udpknee-v${FLEET_MIRROR_FORMAT}-s${seed}-d${devices}-n${packets}.pcap`);
  if (!existsSync(path)) {
    const partial = `${path}.partial-${process.pid}`;
    try {
      generateFleetMirror({ out: partial, packets, devices, seed, mix: 'vxlan=1' });
      renameSync(partial, path);
    } finally {
      rmSync(partial, { force: true });
    }
  }
  return path;
}

type Metrics = Map<string, number>;

async function scrape(http: string): Promise<Metrics> {
  const res = await fetch(`http://${http}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
  return metricSums(await res.text());
}

/** Rest-of-machine CPU % above which a step is marked contended (a quarter of one of the 2 cores). */
export const CONTENDED_PCT = 25;

const PACKETS = 'tapwatch_collector_packets_total';
const RECORDS = 'tapwatch_collector_records_emitted_total';
const DEVICES = 'tapwatch_collector_devices';
const DROPPED = 'tapwatch_capture_dropped_packets_total';
/** Registered once the UDP socket is bound: the collector is receiving. */
const RECEIVING = 'tapwatch_capture_received_packets_total';

/** A child process's last output, for the error when it fails. */
function tail(child: ChildProcess): () => string {
  let text = '';
  const keep = (d: Buffer) => (text = (text + d.toString('utf8')).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text.trim();
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(t);
}

export async function runKnee(o: KneeOptions): Promise<KneeReport> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  for (const f of [CLI, SENDER]) if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);
  const stopLoss = o.stopLoss ?? 0.05;
  const budgetMs = (o.budgetS ?? 180) * 1000;
  const started = Date.now();
  const loadavgBefore = loadavg();
  const capture = kneeCapture(o.packets, o.devices, o.seed);
  const port = await freeUdpPort();
  const hport = await freePort(0);
  const http = `127.0.0.1:${hport}`;
  const args = ['collect', '--listen-udp', String(port), '--device-net', '10.128.0.0/9', '--interval', String(o.interval), '--out', '/dev/null', '--http', http];
  const command = `tapwatch ${args.join(' ').replace(String(port), 'PORT').replace(http, '127.0.0.1:HPORT')}`;

  let collector: ChildProcess | undefined;
  let sender: ChildProcess | undefined;
  const killAll = () => {
    for (const c of [sender, collector]) if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.once('exit', killAll); // even when the bench itself dies: no collector or sender left behind
  const budget = setTimeout(() => {
    log(`udp-knee: over the ${budgetMs / 1000} s budget: stopping everything`);
    killAll();
  }, budgetMs);
  try {
    collector = spawn(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const collectorOut = tail(collector);
    const collectorExit = exited(collector);
    // Receiving once /metrics lists the capture counters (registered after the socket is bound).
    const deadline = Date.now() + 20_000;
    let m0: Metrics | undefined;
    for (;;) {
      const code = await Promise.race([collectorExit.then((c) => ({ c })), sleep(200)]);
      if (code) throw new Error(`the collector exited (code ${code.c}) before it received anything:\n${collectorOut()}`);
      m0 = await scrape(http).catch(() => undefined);
      if (m0?.has(RECEIVING)) break;
      if (Date.now() > deadline) throw new Error(`the collector did not start receiving on 127.0.0.1:${port} in 20 s:\n${collectorOut()}`);
    }

    sender = fork(SENDER, [capture, String(port)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const senderOut = tail(sender);
    const senderExit = exited(sender);
    const reply = <T>(): Promise<T> =>
      new Promise((resolve, reject) => {
        const onMsg = (m: T & { error?: string }) => {
          sender!.off('exit', onExit);
          if (m.error) reject(new Error(`sender: ${m.error}`));
          else resolve(m);
        };
        const onExit = (code: number | null) => {
          sender!.off('message', onMsg);
          reject(new Error(`the sender exited (code ${code}):\n${senderOut()}`));
        };
        sender!.once('message', onMsg);
        sender!.once('exit', onExit);
      });
    const { ready: datagrams } = await reply<{ ready: number }>();
    const datagramBytes = statBytes(capture, datagrams);
    log(`udp-knee: ${datagrams} VXLAN datagrams of ${o.devices} devices loaded; collector pid ${collector.pid} on udp ${port}, /metrics on ${http}; load average ${loadavgBefore}`);

    const steps: KneeStep[] = [];
    let stoppedEarly = false;
    for (const rate of o.rates) {
      if (Date.now() - started + o.seconds * 1000 + 5000 > budgetMs) {
        log(`udp-knee: no time left in the ${budgetMs / 1000} s budget for ${rate} pps`);
        stoppedEarly = true;
        break;
      }
      const before = await scrape(http);
      const drops0 = udpSocketDrops(port, false) ?? 0;
      const use0 = procUsage(collector.pid!);
      const snd0 = procUsage(sender.pid!);
      const busy0 = machineBusyS();
      const t0 = performance.now();
      sender.send({ rate, ms: o.seconds * 1000 });
      const sent = (await reply<{ result: SendResult }>()).result;
      const delivered = sent.sent - sent.errors;
      // Let the collector read what is still in its socket buffer: until counted + dropped covers what was sent, or it has
      // not moved for 3 looks (0.6 s: longer than an interval close stalls it), at most 5 s.
      let after = await scrape(http);
      let drops1 = udpSocketDrops(port, false) ?? 0;
      for (let i = 0, last = -1, still = 0; i < 25; i++) {
        const seen = (after.get(PACKETS) ?? 0) - (before.get(PACKETS) ?? 0) + drops1 - drops0;
        if (seen >= delivered) break;
        still = seen === last ? still + 1 : 0;
        if (still >= 3) break;
        last = seen;
        await sleep(200);
        after = await scrape(http);
        drops1 = udpSocketDrops(port, false) ?? 0;
      }
      const wallS = (performance.now() - t0) / 1000;
      const use1 = procUsage(collector.pid!);
      const snd1 = procUsage(sender.pid!);
      const busy1 = machineBusyS();
      const d = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
      const counted = d(PACKETS);
      const step: KneeStep = {
        offeredPps: rate,
        seconds: o.seconds,
        sent: delivered,
        sendErrors: sent.errors,
        senderSkipped: sent.skipped,
        achievedPps: Math.round(delivered / (sent.elapsedMs / 1000)),
        counted,
        kernelDrops: drops1 - drops0,
        metricDrops: d(DROPPED),
        lossPct: delivered > 0 ? (100 * (delivered - counted)) / delivered : 0,
        recordsPerS: Math.round(d(RECORDS) / wallS),
        devices: after.get(DEVICES) ?? 0,
        cpuPct: Math.round((100 * (use1.cpuS - use0.cpuS)) / wallS),
        rssMB: Math.round(use1.rssMB),
        senderCpuPct: Math.round((100 * (snd1.cpuS - snd0.cpuS)) / wallS),
        otherCpuPct: Math.max(0, Math.round((100 * (busy1 - busy0 - (use1.cpuS - use0.cpuS) - (snd1.cpuS - snd0.cpuS))) / wallS)),
        contended: false,
        load1: Number(loadavg().split(' ')[0]),
      };
      step.contended = step.otherCpuPct > CONTENDED_PCT;
      steps.push(step);
      log(`udp-knee: ${row(step)}`);
      if (step.lossPct > stopLoss * 100) {
        stoppedEarly = rate !== o.rates.at(-1);
        break;
      }
      await sleep(500);
    }
    await Promise.race([senderExit, (async () => {
      sender.send('stop');
      await senderExit;
    })()]);
    const knee = steps.filter((s) => s.lossPct < 0.1).map((s) => s.offeredPps);
    return {
      date: new Date().toISOString(),
      cores: cpus().length,
      loadavgBefore,
      loadavgAfter: loadavg(),
      rmemMax: readNumber('/proc/sys/net/core/rmem_max'),
      datagrams,
      datagramBytes,
      options: { rates: o.rates, seconds: o.seconds, devices: o.devices, packets: o.packets, seed: o.seed, interval: o.interval, stopLoss, budgetS: budgetMs / 1000 },
      command,
      steps,
      kneePps: knee.length ? Math.max(...knee) : null,
      stoppedEarly,
    };
  } finally {
    clearTimeout(budget);
    await Promise.all([kill(sender), kill(collector)]);
    process.off('exit', killAll);
  }
}

/** Mean datagram size, from the capture's size (24-byte file header; per frame 16 record + 14 Ethernet + 20 IPv4 + 8 UDP). */
function statBytes(capture: string, datagrams: number): number {
  const size = statSync(capture).size;
  return Math.round((size - 24 - datagrams * (16 + 14 + 20 + 8)) / datagrams);
}

const HEAD = ['offered pps', 'sent pps', 'sent', 'counted', 'kernel drops', 'loss %', 'records/s', 'devices', 'collector CPU %', 'RSS MB', 'sender CPU %', 'rest of machine CPU %', 'load 1m'];

function cells(s: KneeStep): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  return [`${n(s.offeredPps)}${s.contended ? ' *' : ''}`, n(s.achievedPps), n(s.sent), n(s.counted), n(s.kernelDrops), s.lossPct.toFixed(s.lossPct < 1 ? 3 : 1), n(s.recordsPerS), n(s.devices), String(s.cpuPct), String(s.rssMB), String(s.senderCpuPct), String(s.otherCpuPct), s.load1.toFixed(2)];
}

function row(s: KneeStep): string {
  return HEAD.map((h, i) => `${h} ${cells(s)[i]}`).join(', ');
}

/** The steps as a Markdown table. */
export function kneeTable(steps: KneeStep[]): string {
  const rows = [HEAD, ...steps.map(cells)];
  const w = HEAD.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ')} |`;
  return [line(HEAD), `| ${w.map((x, i) => (i === 0 ? '-'.repeat(x) : `${'-'.repeat(x - 1)}:`)).join(' | ')} |`, ...steps.map((s) => line(cells(s)))].join('\n');
}

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    options: {
      rates: { type: 'string', default: '25000,50000,100000,150000,200000,300000,400000' },
      seconds: { type: 'string', default: '10' },
      devices: { type: 'string', default: '10000' },
      packets: { type: 'string', default: '200000' },
      interval: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
    },
  });
  const num = (name: string, text: string, min: number): number => {
    const x = Number(text);
    if (!Number.isFinite(x) || x < min) throw new Error(`--${name}: a number ≥ ${min}, got '${text}'`);
    return x;
  };
  const rates = v.rates.split(',').map((r) => num('rates', r, 1));
  const r = await runKnee({
    rates,
    seconds: num('seconds', v.seconds, 1),
    devices: num('devices', v.devices, 1),
    packets: num('packets', v.packets, 1),
    interval: num('interval', v.interval, 1),
    seed: num('seed', v.seed, 0),
  });
  const out = [
    `${r.date}, ${r.cores} cores, load average ${r.loadavgBefore} before, ${r.loadavgAfter} after; net.core.rmem_max ${r.rmemMax}`,
    `collector: ${r.command}`,
    `input: ${r.datagrams.toLocaleString('en-US')} VXLAN datagrams (mean ${r.datagramBytes} bytes) of ${r.options.devices.toLocaleString('en-US')} devices (synth/fleet-mirror, seed ${r.options.seed}), cycled; ${r.options.seconds} s a step`,
    '',
    kneeTable(r.steps),
    '',
    ...(r.steps.some((s) => s.contended) ? [`* the rest of the machine used more than ${CONTENDED_PCT} % of a core during the step: its loss is not the collector's alone`, ''] : []),
    `knee (highest step with loss < 0.1 %): ${r.kneePps === null ? 'none' : `${r.kneePps.toLocaleString('en-US')} packets/s`}${r.stoppedEarly ? ' (stopped early)' : ''}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (v.json) writeFileSync(v.json, `${JSON.stringify(r, null, 2)}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`udp-knee: ${err.message}\n`);
      process.exit(1);
    },
  );
}

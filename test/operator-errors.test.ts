// Issue 12, as an operator meets it: an output that cannot be opened or written is one line and a
// non-zero exit, never a stack trace nor a silent exit 0; a capture in which no packet is a device's
// says so and which flag to set; frames stamped outside any sane time are counted and skipped.

import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { pcapBytes, pcapngBytes, type SynthFrame } from '../synth/capture-file.js';
import { bytes, ethernet, gre, ipv4, udp } from '../synth/packets.js';
import { runCli, type CliRun as Run } from './helpers/cli-process.js';

let dir: string;
let capture: string;
const T2026 = 1_780_000_000; // 2026-05-28
const frame = (src: string, dst: string) =>
  ethernet(ipv4(gre(ipv4(udp(bytes(32), { src: 40000, dst: 5683 }), { src, dst, proto: 17 }), { protocol: 0x0800 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));
const deviceFrames = (n: number, from: number): SynthFrame[] =>
  Array.from({ length: n }, (_, i) => ({ data: frame('10.128.0.1', '198.51.100.9'), tsSec: from + i, tsNsec: 0 }));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-operator-'));
  chmodSync(dir, 0o755); // the read-only case runs as nobody when the tests run as root
  capture = join(dir, 'devices.pcap');
  writeFileSync(capture, pcapBytes(deviceFrames(120, T2026)));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tapwatch = runCli;

/** Exit 1, and exactly one line on stderr that is not a JSON log line: the reason, with the path. No stack trace. */
function expectOneClearLine(r: Run, ...contains: string[]): void {
  expect(r.code, r.stderr).toBe(1);
  const plain = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
  expect(plain, r.stderr).toHaveLength(1);
  for (const c of contains) expect(plain[0]).toContain(c);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe('outputs that cannot be opened or written', () => {
  it('collect: a missing directory, /dev/full, a read-only file', async () => {
    expectOneClearLine(await tapwatch(['collect', '--pcap', capture, '--out', join(dir, 'missing', 'x.ndjson')]), 'cannot write', join(dir, 'missing', 'x.ndjson'), 'ENOENT');
    expectOneClearLine(await tapwatch(['collect', '--pcap', capture, '--out', '/dev/full', '--log-level', 'silent']), 'cannot write /dev/full', 'ENOSPC');
    const ro = join(dir, 'read-only.ndjson');
    writeFileSync(ro, '');
    chmodSync(ro, 0o444);
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    expectOneClearLine(await tapwatch(['collect', '--pcap', capture, '--out', ro, '--log-level', 'silent'], asUser), 'cannot write', ro, 'EACCES');
  });

  it('collect --listen-udp to a missing directory: one line, no unhandled error', async () => {
    const r = await tapwatch(['collect', '--listen-udp', '47999', '--out', join(dir, 'missing', 'live.ndjson')]);
    expectOneClearLine(r, 'cannot write', 'ENOENT');
  });

  it('standard output on /dev/full (decap)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync('/dev/full', 'w');
    const { CLI } = await import('./helpers/cli-process.js');
    const r = spawnSync(process.execPath, [CLI, 'decap', capture], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    closeSync(fd);
    expectOneClearLine({ code: r.status, stdout: '', stderr: r.stderr, logs: [] }, 'cannot write standard output', 'ENOSPC');
  });

  it('analyze: --out to a missing directory or a read-only file, --in that does not exist', async () => {
    const records = join(dir, 'records.ndjson');
    expect((await tapwatch(['collect', '--pcap', capture, '--out', records, '--log-level', 'silent'])).code).toBe(0);
    expectOneClearLine(await tapwatch(['analyze', '--in', records, '--out', join(dir, 'missing', 'a.ndjson')]), 'cannot write', 'ENOENT');
    expectOneClearLine(await tapwatch(['analyze', '--in', join(dir, 'none.ndjson'), '--out', '-']), 'cannot read', 'ENOENT');
    // A directory opens; its first read fails: the line still names it.
    expectOneClearLine(await tapwatch(['analyze', '--in', dir, '--out', '-']), `cannot read ${dir}`, 'EISDIR');
    // No event comes from these records, so what fails is the final flush of an empty buffer: a file was still opened.
    const events = join(dir, 'ro-events.ndjson');
    writeFileSync(events, '');
    chmodSync(events, 0o444);
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    expectOneClearLine(await tapwatch(['analyze', '--in', records, '--out', events], asUser), 'cannot write', 'EACCES');
  });
});

describe('telling the operator what is going on', () => {
  it('collect warns when no packet matched a device network, naming the busiest source networks and the flag', async () => {
    const other = join(dir, 'other.pcap');
    writeFileSync(other, pcapBytes([
      ...Array.from({ length: 30 }, (_, i) => ({ data: frame('192.168.7.1', '8.8.8.8'), tsSec: T2026 + i, tsNsec: 0 })),
      ...Array.from({ length: 10 }, (_, i) => ({ data: frame('172.20.1.1', '8.8.8.8'), tsSec: T2026 + i, tsNsec: 0 })),
    ]));
    const r = await tapwatch(['collect', '--pcap', other, '--out', join(dir, 'other.ndjson')]);
    expect(r.code, r.stderr).toBe(0);
    const line = r.stderr.split('\n').find((l) => l.includes('no packet matched a device network') && !l.startsWith('{'));
    expect(line).toMatch(/192\.168\.0\.0\/16 \(30 frames\), 172\.20\.0\.0\/16 \(10 frames\)/);
    expect(line).toContain('--device-net');
    expect(r.logs.find((l) => l.msg === 'no packet matched a device network: set --device-net')).toMatchObject({ busiestSourceNets: [{ net: '192.168.0.0/16', frames: 30 }, { net: '172.20.0.0/16', frames: 10 }] });
    // And with the flag set, the devices are there.
    const ok = await tapwatch(['collect', '--pcap', other, '--out', join(dir, 'other.ndjson'), '--device-net', '192.168.0.0/16']);
    expect(ok.stderr).not.toContain('no packet matched');
    expect(readFileSync(join(dir, 'other.ndjson'), 'utf8')).toContain('192.168.7.1');
  });

  it('analyze says how many devices are still warming up, and until when', async () => {
    const records = join(dir, 'warm.ndjson');
    expect((await tapwatch(['collect', '--pcap', capture, '--out', records, '--log-level', 'silent'])).code).toBe(0);
    const r = await tapwatch(['analyze', '--in', records, '--out', join(dir, 'events.ndjson')]);
    expect(r.code, r.stderr).toBe(0);
    const warm = r.logs.find((l) => typeof l.msg === 'string' && l.msg.includes('still warming up'));
    expect(warm).toMatchObject({ devices: 1 });
    expect(Date.parse(warm!.until as string)).toBeGreaterThan(T2026 * 1000);
  });
});

describe('timestamps outside a sane window', () => {
  const records = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as InspectionRecord);

  it('a pcapng packet stamped 2^64-1 µs is counted as malformed and skipped; the frames after it are collected', async () => {
    const cap = join(dir, 'max-ts.pcapng');
    const huge: SynthFrame = { data: frame('10.128.0.1', '198.51.100.9'), tsSec: 18_446_744_073_709, tsNsec: 551_615_000 }; // 2^64-1 µs
    writeFileSync(cap, pcapngBytes([...deviceFrames(50, T2026), huge, ...deviceFrames(50, T2026 + 50)]));
    const out = join(dir, 'max-ts.ndjson');
    const r = await tapwatch(['collect', '--pcap', cap, '--out', out, '--interval', '60']);
    expect(r.code, r.stderr).toBe(0);
    const fin = r.logs.find((l) => l.msg === 'final counters')!;
    expect(fin.malformed).toMatchObject({ timestamp_out_of_window: 1 });
    const recs = records(out);
    expect(recs.reduce((s, x) => s + x.uplink.packets, 0)).toBe(100);
    for (const x of recs) expect(x.interval.start.startsWith('2026-')).toBe(true);
  });

  it('one frame from 2100 in the middle of a 2026 capture moves no interval clock and makes nothing late', async () => {
    const cap = join(dir, 'y2100.pcap');
    const y2100: SynthFrame = { data: frame('10.128.0.1', '198.51.100.9'), tsSec: 4_102_444_800, tsNsec: 0 };
    writeFileSync(cap, pcapBytes([...deviceFrames(60, T2026), y2100, ...deviceFrames(60, T2026 + 60)]));
    const out = join(dir, 'y2100.ndjson');
    const r = await tapwatch(['collect', '--pcap', cap, '--out', out, '--interval', '60']);
    expect(r.code, r.stderr).toBe(0);
    const fin = r.logs.find((l) => l.msg === 'final counters')!;
    expect(fin.malformed).toMatchObject({ timestamp_out_of_window: 1 });
    expect((fin.dropped as Record<string, number>).lateFrames).toBe(0);
    const recs = records(out);
    expect(recs.map((x) => x.uplink.packets).reduce((a, b) => a + b, 0)).toBe(120);
    expect(recs.every((x) => x.interval.start.startsWith('2026-'))).toBe(true);
    expect(recs.filter((x) => x.interval.complete)).toHaveLength(recs.length - 1);
  });
});

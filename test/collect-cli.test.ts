// tapwatch collect as an operator runs it: --print-schema is the schema the records it writes follow,
// --format table prints one row per record for people, and --speed paces a replay by capture time
// (a bad --speed is a usage error).

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { PcapWriter } from '../synth/capture-file.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';
import { bytes, ethernet, gre, ipv4, udp } from '../synth/packets.js';
import { CliProcess, runCli, type CliRun as Run} from './helpers/cli-process.js';
import { until } from './helpers/until.js';

let dir: string;
let fleet: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-collect-cli-'));
  fleet = join(dir, 'fleet.pcap');
  generateFleetMirror({ out: fleet, packets: 20_000, devices: 25, seed: 7, mix: 'gre=0.6,vxlan=0.4' }); // ~5 s of capture time
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const collect = (...args: string[]): Promise<Run> => runCli(['collect', ...args]);

const readNdjson = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as InspectionRecord);

describe('--print-schema', () => {
  it('prints the InspectionRecord JSON Schema, which the records the collector writes validate against', async () => {
    const r = await collect('--print-schema');
    expect(r.code, r.stderr).toBe(0);
    const schema = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(schema.$id).toBe('https://tapwatch.dev/schema/inspection-record.v2.json');
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');

    const out = join(dir, 'schema-check.ndjson');
    const run = await collect('--pcap', fleet, '--interval', '1', '--out', out);
    expect(run.code, run.stderr).toBe(0);
    const records = readNdjson(out);
    expect(new Set(records.map((rec) => rec.interval.start)).size).toBeGreaterThan(3);

    // A consumer's validator, from the printed text alone.
    const ajv = new Ajv({ allErrors: true, strict: true });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    for (const rec of records) expect(validate(rec) ? null : validate.errors).toBeNull();
    // It is a real check: what the schema refuses, it refuses.
    const bad = structuredClone(records[0]) as unknown as Record<string, Record<string, unknown>>;
    bad.uplink.bytes = -1;
    expect(validate(bad)).toBe(false);
    expect(validate({ ...records[0], unexpected: true })).toBe(false);
    const { dns: _dns, ...missing } = records[0];
    expect(validate(missing)).toBe(false);
  });
});

describe('--format table', () => {
  it('prints a header and one row per record, the same records as NDJSON', async () => {
    const out = join(dir, 'table-ref.ndjson');
    const nd = await collect('--pcap', fleet, '--interval', '1', '--out', out, '--log-level', 'silent');
    expect(nd.code, nd.stderr).toBe(0);
    const records = readNdjson(out);
    expect(new Set(records.map((rec) => rec.interval.start)).size).toBeGreaterThan(3);

    const t = await collect('--pcap', fleet, '--interval', '1', '--out', '-', '--format', 'table', '--log-level', 'silent');
    expect(t.code, t.stderr).toBe(0);
    const lines = t.stdout.trimEnd().split('\n');
    const isHeader = (l: string) => /^interval start\s+device\s+tunnel\s+up B\/pkts\s+down B\/pkts/.test(l);
    expect(isHeader(lines[0]), lines[0]).toBe(true);
    const rows = lines.filter((l) => !isHeader(l));
    expect(rows).toHaveLength(records.length);
    // Row i is record i: its interval start, its device, its tunnel type, its uplink packets.
    rows.forEach((row, i) => {
      const r = records[i];
      const cells = row.split(/\s{2,}/);
      expect(cells[0]).toBe(r.interval.start.replace('T', ' ').replace('.000Z', 'Z') + (r.interval.complete ? '' : '*'));
      expect(cells[1]).toBe(r.device.ip);
      expect(cells[2].split(':')[0]).toBe(r.tunnel.type);
      expect(cells[3].split('/')[1]).toBe(String(r.uplink.packets));
    });
    expect(t.stdout).not.toMatch(/^\{/m);
  });

  it('goes with --out - only, and is a usage error otherwise', async () => {
    const r = await collect('--pcap', fleet, '--out', join(dir, 'x.ndjson'), '--format', 'table');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("tapwatch collect: --format table goes with --out -\n");
  });
});

describe('--speed', () => {
  // Three devices, a frame every 250 ms of capture time for 3 s: the capture spans 3 s.
  const SPAN_S = 3;
  const T0 = 1_767_225_600;
  let paced: string;
  beforeAll(() => {
    paced = join(dir, 'paced.pcap');
    const w = new PcapWriter(paced);
    for (let i = 0; i <= SPAN_S * 4; i++) {
      const dev = `10.128.0.${1 + (i % 3)}`;
      const inner = ipv4(udp(bytes(32), { src: 40000, dst: 53 }), { src: dev, dst: '203.0.113.7', proto: 17 });
      w.write(ethernet(ipv4(gre(inner, { protocol: 0x0800, key: 1 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 })), T0 + Math.floor(i / 4), (i % 4) * 250_000_000);
    }
    w.close();
  });

  /** Replay time: from the 'collecting' log line to 'final counters' (the process's start-up excluded). */
  function replayMs(r: Run): number {
    const start = r.logs.find((l) => l.msg === 'collecting');
    const end = r.logs.find((l) => l.msg === 'final counters');
    expect(start && end, r.stderr).toBeTruthy();
    return (end!.time as number) - (start!.time as number);
  }

  it('--speed 1 takes about the capture span; --speed 0 and the default go as fast as they can; same records', async () => {
    const outs = { one: join(dir, 'speed1.ndjson'), zero: join(dir, 'speed0.ndjson'), dflt: join(dir, 'speed-default.ndjson'), four: join(dir, 'speed4.ndjson') };
    const fast = await collect('--pcap', paced, '--interval', '1', '--out', outs.zero, '--speed', '0');
    const dflt = await collect('--pcap', paced, '--interval', '1', '--out', outs.dflt);
    for (const r of [fast, dflt]) {
      expect(r.code, r.stderr).toBe(0);
      expect(replayMs(r)).toBeLessThan((SPAN_S * 1000) / 2);
    }

    // At 1× the first interval's records are written while the replay is still pacing through the rest.
    const one = new CliProcess('collect', ['collect', '--pcap', paced, '--interval', '1', '--out', outs.one, '--speed', '1']);
    await until('the first interval in the output at --speed 1', () => existsSync(outs.one) && readFileSync(outs.one, 'utf8').includes('\n'), { timeoutMs: 30_000, everyMs: 50 });
    expect(one.child.exitCode, 'still replaying after the first interval').toBeNull();
    expect(await one.exited, one.tail()).toBe(0);
    const oneMs = replayMs({ code: 0, stdout: one.stdout, stderr: one.stderr, logs: one.logs() });
    expect(oneMs).toBeGreaterThanOrEqual(SPAN_S * 1000 * 0.75);

    const four = await collect('--pcap', paced, '--interval', '1', '--out', outs.four, '--speed', '4');
    expect(four.code, four.stderr).toBe(0);
    expect(replayMs(four)).toBeGreaterThanOrEqual(((SPAN_S * 1000) / 4) * 0.75);

    // Pacing changes when, not what: packet time closes the intervals.
    const ref = readFileSync(outs.zero, 'utf8');
    expect(readNdjson(outs.zero).length).toBe(SPAN_S * 3 + 1); // 3 devices in each of 3 whole seconds, one in the last
    for (const p of [outs.dflt, outs.one, outs.four]) expect(readFileSync(p, 'utf8')).toBe(ref);
  });

  it('a negative or non-numeric --speed is a usage error (exit 2)', async () => {
    for (const speed of ['-1', 'fast', '-0.5', 'Infinity']) {
      const r = await collect('--pcap', paced, '--out', join(dir, 'bad-speed.ndjson'), `--speed=${speed}`);
      expect(r.code, `--speed=${speed}: ${r.stderr}`).toBe(2);
      // Besides pino's JSON log lines, one line: the message.
      const plain = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('{'));
      expect(plain).toEqual([`tapwatch collect: --speed: a number ≥ 0 (0 = as fast as possible), got '${speed}'`]);
      // Refused before anything starts: no log line, no output file.
      expect(r.logs).toEqual([]);
      expect(existsSync(join(dir, 'bad-speed.ndjson'))).toBe(false);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });
});

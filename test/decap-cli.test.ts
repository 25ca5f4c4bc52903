// tapwatch decap as an operator runs it: its exit codes (0 read to the end, 1 reading stopped early,
// 2 bad usage, each with a one-line message and no stack trace), and options that really change the
// decoding (--vxlan-ports, --geneve-ports, --max-tunnel-depth) or the output (--top).

import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecapSummaryJson } from '../gre-decap/summary.js';
import { pcapBytes, PcapWriter } from '../synth/capture-file.js';
import { bytes, ethernet, geneve, gre, ipv4, udp, vxlan } from '../synth/packets.js';
import { CliProcess } from './helpers/cli-process.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-decap-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GATEWAY = '192.0.2.1';
const COLLECTOR = '198.51.100.1';
const DEVICE = '10.128.0.5';

/** The device's datagram to `dst`, as mirrored: the innermost IPv4/UDP. */
const inner = (dst = '203.0.113.7') => ipv4(udp(bytes(16), { src: 40000, dst: 53 }), { src: DEVICE, dst, proto: 17 });
const outerIp = (payload: Uint8Array, proto: number) => ipv4(payload, { src: GATEWAY, dst: COLLECTOR, proto });
const greFrame = (dst?: string) => ethernet(outerIp(gre(inner(dst), { protocol: 0x0800 }), 47));
const greInGre = () => ethernet(outerIp(gre(ipv4(gre(inner(), { protocol: 0x0800 }), { src: '192.0.2.9', dst: '198.51.100.9', proto: 47 }), { protocol: 0x0800 }), 47));
const vxlanOn = (port: number) => ethernet(outerIp(udp(vxlan(ethernet(inner()), { vni: 7 }), { src: 50000, dst: port }), 17));
const geneveOn = (port: number) => ethernet(outerIp(udp(geneve(ethernet(inner()), { vni: 9 }), { src: 50000, dst: port }), 17));

function capture(name: string, frames: Uint8Array[]): string {
  const path = join(dir, name);
  const w = new PcapWriter(path);
  frames.forEach((f, i) => w.write(f, 1_767_225_600 + i, 0));
  w.close();
  return path;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function decap(...args: string[]): Promise<Run> {
  const p = new CliProcess('decap', ['decap', ...args]);
  const code = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

async function decapJson(...args: string[]): Promise<DecapSummaryJson> {
  const r = await decap('--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as DecapSummaryJson;
}

describe('exit codes', () => {
  it('0 when the whole capture was read', async () => {
    const path = capture('good.pcap', [greFrame(), greFrame(), greFrame()]);
    const r = await decap('--json', path);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout) as DecapSummaryJson;
    expect(s.outer_packet_count).toBe(3);
    expect(s.reader.error).toBeNull();
  });

  it('1 when reading stopped early: a truncated last record, reported with what was read before it', async () => {
    const frame = greFrame();
    const whole = pcapBytes([0, 1, 2].map((i) => ({ data: frame, tsSec: 1_767_225_600 + i, tsNsec: 0 })));
    const path = join(dir, 'cut.pcap');
    writeFileSync(path, whole.subarray(0, whole.length - 10)); // the last record loses its last 10 bytes
    for (const format of [['--json'], []]) {
      const r = await decap(...format, path);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^tapwatch decap: .*cut\.pcap: reading stopped early: .*truncated/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      if (format.length) {
        const s = JSON.parse(r.stdout) as DecapSummaryJson;
        expect(s.outer_packet_count).toBe(2);
        expect(s.reader.truncated_tail_bytes).toBe(16 + frame.length - 10);
        expect(s.reader.error).toMatch(/truncated/);
      } else {
        expect(r.stdout).toMatch(/^frames\s+2$/m);
      }
    }
  });

  it('2 on bad usage, with a one-line message naming the problem and no stack trace', async () => {
    const path = capture('usage.pcap', [greFrame()]);
    const cases: [string[], RegExp][] = [
      [[], /^tapwatch decap: expected one capture file, got 0$/],
      [[path, path], /^tapwatch decap: expected one capture file, got 2$/],
      [['--vxlan-ports', '0', path], /^tapwatch decap: --vxlan-ports: expected an integer from 1 to 65535, got '0'$/],
      [['--vxlan-ports', '4789,x', path], /^tapwatch decap: --vxlan-ports: expected an integer from 1 to 65535, got 'x'$/],
      [['--geneve-ports', '70000', path], /^tapwatch decap: --geneve-ports: expected an integer from 1 to 65535, got '70000'$/],
      [['--max-tunnel-depth', '0', path], /^tapwatch decap: --max-tunnel-depth: expected an integer from 1 to 16, got '0'$/],
      [['--format', 'xml', path], /^tapwatch decap: --format: expected 'table' or 'json', got 'xml'$/],
    ];
    for (const [args, message] of cases) {
      const r = await decap(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toEqual([expect.stringMatching(message), '']);
    }
    // An unknown option: the message on one line, then the usage (not a stack trace).
    const r = await decap('--bogus', path);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    const [first, blank, usage] = r.stderr.split('\n');
    expect(first).toMatch(/^tapwatch decap: Unknown option '--bogus'/);
    expect([blank, usage]).toEqual(['', 'Usage: tapwatch decap <capture.pcap|capture.pcapng> [options]']);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toMatch(/TypeError|ERR_PARSE_ARGS/);
  });
});

describe('options change the decoding', () => {
  it('--vxlan-ports: VXLAN on UDP 4790 is decoded as VXLAN only when the port is given', async () => {
    const path = capture('vxlan-4790.pcap', [vxlanOn(4790), vxlanOn(4790), vxlanOn(4789)]);
    const plain = await decapJson(path);
    expect(plain.encapsulation.frames_with.vxlan).toBe(1); // only the one on the default port
    expect(plain.innermost_ip.dst_ip_counts).toEqual({ [COLLECTOR]: 2, '203.0.113.7': 1 });
    const given = await decapJson('--vxlan-ports', '4789,4790', path);
    expect(given.encapsulation.frames_with.vxlan).toBe(3);
    expect(given.innermost_ip.dst_ip_counts).toEqual({ '203.0.113.7': 3 });
    // The list replaces the default: 4789 alone is no longer VXLAN.
    const only4790 = await decapJson('--vxlan-ports', '4790', path);
    expect(only4790.encapsulation.frames_with.vxlan).toBe(2);
  });

  it('--geneve-ports: Geneve on UDP 6082 is decoded as Geneve only when the port is given', async () => {
    const path = capture('geneve-6082.pcap', [geneveOn(6082), geneveOn(6082)]);
    const plain = await decapJson(path);
    expect(plain.encapsulation.frames_with.geneve).toBe(0);
    expect(plain.innermost_ip.dst_ip_counts).toEqual({ [COLLECTOR]: 2 });
    const given = await decapJson('--geneve-ports', '6082', path);
    expect(given.encapsulation.frames_with.geneve).toBe(2);
    expect(given.innermost_ip.dst_ip_counts).toEqual({ '203.0.113.7': 2 });
  });

  it('--max-tunnel-depth: GRE in GRE is too deep at depth 1, decoded at the default', async () => {
    const path = capture('gre-in-gre.pcap', [greInGre(), greFrame()]);
    const deep = await decapJson(path);
    expect(deep.malformed).toEqual({});
    expect(deep.innermost_ip.dst_ip_counts).toEqual({ '203.0.113.7': 2 });
    const shallow = await decapJson('--max-tunnel-depth', '1', path);
    expect(shallow.malformed).toEqual({ 'decap.tunnel.too_deep': 1 });
    // The single-GRE frame still decodes; the nested one stops at its second GRE header.
    expect(shallow.innermost_ip.dst_ip_counts).toEqual({ '203.0.113.7': 1, '198.51.100.9': 1 });
    // The same on a real capture of GRE within GRE (fixtures/real).
    const real = join(import.meta.dirname, '..', 'fixtures', 'real', 'zeek__gre-within-gre.pcap');
    const ref = JSON.parse(readFileSync(`${real}.ref.json`, 'utf8')) as { outer_packet_count: number };
    const realShallow = await decapJson('--max-tunnel-depth', '1', real);
    expect(realShallow.malformed['decap.tunnel.too_deep']).toBeGreaterThan(0);
    expect((await decapJson(real)).malformed['decap.tunnel.too_deep']).toBeUndefined();
    expect(realShallow.outer_packet_count).toBe(ref.outer_packet_count);
  });
});

describe('--top', () => {
  // 15 destinations, destination i seen i times, so the order is known: .15 first.
  const frames = Array.from({ length: 15 }, (_, i) => Array.from({ length: i + 1 }, () => greFrame(`203.0.113.${i + 1}`))).flat();
  const topLines = (table: string) => {
    const at = table.indexOf('\ntop destinations\n');
    expect(at, table).toBeGreaterThan(0);
    const rest = table.slice(at + '\ntop destinations\n'.length);
    return rest.slice(0, rest.indexOf('\n\n') < 0 ? undefined : rest.indexOf('\n\n')).trimEnd().split('\n');
  };

  it('limits the destinations in the table (default 10); --json lists every destination whatever --top says', async () => {
    const path = capture('many-dsts.pcap', frames);
    const three = await decap('--top', '3', path);
    expect(three.code, three.stderr).toBe(0);
    expect(topLines(three.stdout).map((l) => l.trim().split(/\s+/))).toEqual([
      ['15', '203.0.113.15'],
      ['14', '203.0.113.14'],
      ['13', '203.0.113.13'],
    ]);
    const dflt = await decap(path);
    expect(dflt.code, dflt.stderr).toBe(0);
    expect(topLines(dflt.stdout)).toHaveLength(10);
    expect(topLines(dflt.stdout).at(-1)!.trim().split(/\s+/)).toEqual(['6', '203.0.113.6']);

    const json = await decapJson('--top', '3', path);
    expect(Object.keys(json.innermost_ip.dst_ip_counts)).toHaveLength(15);
    expect(json.innermost_ip.dst_ip_counts['203.0.113.1']).toBe(1);
    expect(json.innermost_ip.packets).toBe(frames.length);
  });
});

describe('the config file (decap: part, as collect reads it)', () => {
  it('its ports and tunnel depth are used, ./tapwatch.yaml too, and each flag overrides its own key only', async () => {
    const path = capture('config-decap.pcap', [vxlanOn(4790), vxlanOn(4789), greInGre()]);
    const file = join(dir, 'decap.yaml');
    writeFileSync(file, 'decap:\n  vxlanPorts: [4789, 4790]\n  maxTunnelDepth: 1\n');
    const fromFile = await decapJson('--config', file, path);
    expect(fromFile.encapsulation.frames_with.vxlan).toBe(2);
    expect(fromFile.malformed).toEqual({ 'decap.tunnel.too_deep': 1 });
    // --vxlan-ports replaces the file's list; the file's maxTunnelDepth still holds.
    const portFlag = await decapJson('--config', file, '--vxlan-ports', '4790', path);
    expect(portFlag.encapsulation.frames_with.vxlan).toBe(1);
    expect(portFlag.malformed).toEqual({ 'decap.tunnel.too_deep': 1 });
    const depthFlag = await decapJson('--config', file, '--max-tunnel-depth', '8', path);
    expect([depthFlag.encapsulation.frames_with.vxlan, depthFlag.malformed]).toEqual([2, {}]);
    // Without --config, ./tapwatch.yaml is read when it exists.
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    writeFileSync(join(cwd, 'tapwatch.yaml'), 'decap: { genevePorts: [6082] }\n');
    const p = new CliProcess('decap', ['decap', '--json', capture('config-geneve.pcap', [geneveOn(6082)])], { cwd });
    expect(await p.exited, p.stderr).toBe(0);
    expect((JSON.parse(p.stdout) as DecapSummaryJson).encapsulation.frames_with.geneve).toBe(1);
  });

  it('a wrong file is refused before reading: exit 1, [TWU0003], every problem listed, no stack trace', async () => {
    const path = capture('config-bad.pcap', [greFrame()]);
    const file = join(dir, 'bad-decap.yaml');
    writeFileSync(file, 'decap:\n  vxlanPorts: [0, 4789]\n  maxTunnelDepth: 17\n  genevePort: 6081\n');
    const r = await decap('--config', file, path);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^tapwatch decap: \[TWU0003\] .*bad-decap.yaml: \d+ problems:\n/);
    for (const where of ['/decap/vxlanPorts/0 ', '/decap/maxTunnelDepth ', 'genevePort']) expect(r.stderr).toContain(where);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // A port given to both tunnel types is a problem of the file too, not a crash when decoding starts.
    writeFileSync(file, 'decap: { vxlanPorts: [4789], genevePorts: [4789] }\n');
    const both = await decap('--config', file, path);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/^tapwatch decap: \[TWU0003\] .*1 problem:\n {2}- \/decap\/vxlanPorts\/0 port 4789 is also a Geneve port/);
  });
});

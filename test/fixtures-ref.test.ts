// Every real capture in fixtures/real against its tshark reference (.ref.json): the decoder must
// agree field by field on frames, tunnels seen, and the innermost IP of each frame.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarizeCapture } from '../cli/decap.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'real');
const captures = readdirSync(dir).filter((f) => /\.(pcap|pcapng)$/.test(f)).sort();

describe('decap agrees with the tshark references', () => {
  it('has the fixtures', () => {
    expect(captures.length).toBeGreaterThanOrEqual(28);
  });

  for (const file of captures) {
    it(file, () => {
      const ref = JSON.parse(readFileSync(join(dir, `${file}.ref.json`), 'utf8'));
      const got = summarizeCapture(join(dir, file));
      const refIp = ref.innermost_ip;
      expect({
        outer_packet_count: got.outer_packet_count,
        frames_with: got.encapsulation.frames_with,
        packets: got.innermost_ip.packets,
        ipv4_packets: got.innermost_ip.ipv4_packets,
        ipv6_packets: got.innermost_ip.ipv6_packets,
        frames_without_ip: got.innermost_ip.frames_without_ip,
        frames_with_ip_fragment: got.innermost_ip.frames_with_ip_fragment,
        ip_bytes_total: got.innermost_ip.ip_bytes_total,
        transport: got.innermost_ip.transport,
        distinct_src_ip_count: got.innermost_ip.distinct_src_ip_count,
        dst_ip_counts: got.innermost_ip.dst_ip_counts,
        dst_port_counts: got.innermost_ip.dst_port_counts,
      }).toEqual({
        outer_packet_count: ref.outer_packet_count,
        frames_with: ref.encapsulation.frames_with,
        packets: refIp.packets,
        ipv4_packets: refIp.ipv4_packets,
        ipv6_packets: refIp.ipv6_packets,
        frames_without_ip: refIp.frames_without_ip,
        frames_with_ip_fragment: refIp.frames_with_ip_fragment,
        ip_bytes_total: refIp.ip_bytes_total,
        transport: refIp.transport,
        distinct_src_ip_count: refIp.distinct_src_ip_count,
        dst_ip_counts: refIp.dst_ip_counts,
        dst_port_counts: refIp.dst_port_counts,
      });
      // Order too: most frequent first, ties by name (text order), in both maps, and as in the reference's top list.
      for (const counts of [got.innermost_ip.dst_ip_counts, got.innermost_ip.dst_port_counts]) {
        const entries = Object.entries(counts);
        const sorted = [...entries].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        expect(entries).toEqual(sorted);
      }
      const top = Object.keys(got.innermost_ip.dst_ip_counts).slice(0, refIp.top_dst_ips.length);
      expect(top).toEqual(refIp.top_dst_ips.map((t: { ip?: string; addr?: string; key?: string }) => t.ip ?? t.addr ?? t.key));
      expect(got.reader.error).toBeNull();
    });
  }
});

describe('tapwatch decap CLI', () => {
  const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'tapwatch.js');
  it('prints the JSON summary of a capture', () => {
    const file = join(dir, 'zeek__gre-within-gre.pcap');
    const out = JSON.parse(execFileSync('node', [cli, 'decap', file, '--json'], { encoding: 'utf8' }));
    const ref = JSON.parse(readFileSync(`${file}.ref.json`, 'utf8'));
    expect(out.outer_packet_count).toBe(ref.outer_packet_count);
    expect(out.innermost_ip.ip_bytes_total).toBe(ref.innermost_ip.ip_bytes_total);
  });

  it('writes the JSON text JSON.stringify would write for the report (the count maps are written as text)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tapwatch-decap-'));
    try {
      // A capture with no frames: both count maps empty.
      const empty = join(tmp, 'empty.pcap');
      const header = Buffer.alloc(24);
      header.writeUInt32LE(0xa1b2c3d4, 0);
      header.writeUInt16LE(2, 4);
      header.writeUInt16LE(4, 6);
      header.writeUInt32LE(65535, 16);
      header.writeUInt32LE(1, 20);
      writeFileSync(empty, header);
      for (const file of [...captures.map((f) => join(dir, f)), empty]) {
        const out = execFileSync('node', [cli, 'decap', file, '--json'], { encoding: 'utf8' });
        expect(out).toBe(JSON.stringify(summarizeCapture(file), null, 1) + '\n');
      }
      expect(summarizeCapture(empty).innermost_ip.dst_port_counts).toEqual({});
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('prints a table for people', () => {
    const out = execFileSync('node', [cli, 'decap', join(dir, 'tcpdump__vxlan.pcap')], { encoding: 'utf8' });
    expect(out).toMatch(/frames with VXLAN\s+10/);
    expect(out).toMatch(/top destinations/);
  });

  it('names the file and the magic when the input is not a capture', () => {
    let err: { status: number; stderr: string } | undefined;
    try {
      execFileSync('node', [cli, 'decap', join(dir, 'README.md')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      err = e as { status: number; stderr: string };
    }
    expect(err?.status).toBe(1);
    expect(err?.stderr).toContain('README.md');
    expect(err?.stderr).toMatch(/first bytes [0-9a-f ]+/);
  });

  it('answers --help', () => {
    const out = execFileSync('node', [cli, 'decap', '--help'], { encoding: 'utf8' });
    expect(out).toContain('Usage: tapwatch decap');
  });
});

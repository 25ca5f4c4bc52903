// The hot path allocates nothing per packet, measured: real fixture frames (every tunnel type and
// malformed case in fixtures/real) go through read → decode → tally in a child process with a
// 1 MiB young generation; after the probe's warm-up, ≥1M packets must pass with zero scavenges.
// The collector is also run over evidence-heavy traffic: DNS queries for ever new names, answers
// naming ever new addresses, ClientHellos with SNI, ICMP unreachables, failing SYNs.
// The control mode allocates one small array per packet and must see some, or the probe proves nothing.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../synth/capture-file.js';
import { LINKTYPE_ETHERNET } from '../gre-decap/layers.js';
import { fixtureFrames } from './helpers/fixture-frames.js';
import { ethernet, ipv4, gre, udp, tcp, icmp, bytes } from '../synth/packets.js';
import { dnsQuery, dnsResponse, clientHello } from '../synth/app-payloads.js';

const PACKETS = 1_300_000; // the probe's warm-up (2^18) plus more than 1M measured
const probe = join(import.meta.dirname, '..', 'dist', 'test', 'harness', 'gc-probe.js');
let dir: string;
let capture: string;
let evidenceCapture: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-alloc-'));
  capture = join(dir, 'mirror.pcap');
  const frames = fixtureFrames().filter((f) => f.linkType === LINKTYPE_ETHERNET);
  const w = new PcapWriter(capture);
  for (let i = 0; i < PACKETS; i++) w.write(frames[i % frames.length].data, 1_767_225_600 + (i >> 12), (i & 4095) * 1000);
  w.close();
  evidenceCapture = join(dir, 'evidence.pcap');
  writeEvidenceCapture(evidenceCapture);
});

/**
 * 64 devices, 8 kinds of frame in turn, built once as templates and patched per frame: the device,
 * the far end, and 8 characters of every DNS name and SNI, so that new names keep coming (the interval's
 * name table takes them past the warm-up, fills, then drops) and answers name ever new addresses (the
 * host-name generations turn over).
 * Destinations repeat (64 devices × 128 far ends), so their tables stop growing during warm-up.
 */
function writeEvidenceCapture(path: string): void {
  const TAG = 'QQQQQQQQ';
  const mirror = (inner: Uint8Array) => ethernet(ipv4(gre(inner, { protocol: 0x0800 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));
  const dev = '10.128.0.1';
  const sent = ipv4(udp(bytes(8), { src: 40000, dst: 5683 }), { src: dev, dst: '192.0.2.77', proto: 17 }).subarray(0, 28);
  const templates = [
    mirror(ipv4(udp(dnsQuery(`${TAG}.q.example.com`, 'a', 1), { src: 40000, dst: 53 }), { src: dev, dst: '192.0.2.53', proto: 17 })),
    mirror(ipv4(udp(dnsResponse(`${TAG}.q.example.com`, 'a', ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4']), { src: 53, dst: 40000 }), { src: '192.0.2.53', dst: dev, proto: 17 })),
    mirror(ipv4(tcp(clientHello(`${TAG}.cdn.example.net`), { src: 40001, dst: 443, flags: 0x18 }), { src: dev, dst: '203.0.113.77', proto: 6 })),
    mirror(ipv4(icmp(sent, { type: 3, code: 3 }), { src: '192.0.2.254', dst: dev, proto: 1 })),
    mirror(ipv4(tcp(bytes(0), { src: 40002, dst: 23, flags: 0x02 }), { src: dev, dst: '198.51.100.77', proto: 6 })),
    mirror(ipv4(udp(bytes(40), { src: 40000, dst: 5683 }), { src: dev, dst: '192.0.2.77', proto: 17 })),
    mirror(ipv4(tcp(bytes(300), { src: 443, dst: 40001, flags: 0x18 }), { src: '203.0.113.77', dst: dev, proto: 6 })),
    mirror(ipv4(udp(dnsQuery(`${TAG}.t.example.org`, 'txt', 2), { src: 40000, dst: 53 }), { src: dev, dst: '192.0.2.53', proto: 17 })),
  ];
  const INNER = 14 + 20 + 4; // the inner IPv4 header in every template
  const find = (t: Uint8Array, needle: number[], from = 0) => {
    for (let i = from; i + needle.length <= t.length; i++) if (needle.every((b, j) => t[i + j] === b)) return i;
    return -1;
  };
  const tagAt = templates.map((t) => [find(t, [...TAG].map((c) => c.charCodeAt(0))), find(t, [...TAG].map((c) => c.charCodeAt(0)), find(t, [...TAG].map((c) => c.charCodeAt(0))) + 1)]);
  const answerAt = find(templates[1], [198, 18, 0, 1]);
  const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
  const w = new PcapWriter(path);
  for (let i = 0; i < PACKETS; i++) {
    const kind = i & 7;
    const t = templates[kind];
    const d = (i >> 3) & 63;
    const k = (i >> 9) & 127;
    // Kinds 0 and 1 (query, answer): a new name every other round, so the name table is still
    // taking names after the warm-up and fills near the end. Kind 7: 4096 names over and over (found,
    // not inserted). Kind 2 (SNI): a new name every round.
    const n = kind === 7 ? (i >> 3) & 4095 : kind === 2 ? i >> 3 : i >> 4;
    // The device is the inner source (up) or destination (down); the far end's last byte is k.
    const up = kind === 0 || kind === 2 || kind === 4 || kind === 5 || kind === 7;
    t[INNER + (up ? 15 : 19)] = 1 + d;
    if (kind !== 0 && kind !== 1 && kind !== 7) t[INNER + (up ? 19 : 15)] = k;
    if (kind === 3) t[INNER + 20 + 8 + 15] = 1 + d; // the quoted source is the device too
    if (kind === 3) t[INNER + 20 + 8 + 19] = k;
    for (const at of tagAt[kind]) if (at >= 0) for (let j = 0; j < 8; j++) t[at + j] = B32.charCodeAt((n >>> (5 * (j % 6))) & 31 ^ j);
    if (kind === 1) for (let a = 0; a < 4; a++) { t[answerAt + 16 * a + 2] = (n >> 8) & 255; t[answerAt + 16 * a + 3] = (n + a) & 255; }
    w.write(t, 1_767_225_600 + (i >> 12), (i & 4095) * 1000);
  }
  w.close();
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ProbeResult {
  packets: number;
  measuredPackets: number;
  youngGcs: number;
  windowBytes: number;
  evidence: { dnsQueries: number; dnsResponses: number; clientHellos: number; icmpUnreachable: number; namesDropped: number; hostNameSwaps: number };
}

function run(mode: string, path = capture): ProbeResult {
  return JSON.parse(execFileSync('node', ['--max-semi-space-size=1', probe, path, mode], { encoding: 'utf8' }));
}

describe('allocation-free packet loop', () => {
  it('read → decode → decap summary: zero young-generation GCs over 1M packets', () => {
    const r = run('decap');
    expect(r.packets).toBe(PACKETS);
    expect(r.measuredPackets).toBeGreaterThanOrEqual(1_000_000);
    expect(r.youngGcs, JSON.stringify(r)).toBe(0);
  });

  it('the collector (decode → aggregate → interval clock): zero young-generation GCs over 1M packets', () => {
    const r = run('collect');
    expect(r.packets).toBe(PACKETS);
    expect(r.measuredPackets).toBeGreaterThanOrEqual(1_000_000);
    expect(r.youngGcs, JSON.stringify(r)).toBe(0);
  });

  it('the collector over DNS, TLS and ICMP evidence (new names, answers, SNI, unreachables): zero young-generation GCs over 1M packets', () => {
    const r = run('collect', evidenceCapture);
    expect(r.packets).toBe(PACKETS);
    expect(r.measuredPackets).toBeGreaterThanOrEqual(1_000_000);
    expect(r.evidence).toMatchObject({ dnsQueries: PACKETS / 4, dnsResponses: PACKETS / 8, clientHellos: PACKETS / 8, icmpUnreachable: PACKETS / 8 });
    expect(r.evidence.namesDropped).toBeGreaterThan(0); // the name table filled and kept dropping
    expect(r.evidence.hostNameSwaps).toBeGreaterThan(2); // the host-name generations turned over
    expect(r.youngGcs, JSON.stringify(r)).toBe(0);
  });

  it('the probe sees allocation when there is some (control)', () => {
    const r = run('control');
    expect(r.packets).toBe(PACKETS);
    expect(r.youngGcs).toBeGreaterThan(5);
  });
});

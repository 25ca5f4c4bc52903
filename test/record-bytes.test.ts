// The records the collector writes as bytes (collector/records.ts writeRecords) are byte for byte the
// NDJSON of the object-based builder they replaced (test/helpers/record-objects.ts, JSON.stringify of
// each record), interval by interval from the same aggregator: over every real fixture, the demo
// captures (with their inventory), a synthetic fleet mirror and seeded DNS/TLS/ICMP/SYN/RST traffic of
// many devices (names, failures, contacts, top-K and contact cuts, IPv6, mutated payloads).

import { readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCapture } from '../gre-decap/readers/capture.js';
import { Frame } from '../gre-decap/readers/frame.js';
import { Decapsulator } from '../gre-decap/decap.js';
import { PacketMeta } from '../gre-decap/meta.js';
import { LINKTYPE_ETHERNET } from '../gre-decap/layers.js';
import { Aggregator } from '../collector/aggregate.js';
import { DeviceNets } from '../collector/device-nets.js';
import { AddressNames, RecordScratch, writeRecords } from '../collector/records.js';
import { RecordBatch } from '../collector/record-batch.js';
import { Inventory } from '../inventory/inventory.js';
import { recordErrors } from '../contracts/inspection-record.js';
import { snapshot } from './helpers/record-objects.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';
import { Prng } from '../net/prng.js';
import { ethernet, ipv4, ipv6, gre, udp, tcp, icmp, icmpv6, bytes } from '../synth/packets.js';
import { dnsQuery, dnsResponse, clientHello } from '../synth/app-payloads.js';

const root = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'record-bytes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Setup {
  nets: string[];
  interval: number;
  topK: number;
  contacts: number;
  inventory?: Inventory;
  maxFlows?: number;
  maxDestinations?: number;
}

/** Both builders over the same frames and the same aggregator state; returns [bytes, objects] NDJSON and the record count. */
function both(frames: (f: Frame) => boolean, s: Setup): { bytes: string; objects: string; records: number } {
  const agg = new Aggregator(new DeviceNets(s.nets), {
    maxDevices: 4096, maxFlows: s.maxFlows ?? 1 << 16, maxDestinations: s.maxDestinations ?? 1 << 16, maxNames: 512, maxHostNames: 256, maxBursts: 1 << 14,
  });
  const decap = new Decapsulator();
  const m = new PacketMeta();
  const inventory = s.inventory ?? Inventory.empty();
  const namesA = new AddressNames();
  const namesB = new AddressNames();
  const scratch = new RecordScratch();
  const batch = new RecordBatch();
  let bytesOut = '';
  let objectsOut = '';
  let records = 0;
  let start = -1;
  let end = -1;
  const close = (complete: boolean) => {
    const iv = { startSec: start, seconds: s.interval, complete, source: 'pcap:"test"\u00e9' };
    writeRecords(agg, iv, inventory, s.topK, namesA, s.contacts, batch, scratch);
    const objects = snapshot(agg, iv, inventory, s.topK, namesB, s.contacts);
    bytesOut += batch.bytes.toString('utf8');
    for (const r of objects) objectsOut += JSON.stringify(r) + '\n';
    expect(batch.count).toBe(objects.length);
    for (let i = 0; i < batch.count; i++) expect(batch.keys[i]).toBe(objects[i].device.id);
    records += objects.length;
    agg.reset();
  };
  const f = new Frame();
  while (frames(f)) {
    decap.decodeFrame(f, m);
    if (f.tsSec >= end) {
      if (start >= 0) close(true);
      start = Math.floor(f.tsSec / s.interval) * s.interval;
      end = start + s.interval;
      agg.startInterval(start);
    }
    agg.add(f.buf, m);
  }
  if (start >= 0) close(false);
  return { bytes: bytesOut, objects: objectsOut, records };
}

function fromFile(path: string): (f: Frame) => boolean {
  const reader = openCapture(path);
  return (f) => {
    if (reader.next(f)) return true;
    reader.close();
    return false;
  };
}

function expectSame(r: { bytes: string; objects: string; records: number }): void {
  if (r.bytes !== r.objects) {
    // The first line that differs, not megabytes of diff.
    const a = r.bytes.split('\n');
    const b = r.objects.split('\n');
    const i = a.findIndex((l, j) => l !== b[j]);
    // And where in it: the 120 characters from the first that differs.
    let c = 0;
    while (c < a[i].length && a[i][c] === b[i]?.[c]) c++;
    const at = Math.max(0, c - 40);
    expect({ line: i, at: c, bytes: a[i].slice(at, at + 120) }).toEqual({ line: i, at: c, bytes: (b[i] ?? '').slice(at, at + 120) });
  }
  expect(r.bytes).toBe(r.objects);
}

const ALL = ['0.0.0.0/0', '::/0'];

describe('record bytes: the same NDJSON as the object builder', () => {
  const real = readdirSync(join(root, 'fixtures', 'real')).filter((n) => /\.pcap(ng)?$/.test(n));
  it.each(real)('fixtures/real/%s, every address a device', (name) => {
    const r = both(fromFile(join(root, 'fixtures', 'real', name)), { nets: ALL, interval: 1, topK: 3, contacts: 2 });
    expect(r.records).toBeGreaterThan(0);
    expectSame(r);
  });

  it.each(['fleet-mirror.pcap', 'incident-mirror.pcap'])('fixtures/demo/%s with the demo inventory, 60 s and 10 s intervals', (name) => {
    const inventory = Inventory.load(join(root, 'fixtures', 'demo', 'inventory.csv'));
    for (const [interval, topK, contacts] of [[60, 10, 16], [10, 2, 1]]) {
      const r = both(fromFile(join(root, 'fixtures', 'demo', name)), { nets: ['10.128.0.0/9'], interval, topK, contacts, inventory });
      expect(r.records).toBeGreaterThan(0);
      expectSame(r);
    }
  });

  it('a synthetic fleet mirror (fleet-mirror.js), with table overflows', () => {
    const path = join(tmp, 'fleet.pcap');
    generateFleetMirror({ out: path, packets: 60_000, devices: 300 });
    expectSame(both(fromFile(path), { nets: ['10.128.0.0/9'], interval: 5, topK: 10, contacts: 16 }));
    expectSame(both(fromFile(path), { nets: ['10.128.0.0/9'], interval: 5, topK: 10, contacts: 16, maxFlows: 500, maxDestinations: 400 }));
  });

  it('seeded DNS, TLS, ICMP, SYN/RST traffic of 40 devices (IPv4 and IPv6), some payloads mutated', () => {
    const rng = new Prng(14);
    const mirror = (inner: Uint8Array) => ethernet(ipv4(gre(inner, { protocol: inner[0] >> 4 === 6 ? 0x86dd : 0x0800, key: rng.int(0, 3) }), { src: `192.0.2.${rng.int(1, 3)}`, dst: '198.51.100.1', proto: 47 }));
    const names = ['api.example.com', 'x.cdn.example.net', 'a1b2c3d4e5f6.tunnel.evil.io', 'time.example.org', 'B\\\x00\xff.weird.co.uk', 'q'.repeat(50) + '.' + 'r'.repeat(40) + '.long.example'];
    const mutate = (b: Uint8Array) => {
      const out = b.slice();
      if (rng.float() < 0.2) for (let i = rng.int(1, 4); i > 0 && out.length > 0; i--) out[rng.int(0, out.length - 1)] ^= 1 << rng.int(0, 7);
      return out;
    };
    const frames: Uint8Array[] = [];
    const times: number[] = [];
    for (let i = 0; i < 30_000; i++) {
      const six = rng.float() < 0.15;
      const dev = six ? `fd00::${rng.int(1, 8)}` : `10.128.0.${rng.int(1, 32)}`;
      const far = six ? `2001:db8::${rng.int(1, 30)}` : `203.0.113.${rng.int(1, 30)}`;
      const resolver = six ? '2001:db8::53' : `192.0.2.${rng.int(53, 54)}`;
      const ip = (l4: Uint8Array, src: string, dst: string, proto: number) =>
        six ? ipv6(l4, { src, dst, nextHeader: proto }) : ipv4(l4, { src, dst, proto });
      const name = names[rng.int(0, names.length - 1)].replace('a1b2', rng.int(0, 99).toString(36));
      const port = [443, 8883, 80, 5683, 23, rng.int(1, 65535)][rng.int(0, 5)];
      const sport = 40000 + rng.int(0, 20);
      let inner: Uint8Array;
      switch (rng.int(0, 8)) {
        case 0: inner = ip(udp(mutate(dnsQuery(name, (['a', 'aaaa', 'txt', 'mx'] as const)[rng.int(0, 3)], i & 0xffff)), { src: sport, dst: 53 }), dev, resolver, 17); break;
        case 1: inner = ip(udp(mutate(dnsResponse(name, 'a', [far.includes(':') ? '198.18.0.1' : far], rng.float() < 0.2 ? 'nxdomain' : 'noerror', i & 0xffff)), { src: 53, dst: sport }), resolver, dev, 17); break;
        case 2: inner = ip(tcp(mutate(clientHello(rng.float() < 0.8 ? name : undefined)), { src: sport, dst: port, flags: 0x18 }), dev, far, 6); break;
        case 3: inner = ip(tcp(bytes(0), { src: sport, dst: port, flags: 0x02 }), dev, far, 6); break;
        case 4: inner = ip(tcp(bytes(0), { src: port, dst: sport, flags: rng.float() < 0.5 ? 0x12 : 0x14 }), far, dev, 6); break;
        case 5: inner = ip(udp(bytes(rng.int(0, 1400)), { src: sport, dst: port }), dev, far, 17); break;
        case 6: inner = ip(udp(bytes(rng.int(0, 200)), { src: port, dst: sport }), far, dev, 17); break;
        case 7: {
          const quoted = ip(udp(bytes(8), { src: sport, dst: port }), dev, far, 17).subarray(0, six ? 48 : 28);
          inner = six ? ip(icmpv6(quoted, { type: 1 }), '2001:db8::ff', dev, 58) : ip(icmp(quoted, { type: 3, code: 3 }), '192.0.2.254', dev, 1);
          break;
        }
        default: inner = ip(tcp(bytes(rng.int(0, 1400)), { src: sport, dst: port, flags: 0x18 }), rng.float() < 0.5 ? dev : far, rng.float() < 0.5 ? far : dev, 6);
      }
      frames.push(mirror(inner));
      times.push(i * 0.004);
    }
    const feed = (): ((f: Frame) => boolean) => {
      let i = 0;
      return (f) => {
        if (i === frames.length) return false;
        f.buf = frames[i];
        f.off = 0;
        f.capLen = f.wireLen = frames[i].length;
        f.tsSec = 1_767_225_600 + Math.floor(times[i]);
        f.tsNsec = Math.round((times[i] % 1) * 1e9);
        f.linkType = LINKTYPE_ETHERNET;
        i++;
        return true;
      };
    };
    const inventory = Inventory.load(join(root, 'fixtures', 'demo', 'inventory.csv'));
    for (const [interval, topK, contacts] of [[60, 10, 16], [7, 3, 2], [30, 0, 0]]) {
      const r = both(feed(), { nets: ['10.128.0.0/9', 'fd00::/8'], interval, topK, contacts, inventory });
      expect(r.records).toBeGreaterThan(0);
      expectSame(r);
      // The evidence is there to be compared: names, failures, DNS domains, TLS.
      const recs = r.objects.trim().split('\n').map((l) => JSON.parse(l));
      for (const x of recs) expect(recordErrors(x)).toBeNull();
      expect(recs.some((x) => x.dns.domains.length > 0)).toBe(true);
      expect(recs.some((x) => [...x.contacts, ...x.destinations.top, ...x.connections.failed_sample].some((c: { name?: string }) => c.name))).toBe(true);
      expect(recs.some((x) => x.connections.failed_sample.length > 0)).toBe(true);
      expect(recs.some((x) => x.tls.client_hellos > 0)).toBe(true);
      // Far hosts over their ports: named ones, several ports, cut at 4, and ties in packets up (broken by address).
      type H = { name?: string; ports: number; up_packets: number };
      const hosts: H[][] = recs.map((x) => x.destinations.hosts);
      expect(hosts.some((hs) => hs.some((h) => h.name && h.ports > 1))).toBe(true);
      expect(recs.some((x) => x.destinations.hosts.length === 4 && x.destinations.distinct > 4)).toBe(true);
      expect(hosts.some((hs) => hs.some((h, k) => k > 0 && h.up_packets === hs[k - 1].up_packets))).toBe(true);
    }
  });
});

describe('RecordBatch', () => {
  it('parses back to the records, keys and lines by record', () => {
    const b = new RecordBatch();
    b.w.raw('{"device":{"id":');
    b.w.str('d-"1"\n\u00e9\ud800');
    b.w.raw('},"n":[');
    for (const n of [0, 9, 10, 4294967295, 4294967296, 1.5, 0.001, 1e21, -3, NaN]) {
      b.w.num(n);
      b.w.byte(0x2c);
    }
    b.w.bool(true);
    b.w.raw(']}');
    b.endRecord('d-"1"');
    const want = { device: { id: 'd-"1"\n\u00e9\ud800' }, n: [0, 9, 10, 4294967295, 4294967296, 1.5, 0.001, 1e21, -3, null, true] };
    expect(b.bytes.toString('utf8')).toBe(JSON.stringify(want) + '\n');
    expect(b.records()).toEqual([want]);
    expect(b.line(0).toString('utf8')).toBe(JSON.stringify(want));
    expect(RecordBatch.of([want as never, want as never]).bytes.toString()).toBe(`${JSON.stringify(want)}\n${JSON.stringify(want)}\n`);
  });
});

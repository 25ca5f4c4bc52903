// tapwatch collect --listen-udp: VXLAN datagrams sent to a loopback socket give the same per-device
// totals as the generator's ground truth, with the sender recorded as the mirror source.

import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openCapture } from '../gre-decap/readers/capture.js';
import { Frame } from '../gre-decap/readers/frame.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';
import { bytes, ethernet, ipv4, udp, vxlan } from '../synth/packets.js';
import { CliProcess } from './helpers/cli-process.js';
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-udp-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function freeUdpPort(): Promise<number> {
  // A free TCP port number is free for UDP often enough; the bind below would fail loudly otherwise.
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

it('VXLAN over a UDP socket: per-device totals equal the ground truth', async () => {
  const capture = join(dir, 'vxlan.pcap');
  generateFleetMirror({ out: capture, packets: 3000, devices: 30, seed: 4, mix: 'vxlan=1', truth: join(dir, 'truth.json') });
  const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as { devices: Record<string, { upPackets: number; upBytes: number; downPackets: number; downBytes: number }> };
  // The generator's frames are Ethernet / IPv4 / UDP / VXLAN: the datagram is what follows the UDP header.
  const datagrams: Buffer[] = [];
  const reader = openCapture(capture);
  const f = new Frame();
  while (reader.next(f)) {
    const ip = f.off + 14;
    const payload = ip + ((f.buf[ip] & 0x0f) << 2) + 8;
    datagrams.push(Buffer.from(f.buf.subarray(payload, f.off + f.capLen)));
  }
  reader.close();

  const port = await freeUdpPort();
  const out = join(dir, 'udp.ndjson');
  const collect = new CliProcess('collect', ['collect', '--listen-udp', String(port), '--interval', '1', '--stats-interval', '1', '--out', out]);
  await collect.waitForLog('that it listens', (l) => String(l.msg).includes('listening for VXLAN'));

  const sock = createSocket('udp4');
  for (let i = 0; i < datagrams.length; i++) {
    await new Promise<void>((r, j) => sock.send(datagrams[i], port, '127.0.0.1', (e) => (e ? j(e) : r())));
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20)); // pace the sender: stay within the socket buffer
  }
  sock.close();
  await collect.waitForLog(`counters with all ${datagrams.length} datagrams`, (l) => l.msg === 'counters' && l.frames === datagrams.length);
  expect(await collect.stop()).toBe(0);

  const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const sums = new Map<string, number[]>();
  for (const r of records) {
    const s = sums.get(r.device.ip) ?? [0, 0, 0, 0];
    sums.set(r.device.ip, [s[0] + r.uplink.packets, s[1] + r.uplink.bytes, s[2] + r.downlink.packets, s[3] + r.downlink.bytes]);
    expect(r.tunnel).toMatchObject({ type: 'vxlan', mirror_source: '127.0.0.1' });
    expect(r.collector.source).toBe(`udp:${port}`);
  }
  const active = Object.entries(truth.devices).filter(([, d]) => d.upPackets + d.downPackets > 0);
  expect(sums.size).toBe(active.length);
  for (const [ip, d] of active) expect([ip, ...sums.get(ip)!]).toEqual([ip, d.upPackets, d.upBytes, d.downPackets, d.downBytes]);
  expect(collect.last('final counters')?.frames).toBe(datagrams.length);
}, 60_000);

/** Once the collector listens: one VXLAN datagram from device 10.128.0.9, until its counters show it. */
async function oneDeviceDatagram(collect: CliProcess, port: number): Promise<void> {
  await collect.waitForLog('that it listens', (l) => String(l.msg).includes('listening for VXLAN'));
  const frame = ethernet(ipv4(udp(bytes(16), { src: 40000, dst: 5683 }), { src: '10.128.0.9', dst: '203.0.113.5', proto: 17 }));
  const sock = createSocket('udp4');
  await new Promise<void>((r, j) => sock.send(vxlan(frame, { vni: 3 }), port, '127.0.0.1', (e) => (e ? j(e) : r())));
  sock.close();
  await collect.waitForLog('the datagram in its counters', (l) => l.msg === 'counters' && l.frames === 1);
}

it('SIGHUP reloads the inventory: records closed after it carry the new identity', async () => {
  const inv = join(dir, 'inventory.csv');
  writeFileSync(inv, 'ip,id,group\n10.128.0.9,old-name,a\n');
  const port = await freeUdpPort();
  const out = join(dir, 'hup.ndjson');
  const collect = new CliProcess('collect', ['collect', '--listen-udp', String(port), '--interval', '3600', '--stats-interval', '1', '--inventory', inv, '--out', out]);
  await oneDeviceDatagram(collect, port);
  writeFileSync(inv, 'ip,id,group\n10.128.0.9,new-name,b\n');
  collect.child.kill('SIGHUP');
  await collect.waitForLog('the reload', (l) => String(l.msg).includes('inventory reloaded'));
  expect(await collect.stop()).toBe(0);
  const [record] = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(record.device).toEqual({ id: 'new-name', ip: '10.128.0.9', group: 'b', known: true });
}, 30_000);

it('an output that fails only in the last flush at SIGTERM (the interval still open) exits 1 with one clear line', async () => {
  const port = await freeUdpPort();
  const collect = new CliProcess('collect', ['collect', '--listen-udp', String(port), '--interval', '3600', '--stats-interval', '1', '--out', '/dev/full']);
  await oneDeviceDatagram(collect, port);
  expect(await collect.stop(), collect.stderr).toBe(1);
  const plain = collect.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
  expect(plain).toEqual([expect.stringMatching(/^tapwatch collect: \[TWU0004\] cannot write \/dev\/full: no space left on the device \(ENOSPC\)$/)]);
  expect(collect.last('final counters')?.sink).toMatchObject({ queuedIntervals: 1 });
}, 30_000);

// The pcap binding when JavaScript misuses it: a batch callback that throws inside dispatch(), and the
// ring's memory taken away (an ArrayBuffer transferred) while the binding holds raw pointers into it.
// Captures on the loopback interface, filtered to one UDP port these tests send to.
//
// Needs root (a packet socket): without it the tests FAIL at open(), they do not skip.

import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPcapBinding, META_FIELDS, type NativePcapHandle } from '../collector/sources/pcap-native/pcap.js';

const open: NativePcapHandle[] = [];
afterEach(() => {
  for (const h of open.splice(0)) h.close();
});

/** A handle on lo for UDP to `port`, one packet a batch (so the second packet flushes the first). */
function capture(port: number) {
  const { PcapHandle } = loadPcapBinding();
  const h = new PcapHandle();
  h.open('lo', 65535, false, 1 << 20, `udp dst port ${port}`);
  open.push(h);
  const ring = new Uint8Array(1 << 16);
  h.setBuffers(ring, new Uint32Array(META_FIELDS), new Float64Array(3));
  return { h, ring };
}

async function send(port: number, count: number): Promise<void> {
  const s = createSocket('udp4');
  for (let i = 0; i < count; i++) await new Promise<void>((resolve, reject) => s.send(Buffer.from([i]), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  s.close();
  await sleep(50); // loopback delivery is immediate; this is margin for a loaded machine
}

/** dispatch(onBatch) until onBatch has been called (or 5 s pass): what the last dispatch() threw, if it threw. */
async function dispatchUntilCalled(h: NativePcapHandle, onBatch: (n: number) => void): Promise<unknown> {
  let called = false;
  let thrown: unknown;
  for (const end = Date.now() + 5000; !called && Date.now() < end; await sleep(10)) {
    try {
      h.dispatch((n) => {
        called = true;
        onBatch(n);
      });
    } catch (e) {
      thrown = e;
    }
  }
  expect(called, 'no packet was read within 5 s').toBe(true);
  return thrown;
}

/** Packets read by dispatch() until `want` have come (or 5 s pass). */
async function readUntil(h: NativePcapHandle, want: number): Promise<number> {
  let got = 0;
  for (const end = Date.now() + 5000; got < want && Date.now() < end; await sleep(10)) h.dispatch((n) => (got += n));
  return got;
}

const port = () => 20000 + Math.floor(Math.random() * 20000);

describe('pcap binding misuse', () => {
  it("a callback that throws inside dispatch(): dispatch() throws it (not 'uncaughtException'), and the packets after it are read next time", async () => {
    const p = port();
    const { h } = capture(p);
    await send(p, 3);
    const boom = new Error('boom');
    const seen: number[] = [];
    const thrown = await dispatchUntilCalled(h, (n) => {
      seen.push(n);
      throw boom;
    });
    expect(thrown).toBe(boom);
    expect(seen).toEqual([1]); // one batch, then reading stopped
    expect(await readUntil(h, 2)).toBe(2); // the packet in hand when it threw was kept, the third still queued
  });

  it('a ring transferred away inside the callback: nothing more is written to it, dispatch() and stats() say so, new buffers read again', async () => {
    const p = port();
    const { h, ring } = capture(p);
    await send(p, 3);
    let calls = 0;
    const thrown = await dispatchUntilCalled(h, () => {
      calls++;
      structuredClone(ring.buffer, { transfer: [ring.buffer] });
    });
    expect(String(thrown)).toMatch(/detached \(transferred\) while captured/);
    expect(calls).toBe(1);
    expect(ring.byteLength).toBe(0);
    expect(() => h.dispatch(() => undefined)).toThrow(/detached/);
    expect(() => h.stats()).toThrow(/detached/);
    h.setBuffers(new Uint8Array(1 << 16), new Uint32Array(META_FIELDS), new Float64Array(3));
    expect(await readUntil(h, 1)).toBe(1); // the third (the second was read when the ring was found gone)
  });

  it('a ring transferred away between reads: the next dispatch() refuses before writing', async () => {
    const p = port();
    const { h, ring } = capture(p);
    structuredClone(ring.buffer, { transfer: [ring.buffer] });
    await send(p, 1);
    let calls = 0;
    expect(() => h.dispatch(() => calls++)).toThrow(/detached/);
    expect(calls).toBe(0);
  });
});

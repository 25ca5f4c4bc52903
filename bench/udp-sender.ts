// The UDP knee's sender (bench/udp-knee.ts): a process of its own, so pacing never waits on the
// collector's event loop nor on the bench's scraping. It loads every VXLAN datagram of a capture into
// memory once, then, on each { rate, ms } message, paces them at `rate` datagrams per second to
// 127.0.0.1:PORT for `ms` milliseconds, cycling through the set, and answers with what it sent.
//
//   node dist/bench/udp-sender.js CAPTURE PORT        (forked with an IPC channel)

import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { openCapture } from '../gre-decap/readers/capture.js';
import { Frame } from '../gre-decap/readers/frame.js';

export interface SendStep {
  rate: number;
  ms: number;
}

export interface SendResult {
  /** Datagrams handed to the kernel without an error. */
  sent: number;
  /** Sends the socket reported failed ('error' events). */
  errors: number;
  /** Datagrams the schedule asked for but the sender was too far behind to send (it does not catch up beyond BURST_MS). */
  skipped: number;
  elapsedMs: number;
}

/** The UDP payloads (VXLAN header + inner Ethernet frame) of an Ethernet / IPv4 / UDP / VXLAN capture, as views of one buffer. */
export function loadDatagrams(path: string): Buffer[] {
  const parts: Uint8Array[] = [];
  const reader = openCapture(path);
  const f = new Frame();
  try {
    while (reader.next(f)) {
      const ip = f.off + 14;
      if (f.buf[ip] >> 4 !== 4 || f.buf[ip + 9] !== 17) continue;
      const payload = ip + ((f.buf[ip] & 0x0f) << 2) + 8;
      parts.push(f.buf.slice(payload, f.off + f.capLen));
    }
  } finally {
    reader.close();
  }
  const arena = Buffer.allocUnsafe(parts.reduce((a, p) => a + p.length, 0));
  const out: Buffer[] = [];
  let at = 0;
  for (const p of parts) {
    arena.set(p, at);
    out.push(arena.subarray(at, at + p.length));
    at += p.length;
  }
  return out;
}

/** How far behind the schedule the sender may fall before it gives the datagrams up rather than bursting them. */
const BURST_MS = 20;

async function main(): Promise<void> {
  const [capture, portText] = process.argv.slice(2);
  const port = Number(portText);
  if (!capture || !Number.isInteger(port) || !process.send) throw new Error('usage: fork udp-sender.js CAPTURE PORT (with an IPC channel)');
  const datagrams = loadDatagrams(capture);
  if (datagrams.length === 0) throw new Error(`${capture}: no IPv4/UDP datagrams`);
  const sock = createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
  let errors = 0;
  sock.on('error', () => errors++);
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let next = 0;

  const step = async ({ rate, ms }: SendStep): Promise<SendResult> => {
    const errorsBefore = errors;
    const t0 = performance.now();
    const burst = Math.max(1, Math.ceil((rate * BURST_MS) / 1000));
    let scheduled = 0;
    let sent = 0;
    let skipped = 0;
    for (;;) {
      const el = performance.now() - t0;
      if (el >= ms) break;
      const due = Math.floor((rate * el) / 1000);
      if (due - scheduled > burst) {
        skipped += due - scheduled - burst;
        scheduled = due - burst;
      }
      const n = due - scheduled;
      for (let i = 0; i < n; i++) {
        sock.send(datagrams[next], port, '127.0.0.1');
        if (++next === datagrams.length) next = 0;
      }
      scheduled += n;
      sent += n;
      // Caught up: sleep a timer tick (about 1 ms) rather than spin on a core the collector needs.
      if (n < burst) await sleep(1);
      else await new Promise((r) => setImmediate(r));
    }
    // Sends Node queued (it tries each synchronously first) reach the kernel before the count is reported.
    await new Promise((r) => setImmediate(r));
    return { sent, errors: errors - errorsBefore, skipped, elapsedMs: performance.now() - t0 };
  };

  process.on('message', (m: SendStep | 'stop') => {
    if (m === 'stop') {
      sock.close();
      process.disconnect();
      return;
    }
    step(m).then((r) => process.send!({ result: r }), (err: Error) => process.send!({ error: err.message }));
  });
  process.on('disconnect', () => process.exit(0)); // the bench went away: so does the sender
  process.send({ ready: datagrams.length });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    process.stderr.write(`udp-sender: ${err.message}\n`);
    process.exit(1);
  });
}

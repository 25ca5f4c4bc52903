// Reading a scenario capture back, for the tests and for looking at what was generated: every frame
// through the project's own readers (gre-decap/readers) and Decapsulator, as the collector reads
// it, with the inner packet's addresses, ports, flags and payload, and the DNS question when there
// is one. Not a hot path: clarity over speed.

import { Decapsulator } from '../../gre-decap/decap.js';
import { L_TCP, L_UDP } from '../../gre-decap/layers.js';
import { PacketMeta } from '../../gre-decap/meta.js';
import { openCapture } from '../../gre-decap/readers/capture.js';
import { Frame } from '../../gre-decap/readers/frame.js';

export interface Pkt {
  /** µs since the epoch. */
  us: number;
  src: number;
  dst: number;
  proto: number;
  sport: number;
  dport: number;
  flags: number;
  /** TCP sequence number (0 for UDP). */
  seq: number;
  /** Inner IPv4 total length. */
  ipLen: number;
  /** Valid until the next packet. */
  payload: Uint8Array;
  reason: number;
}

/** Every frame of the capture, decoded; `fn` sees one reused Pkt. Returns the decapsulator (counts by reason). */
export function eachPacket(path: string, fn: (p: Pkt) => void): Decapsulator {
  const reader = openCapture(path);
  const dec = new Decapsulator();
  const m = new PacketMeta();
  const f = new Frame();
  const p: Pkt = { us: 0, src: 0, dst: 0, proto: 0, sport: 0, dport: 0, flags: 0, seq: 0, ipLen: 0, payload: new Uint8Array(0), reason: 0 };
  try {
    while (reader.next(f)) {
      p.reason = dec.decodeFrame(f, m);
      p.us = f.tsSec * 1e6 + Math.floor(f.tsNsec / 1000);
      p.src = m.ipSrc4;
      p.dst = m.ipDst4;
      p.proto = m.ipProto;
      p.ipLen = m.ipTotalLen;
      const l4 = m.l4 === L_TCP || m.l4 === L_UDP;
      p.sport = l4 ? m.srcPort : 0;
      p.dport = l4 ? m.dstPort : 0;
      p.flags = m.l4 === L_TCP ? m.tcpFlags : 0;
      const th = m.payloadOff - m.tcpHeaderLen + 4;
      p.seq = m.l4 === L_TCP ? ((f.buf[th] << 24) | (f.buf[th + 1] << 16) | (f.buf[th + 2] << 8) | f.buf[th + 3]) >>> 0 : 0;
      p.payload = l4 ? f.buf.subarray(m.payloadOff, m.payloadOff + m.payloadLen) : new Uint8Array(0);
      fn(p);
    }
    if (reader.stats.error) throw new Error(`${path}: ${reader.stats.error}`);
  } finally {
    reader.close();
  }
  return dec;
}

export interface Question {
  response: boolean;
  rcode: number;
  name: string;
  qtype: number;
  answers: number;
}

/** The question of a DNS message (RFC 1035 §4.1), or null when it is not one. */
export function dnsQuestion(b: Uint8Array): Question | null {
  if (b.length < 17) return null;
  if (((b[4] << 8) | b[5]) !== 1) return null;
  const labels: string[] = [];
  let o = 12;
  while (o < b.length && b[o] !== 0) {
    const n = b[o];
    if (n > 63 || o + 1 + n > b.length) return null;
    labels.push(String.fromCharCode(...b.subarray(o + 1, o + 1 + n)));
    o += 1 + n;
  }
  if (o + 5 > b.length) return null;
  return {
    response: (b[2] & 0x80) !== 0, rcode: b[3] & 0x0f, name: labels.join('.'),
    qtype: (b[o + 1] << 8) | b[o + 2], answers: (b[6] << 8) | b[7],
  };
}

/** The SNI of a TLS ClientHello at the start of `b` (RFC 6066 §3), '' when it has none, null when it is no ClientHello. */
export function clientHelloSni(b: Uint8Array): string | null {
  if (b.length < 43 || b[0] !== 0x16 || b[5] !== 0x01) return null;
  let o = 43;
  o += 1 + b[o]; // session id
  if (o + 2 > b.length) return null;
  o += 2 + ((b[o] << 8) | b[o + 1]); // cipher suites
  o += 1 + b[o]; // compression
  const end = Math.min(b.length, o + 2 + ((b[o] << 8) | b[o + 1]));
  for (o += 2; o + 4 <= end;) {
    const type = (b[o] << 8) | b[o + 1], len = (b[o + 2] << 8) | b[o + 3];
    if (type === 0) {
      const n = (b[o + 7] << 8) | b[o + 8];
      return String.fromCharCode(...b.subarray(o + 9, o + 9 + n));
    }
    o += 4 + len;
  }
  return '';
}

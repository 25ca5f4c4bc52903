// What one exchange of each service looks like on the wire: a script of steps (direction, payload
// length, TCP flags, first payload byte), and the application prefix written into each payload so
// the traffic reads plausibly in Wireshark. Sizes follow typical IoT stacks: MQTT publishes of a
// few dozen bytes, TLS 1.3 records (22 bytes of overhead), full-MSS upload segments.

import { Prng } from '../net/prng.js';
import { SVC_COAP, SVC_DNS, SVC_HTTPS, SVC_MQTT, SVC_MQTTS, SVC_NTP, SVC_UPLOAD } from './fleet-model.js';
import { DIR_DOWN, DIR_UP } from './fleet-templates.js';

const FIN = 0x01, SYN = 0x02, PSH = 0x08, ACK = 0x10;
const DATA = PSH | ACK;
const MSS = 1448; // 1500-byte MTU less IPv4, TCP and timestamp option room
const TLS_OVERHEAD = 22; // record header 5 + inner content type 1 + AEAD tag 16
const TLS_HANDSHAKE = 0x16, TLS_APPDATA = 0x17;

const MAX_STEPS = 128; // the longest script, an upload of 40 segments, has 73 steps

/** One exchange's packets in order; reused per slot, so no allocation per exchange. */
export class Script {
  readonly dir = new Uint8Array(MAX_STEPS);
  readonly len = new Uint16Array(MAX_STEPS);
  readonly flags = new Uint8Array(MAX_STEPS);
  readonly app = new Uint8Array(MAX_STEPS);
  n = 0;

  push(dir: number, len: number, flags: number, app: number): void {
    this.dir[this.n] = dir;
    this.len[this.n] = len;
    this.flags[this.n] = flags;
    this.app[this.n] = app;
    this.n++;
  }
}

function tcpOpen(s: Script): void {
  s.push(DIR_UP, 0, SYN, 0);
  s.push(DIR_DOWN, 0, SYN | ACK, 0);
  s.push(DIR_UP, 0, ACK, 0);
}

function tcpClose(s: Script): void {
  s.push(DIR_UP, 0, FIN | ACK, 0);
  s.push(DIR_DOWN, 0, FIN | ACK, 0);
  s.push(DIR_UP, 0, ACK, 0);
}

function tlsOpen(s: Script, r: Prng): void {
  s.push(DIR_UP, r.int(250, 330), DATA, TLS_HANDSHAKE); // ClientHello
  s.push(DIR_DOWN, MSS, ACK, TLS_HANDSHAKE); // ServerHello .. certificate chain
  s.push(DIR_DOWN, r.int(500, 1300), DATA, TLS_APPDATA);
  s.push(DIR_UP, 0, ACK, 0);
  s.push(DIR_UP, r.int(74, 80), DATA, TLS_APPDATA); // client Finished
}

/** MQTT 3.1.1 (control packet type in the first byte), plain or inside TLS. */
function mqtt(s: Script, r: Prng, open: boolean, tls: boolean): void {
  const o = tls ? TLS_OVERHEAD : 0;
  const app = (type: number): number => (tls ? TLS_APPDATA : type);
  if (open) {
    tcpOpen(s);
    if (tls) tlsOpen(s, r);
    s.push(DIR_UP, r.int(40, 80) + o, DATA, app(0x10)); // CONNECT
    s.push(DIR_DOWN, 4 + o, DATA, app(0x20)); // CONNACK
  }
  const u = r.float();
  if (u < 0.8) {
    s.push(DIR_UP, r.int(20, 70) + o, DATA, app(0x32)); // PUBLISH, QoS 1
    if (r.float() < 0.5) s.push(DIR_DOWN, 4 + o, DATA, app(0x40)); // PUBACK
    else s.push(DIR_DOWN, 0, ACK, 0);
  } else if (u < 0.92) {
    s.push(DIR_DOWN, r.int(30, 120) + o, DATA, app(0x32)); // a command to the device
    s.push(DIR_UP, 4 + o, DATA, app(0x40));
  } else {
    s.push(DIR_UP, 2 + o, DATA, app(0xc0)); // PINGREQ
    s.push(DIR_DOWN, 2 + o, DATA, app(0xd0)); // PINGRESP
  }
}

function https(s: Script, r: Prng): void {
  tcpOpen(s);
  tlsOpen(s, r);
  s.push(DIR_UP, r.int(150, 700), DATA, TLS_APPDATA);
  const segments = r.int(1, 4);
  for (let i = 1; i <= segments; i++) {
    s.push(DIR_DOWN, i < segments ? MSS : r.int(100, MSS), i < segments ? ACK : DATA, TLS_APPDATA);
    if (i % 2 === 0 || i === segments) s.push(DIR_UP, 0, ACK, 0); // delayed ACK: every second segment
  }
  tcpClose(s);
}

function upload(s: Script, r: Prng): void {
  tcpOpen(s);
  tlsOpen(s, r);
  const segments = r.int(6, 40);
  for (let i = 1; i <= segments; i++) {
    s.push(DIR_UP, MSS, i < segments ? ACK : DATA, TLS_APPDATA);
    if (i % 2 === 0 || i === segments) s.push(DIR_DOWN, 0, ACK, 0);
  }
  s.push(DIR_DOWN, r.int(100, 300), DATA, TLS_APPDATA);
  s.push(DIR_UP, 0, ACK, 0);
  tcpClose(s);
}

/** Fills `s` with one exchange of service `svc`; `open` asks for a new TCP connection first. */
export function writeScript(s: Script, r: Prng, svc: number, open: boolean): void {
  s.n = 0;
  switch (svc) {
    case SVC_MQTT: mqtt(s, r, open, false); break;
    case SVC_MQTTS: mqtt(s, r, open, true); break;
    case SVC_HTTPS: https(s, r); break;
    case SVC_UPLOAD: upload(s, r); break;
    case SVC_COAP: // RFC 7252: confirmable POST and its piggybacked ACK, or a non-confirmable notification
      if (r.float() < 0.9) {
        s.push(DIR_UP, r.int(12, 60), 0, 0x40);
        s.push(DIR_DOWN, r.int(4, 30), 0, 0x60);
      } else {
        s.push(DIR_DOWN, r.int(20, 60), 0, 0x50);
      }
      break;
    case SVC_DNS:
      s.push(DIR_UP, r.int(28, 45), 0, 0);
      s.push(DIR_DOWN, r.int(45, 180), 0, 0);
      break;
    case SVC_NTP:
      s.push(DIR_UP, 48, 0, 0x23); // RFC 5905: LI 0, version 4, mode 3 (client)
      s.push(DIR_DOWN, 48, 0, 0x24); // mode 4 (server)
      break;
    default: throw new Error(`unknown service ${svc}`);
  }
}

/** Writes the first bytes of a payload of `len` bytes at `off`: record/packet headers, not bodies. */
export function writeAppPrefix(b: Uint8Array, off: number, len: number, svc: number, dir: number, app: number): void {
  switch (svc) {
    case SVC_MQTTS: case SVC_HTTPS: case SVC_UPLOAD: // TLS record header (RFC 8446 §5.1)
      if (len < 5) return;
      b[off] = app; b[off + 1] = 3; b[off + 2] = 3; b[off + 3] = (len - 5) >>> 8; b[off + 4] = (len - 5) & 0xff;
      return;
    case SVC_MQTT: // fixed header: type and flags, remaining length (< 128 here, so one byte)
      b[off] = app; b[off + 1] = len - 2;
      return;
    case SVC_COAP: // version 1, type, token length 0; code POST (0.02) or 2.04 Changed
      b[off] = app; b[off + 1] = dir === DIR_UP ? 0x02 : 0x44;
      return;
    case SVC_DNS: // RFC 1035 §4.1.1 header: id left as filler; flags, one question (and one answer down)
      b[off + 2] = dir === DIR_UP ? 0x01 : 0x81; b[off + 3] = dir === DIR_UP ? 0x00 : 0x80;
      b[off + 4] = 0; b[off + 5] = 1; b[off + 6] = 0; b[off + 7] = dir === DIR_UP ? 0 : 1;
      b[off + 8] = 0; b[off + 9] = 0; b[off + 10] = 0; b[off + 11] = 0;
      return;
    case SVC_NTP:
      b[off] = app;
      return;
  }
}

// What every device does on the network, whatever its class: look a name up (and retry when the
// resolver fails), open a TCP connection (and retry when the far end does not answer), speak TLS,
// move data with ACKs, synchronise its clock. Each helper is a Sub: run it with `yield*` inside an
// activity; it yields the time of each packet and returns the time it finished.
//
// Timing, as the gateway that mirrors sees it: a packet from the device reaches the gateway, the
// server's answer comes back `net` µs later (gateway ↔ cloud), the device's answer to that `radio` µs
// after it (gateway ↔ device over cellular or the site's uplink). Nothing is mirrored while the device
// is off the network (Device.online), in either direction.

import type { Cloud } from './cloud.js';
import { HARDCODED_RESOLVER, RESOLVER } from './cloud.js';
import type { Device } from './fleet.js';
import type { NoisePlan } from './noise.js';
import { clientHello, dnsQuery, dnsResponse, ntpRequest, ntpResponse, QTYPE, RCODE, serverFlightHead, type Answer } from './payloads.js';
import type { Rand } from './random.js';
import type { Scheduler, Sub } from './sched.js';
import {
  MirrorWriter, PAY_BYTES, PAY_FILL, PAY_NONE, PAY_TLS, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN,
} from './wire.js';
import type { BenignLabel } from './labels.js';
import { MSS, SEC, TLS_OVERHEAD } from './units.js';


/** Everything an activity needs: the writer, the scheduler, the Internet and the benign events. */
export interface World {
  w: MirrorWriter;
  sched: Scheduler;
  cloud: Cloud;
  noise: NoisePlan;
  start: number;
  end: number;
  /** Benign events that only the activities know (a tracker's backlog burst): labelled as they happen. */
  benign: BenignLabel[];
}

/** SYN options of a Linux stack: MSS 1460, SACK permitted, NOP, window scale 7 (RFC 9293, 2018, 7323). */
export const SYN_OPTIONS = Uint8Array.of(0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x01, 0x03, 0x03, 0x07);

/** One TCP connection between a device and a far end, with both sides' sequence numbers. */
export class Conn {
  readonly sport: number;
  private sC: number;
  private sS: number;

  constructor(readonly world: World, readonly dev: Device, readonly dst: number, readonly dport: number,
    readonly net: number, readonly radio: number, sport = dev.nextPort()) {
    this.sport = sport;
    this.sC = dev.rng.u32();
    this.sS = dev.rng.u32();
  }

  /** A new connection attempt from the same socket (same port, new initial sequence number). */
  renew(): void {
    this.sC = this.dev.rng.u32();
  }

  /** Device → far end. */
  up(t: number, flags: number, kind = PAY_NONE, len = 0, bytes: Uint8Array | null = null): void {
    if (this.dev.online(t)) {
      this.world.w.tcp(t, this.dev.ip, this.dst, this.sport, this.dport, flags, this.sC, this.sS, flags & TCP_SYN ? 64240 : 502,
        kind, len, bytes, flags & TCP_SYN ? SYN_OPTIONS : null);
    }
    this.sC = (this.sC + len + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
  }

  /** Far end → device. */
  down(t: number, flags: number, kind = PAY_NONE, len = 0, bytes: Uint8Array | null = null): void {
    if (this.dev.online(t)) {
      this.world.w.tcp(t, this.dst, this.dev.ip, this.dport, this.sport, flags, this.sS, this.sC, flags & TCP_SYN ? 65160 : 501,
        kind, len, bytes, flags & TCP_SYN ? SYN_OPTIONS : null);
    }
    this.sS = (this.sS + len + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
  }

  /** The last `len` bytes the device sent, sent again (an unanswered segment's retransmission). */
  upAgain(t: number, kind: number, len: number, bytes: Uint8Array | null = null): void {
    this.sC = (this.sC - len) >>> 0;
    this.up(t, TCP_ACK | TCP_PSH, kind, len, bytes);
  }

  /** A SYN sent again (same sequence number, RFC 6298 §5 retransmission). */
  synAgain(t: number): void {
    this.sC = (this.sC - 1) >>> 0;
    this.up(t, TCP_SYN);
  }
}

/** Gateway ↔ cloud and gateway ↔ device round trips for a new connection (µs). */
export function delays(r: Rand): [number, number] {
  return [Math.round(r.uniform(8e3, 60e3)), Math.round(r.uniform(25e3, 90e3))];
}

/** The three-way handshake, answered. */
export function* handshake(c: Conn, t: number): Sub<number> {
  yield t; c.up(t, TCP_SYN);
  t += c.net; yield t; c.down(t, TCP_SYN | TCP_ACK);
  t += c.radio; yield t; c.up(t, TCP_ACK);
  return t;
}

/**
 * `bytes` in one direction, MSS segments paced at `bps` bits/s, each segment one TLS record when
 * `tls` (as small-record TLS stacks send them), every second segment and the last ACKed by the
 * receiver one round trip later: the data and the ACKs interleave in time order.
 */
export function* transfer(c: Conn, t: number, upward: boolean, bytes: number, bps: number, tls: boolean): Sub<number> {
  const ackDelay = upward ? c.net : c.radio;
  const kind = tls ? PAY_TLS : PAY_FILL;
  const acks: number[] = [];
  let head = 0;
  let sent = 0, segs = 0;
  while (sent < bytes) {
    const n = Math.min(MSS, bytes - sent);
    while (head < acks.length && acks[head] <= t) {
      const ta = acks[head++];
      yield ta;
      if (upward) c.down(ta, TCP_ACK); else c.up(ta, TCP_ACK);
    }
    yield t;
    const flags = TCP_ACK | (sent + n >= bytes ? TCP_PSH : 0);
    if (upward) c.up(t, flags, kind, Math.max(n, tls ? 6 : 1)); else c.down(t, flags, kind, Math.max(n, tls ? 6 : 1));
    sent += n;
    segs++;
    if (segs % 2 === 0 || sent >= bytes) acks.push(t + ackDelay);
    t += Math.max(20, Math.round((n + 40) * 8 * 1e6 / bps));
  }
  let last = t;
  while (head < acks.length) {
    last = acks[head++];
    yield last;
    if (upward) c.down(last, TCP_ACK); else c.up(last, TCP_ACK);
  }
  return last;
}

/** A small application message: given bytes (plain protocols) or a TLS record of `len` bytes. */
export interface Msg {
  len: number;
  bytes: Uint8Array | null;
}

export const tlsMsg = (len: number): Msg => ({ len, bytes: null });
export const plainMsg = (bytes: Uint8Array): Msg => ({ len: bytes.length, bytes });

/**
 * One message up, the far end's answer down one round trip later, the device's ACK of it a radio
 * round trip after that (an MQTT PINGREQ/PINGRESP, PUBLISH/PUBACK, CONNECT/CONNACK). Returns when done.
 */
export function* roundTrip(c: Conn, t: number, up: Msg, down: Msg): Sub<number> {
  yield t; c.up(t, TCP_ACK | TCP_PSH, up.bytes ? PAY_BYTES : PAY_TLS, up.len, up.bytes);
  t += c.net; yield t; c.down(t, TCP_ACK | TCP_PSH, down.bytes ? PAY_BYTES : PAY_TLS, down.len, down.bytes);
  t += c.radio; yield t; c.up(t, TCP_ACK);
  return t;
}

/** TLS 1.3 handshake on an open connection: ClientHello (SNI or none), the server's flight, the client's Finished. */
export function* tlsHandshake(c: Conn, t: number, sni: string | null, alpn: string | null = null): Sub<number> {
  const r = c.dev.rng;
  const hello = clientHello(r, sni, alpn);
  t += 300; yield t; c.up(t, TCP_ACK | TCP_PSH, PAY_BYTES, hello.length, hello);
  const flight = r.int(2600, 4800); // certificate chain of an IoT endpoint: two or three certificates
  const head = serverFlightHead(r, Math.min(MSS, flight));
  t += c.net; yield t; c.down(t, TCP_ACK, PAY_BYTES, head.length, head);
  t = yield* transfer(c, t + 200, false, flight - head.length, 20e6, true);
  t += 1500; yield t; c.up(t, TCP_ACK | TCP_PSH, PAY_BYTES, 80, FINISHED);
  return t;
}
const FINISHED = Uint8Array.of(0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00, 0x45, ...new Uint8Array(69).fill(0x5a));

/** Orderly close, started by the device (`byDevice`) or by the far end. */
export function* close(c: Conn, t: number, byDevice: boolean): Sub<number> {
  if (byDevice) {
    yield t; c.up(t, TCP_FIN | TCP_ACK);
    t += c.net; yield t; c.down(t, TCP_FIN | TCP_ACK);
    t += c.radio; yield t; c.up(t, TCP_ACK);
  } else {
    yield t; c.down(t, TCP_FIN | TCP_ACK);
    t += c.radio; yield t; c.up(t, TCP_FIN | TCP_ACK);
    t += c.net; yield t; c.down(t, TCP_ACK);
  }
  return t;
}

export function* reset(c: Conn, t: number, byDevice: boolean): Sub<number> {
  yield t;
  if (byDevice) c.up(t, TCP_RST | TCP_ACK); else c.down(t, TCP_RST | TCP_ACK);
  return t;
}

// ---------------------------------------------------------------------------------------------
// DNS

/**
 * How a device resolves. `cache`: keeps answers for their TTL (most embedded Linux has no cache:
 * every connection looks its name up, DIGEST A5: one query per reconnect). On SERVFAIL, DIGEST A5's
 * three real retry patterns: 'fast' (schlage: the same name every 0.63 s until it resolves), 'alternate'
 * (sifely: the gateway and a hard-coded public resolver in turn, about every 1.9 s; the public one
 * unanswered) and 'backoff' (lockly: about every 5.5 s). `aaaa`: also asks AAAA (dual-stack libc).
 */
export interface DnsPolicy {
  cache: boolean;
  retry: 'fast' | 'alternate' | 'backoff';
  aaaa: boolean;
}

export interface Lookup {
  t: number;
  addrs: number[];
}

/** The resolver's answer, its A records rotated per response (round-robin, as BIND and cloud DNS order them). */
function answersFor(world: World, name: string, t: number, r: Rand): { answers: Answer[]; addrs: number[]; ttl: number } {
  const res = world.cloud.resolve(name, t);
  const k = r.int(0, res.addrs.length - 1);
  const addrs = [...res.addrs.slice(k), ...res.addrs.slice(0, k)];
  const answers: Answer[] = [];
  if (res.cname) answers.push({ type: 'CNAME', ttl: res.ttl, name: res.cname });
  for (const a of addrs) answers.push({ type: 'A', ttl: res.ttl, addr: a, owner: res.cname ?? undefined });
  return { answers, addrs, ttl: res.ttl };
}

/** One query and its response (from `server`, after `lat` µs; `rcode` SERVFAIL carries no answers; null: no response). */
export function* dnsExchange(world: World, dev: Device, t: number, server: number, name: string, qtype: number,
  answers: readonly Answer[] | null, rcode: number, lat: number): Sub<number> {
  const id = dev.rng.u32() & 0xffff;
  const sport = dev.nextPort();
  const q = dnsQuery(id, name, qtype);
  yield t;
  if (dev.online(t)) world.w.udp(t, dev.ip, server, sport, 53, PAY_BYTES, q.length, q);
  if (answers === null) return t;
  t += lat;
  const resp = dnsResponse(id, name, qtype, rcode, rcode === RCODE.NOERROR ? answers : []);
  yield t;
  if (dev.online(t)) world.w.udp(t, server, dev.ip, 53, sport, PAY_BYTES, resp.length, resp);
  return t;
}

/** Resolves `name` (A, and AAAA if the policy says), retrying through a resolver outage; returns when it has addresses. */
export function* lookup(world: World, dev: Device, name: string, t: number, p: DnsPolicy): Sub<Lookup> {
  const cached = dev.dns.get(name);
  if (p.cache && cached && cached.expires > t) return { t, addrs: cached.addrs };
  const r = dev.rng;
  for (let attempt = 0; ; attempt++) {
    t = dev.onlineFrom(t);
    if (!world.noise.resolverDown(t)) {
      const { answers, addrs, ttl } = answersFor(world, name, t, r);
      t = yield* dnsExchange(world, dev, t, RESOLVER, name, QTYPE.A, answers, RCODE.NOERROR, Math.round(r.uniform(1.5e3, 45e3)));
      if (p.aaaa) t = yield* dnsExchange(world, dev, t + 200, RESOLVER, name, QTYPE.AAAA, [], RCODE.NOERROR, Math.round(r.uniform(1.5e3, 30e3)));
      if (p.cache) dev.dns.set(name, { addrs, expires: t + ttl * SEC });
      return { t, addrs };
    }
    if (p.retry === 'alternate' && attempt % 2 === 1) {
      t = yield* dnsExchange(world, dev, t, HARDCODED_RESOLVER, name, QTYPE.A, null, 0, 0);
      t += Math.round(r.uniform(1.7, 2.1) * SEC);
      continue;
    }
    t = yield* dnsExchange(world, dev, t, RESOLVER, name, QTYPE.A, [], RCODE.SERVFAIL, Math.round(r.uniform(0.5e3, 4e3)));
    t += Math.round((p.retry === 'fast' ? r.uniform(0.55, 0.7) : p.retry === 'alternate' ? r.uniform(1.7, 2.1) : r.uniform(4, 7)) * SEC);
  }
}

// ---------------------------------------------------------------------------------------------
// TCP connect with the reconnect behaviour of real devices

/**
 * 'linux': the kernel retransmits an unanswered SYN after 1, 2, 4, 8 s (tcp_syn_retries 4, RFC 6298
 * initial RTO 1 s), then the application backs off exponentially (5 s doubling to 5 min, ±50 %) and
 * tries again with a fresh lookup and a new port. 'sifely': DIGEST A1's lock hub exactly: SYN + 3
 * retransmissions 1.00 s apart, a new attempt (new ISN, same source port) 0.305 s later, so an
 * attempt every 3.305 s and ~72 SYNs a minute for as long as the server is unreachable; the attempt
 * that finally succeeds uses a new port.
 */
export type ReconnectPolicy = 'linux' | 'sifely';

export interface Target {
  name: string;
  port: number;
}

/** Looks `target` up and connects, retrying as the policy says; returns the open connection. */
export function* connect(world: World, dev: Device, target: Target, t: number, policy: ReconnectPolicy, dns: DnsPolicy): Sub<{ t: number; c: Conn }> {
  const r = dev.rng;
  let backoff = 5 * SEC;
  for (;;) {
    const res = yield* lookup(world, dev, target.name, t, dns);
    t = dev.onlineFrom(res.t + Math.round(r.uniform(0.2e3, 3e3)));
    const addr = res.addrs[0]; // getaddrinfo() order: the first answer
    const [net, radio] = delays(r);
    if (world.noise.cloudReachable(dev.group, t)) {
      const c = new Conn(world, dev, addr, target.port, net, radio);
      t = yield* handshake(c, t);
      return { t, c };
    }
    const c = new Conn(world, dev, addr, target.port, net, radio);
    if (policy === 'sifely') {
      for (;;) {
        for (let k = 0; k < 4; k++) {
          yield t;
          if (k === 0) c.up(t, TCP_SYN); else c.synAgain(t);
          t += SEC;
        }
        t += 305e3 - SEC + Math.round(r.uniform(-8e3, 8e3)); // the last retransmission + 0.305 s
        if (world.noise.cloudReachable(dev.group, t)) break;
        c.renew();
      }
      const fresh = new Conn(world, dev, addr, target.port, net, radio);
      t = yield* handshake(fresh, t);
      return { t, c: fresh };
    }
    let rto = SEC;
    yield t; c.up(t, TCP_SYN);
    for (let k = 0; k < 4; k++) {
      t += rto;
      rto *= 2;
      yield t;
      if (world.noise.cloudReachable(dev.group, t)) {
        c.synAgain(t);
        t += c.net; yield t; c.down(t, TCP_SYN | TCP_ACK);
        t += c.radio; yield t; c.up(t, TCP_ACK);
        return { t, c };
      }
      c.synAgain(t);
    }
    t += rto + Math.round(r.jitter(backoff, 0.5));
    backoff = Math.min(backoff * 2, 300 * SEC);
  }
}

// ---------------------------------------------------------------------------------------------
// NTP

/** One SNTP exchange with `server` (client port: 123 for ntpd, ephemeral for SNTP clients). */
export function* ntpExchange(world: World, dev: Device, t: number, server: number, ntpd: boolean): Sub<number> {
  const sport = ntpd ? 123 : dev.nextPort();
  const req = ntpRequest(t);
  yield t;
  if (dev.online(t)) world.w.udp(t, dev.ip, server, sport, 123, PAY_BYTES, req.length, req);
  const [net] = delays(dev.rng);
  t += net;
  if (!world.noise.cloudReachable(dev.group, t)) return t;
  const resp = ntpResponse(t, 2, server ^ 0x5a5a5a5a);
  yield t;
  if (dev.online(t)) world.w.udp(t, server, dev.ip, 123, sport, PAY_BYTES, resp.length, resp);
  return t;
}

/** Resolves an NTP pool name and asks one of its servers (the pool hands out other servers every 150 s). */
export function* syncClock(world: World, dev: Device, t: number, name: string, dns: DnsPolicy): Sub<number> {
  const res = yield* lookup(world, dev, name, t, dns);
  return yield* ntpExchange(world, dev, res.t + 500, res.addrs[dev.rng.int(0, res.addrs.length - 1)], false);
}

/** A short HTTPS call by name: lookup, connect, TLS with SNI, request/response, close. */
export function* httpsCall(world: World, dev: Device, t: number, target: Target, up: number, down: number,
  policy: ReconnectPolicy, dns: DnsPolicy, downBps = 4e6): Sub<number> {
  const { t: t1, c } = yield* connect(world, dev, target, t, policy, dns);
  t = yield* tlsHandshake(c, t1, target.name);
  t = yield* transfer(c, t + 1000, true, up + TLS_OVERHEAD, 2e6, true);
  t = yield* transfer(c, t + c.net, false, down + TLS_OVERHEAD, downBps, true);
  return yield* close(c, t + 50e3, true);
}

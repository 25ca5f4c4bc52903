// The incidents, modelled on descriptions of real malware and tools — never on a detector. Each is
// drawn over a wide parameter range (stratified, so K incidents of a type span the range) and
// written to labels.json with its parameters. Sources, per model:
//
// scan — Mirai's scanner (jgamblin/Mirai-Source-Code bot/scanner.c, and Antonakakis et al.,
//   "Understanding the Mirai Botnet", USENIX Security 2017): a raw socket sends SYNs with a 20-byte
//   TCP header (no options), TTL 64, one random source port (≥ 1024) and window for the whole run,
//   a random IP id, sequence number = the target address, to random IPv4 addresses outside the
//   ranges get_random_ip() skips, on port 23, and 2323 one time in ten (scanner.c: `i % 10`);
//   SCANNER_RAW_PPS 160 SYNs in a burst each second (variants: 128–8912; SANS ISC measured ~200/s
//   per bot). Hosts that answer SYN-ACK get a real connect() and a telnet login attempt; closed
//   ports answer RST. SSH sweeps (Gafgyt/Hajime-style, ports 22/2222) and a slow scan (one SYN every
//   2–30 s on 23, 22, 2323, 80, 8080, 7547, 5555, 37215, the later variants' list) use connect():
//   kernel SYNs with options and one retransmission.
// dns-tunnel — as the tools encode (man iodine(8): -T NULL default, TXT/CNAME/MX/A also; upstream
//   base32/64 in labels, dots every 57 chars; dnscat2 doc/protocol.md: hex, TXT/CNAME/MX; dns2tcp:
//   base64 in TXT queries, ".=" control labels; DNSExfiltrator (Arno0x): base64url chunks in 63-char
//   labels, TXT, an "init." query first; and DIGEST A3's real captures of iodine, dnscat2, dns2tcp,
//   DNSExfiltrator and sods: every query a new subdomain of one domain, labels up to 63, qtypes
//   NULL/TXT/CNAME/MX/A, answered NOERROR through the usual resolver). Low and slow (30–150 queries an
//   hour, the -I interval of a patient operator) or bursty (tens per second, a transfer).
// beacon — sleep and jitter as C2 frameworks implement them (Fox-IT, "Hunting for beacons", 2020:
//   PoshC2/Empire draw uniformly in [S(1−J), S(1+J)], Cobalt Strike in [S(1−J), S]); three channels:
//   one persistent TLS session to an address never resolved, no SNI, a keep-alive-sized record each
//   period (as Mirai's bot keeps its CNC connection and pings it every 60 s, bot/main.c); a new
//   TLS connection per beacon with an SNI but no DNS (DIGEST A2 slips cc-1: 1773 B up, ~4.7 kB down
//   per connection); and a DNS look-up of the C2 domain before each beacon (slips cc-2).
// exfiltration — MITRE ATT&CK T1041/T1567 (exfiltration over the C2 or a web service, rclone-like):
//   megabytes over TLS in several files to a destination new to the device and to the fleet, by name
//   (with DNS and SNI) or by bare address, spread over minutes to hours.
// flood — Mirai's attack vectors (bot/attack_udp.c, attack_tcp.c): "udp" generic (raw, random source
//   and destination ports per packet, 512 random bytes by default), "udpplain" (a connected socket:
//   fixed ports, 512 bytes), "syn" (raw SYNs with MSS/SACK/timestamp/window-scale options, random
//   source port, DF set), at the hundreds to thousands of packets a second an IoT uplink sustains;
//   one way: the victim's answers do not come back to the device's network.

import { close, Conn, delays, dnsExchange, handshake, lookup, roundTrip, tlsHandshake, tlsMsg, transfer, type World } from './behaviour.js';
import { ATTACKER_BLOCKS, randomPublicAddress, RESOLVER, type Cloud } from './cloud.js';
import type { Device, DeviceClass } from './fleet.js';
import { CLASSES } from './fleet.js';
import type { IncidentType } from './labels.js';
import { INCIDENT_TYPES } from './labels.js';
import { toMs, type NoisePlan } from './noise.js';
import {
  base32, base64url, hex, labels, QTYPE, RCODE, TELNET_GREETING, TELNET_REPLY, ascii, type Answer, type QTypeName,
} from './payloads.js';
import { Rand, stratifiedLog, subSeed } from './random.js';
import type { Proc } from './sched.js';
import { HOUR, MIN, SEC, TLS_OVERHEAD } from './units.js';
import { ipText, PAY_BYTES, PAY_FILL, TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from './wire.js';

/** The ranges incidents are drawn from (the lead's benchmark may narrow them for quick tests). */
export interface IncidentRanges {
  scanRate: [number, number];
  scanSlowRate: [number, number];
  scanMinutes: [number, number];
  scanSlowHours: [number, number];
  scanMaxSyns: number;
  tunnelPerHour: [number, number];
  tunnelHours: [number, number];
  tunnelBurstPerSec: [number, number];
  tunnelBurstMinutes: [number, number];
  beaconPeriodSec: [number, number];
  beaconJitter: [number, number];
  beaconContacts: [number, number];
  exfilMB: [number, number];
  exfilMinutes: [number, number];
  floodPps: [number, number];
  floodMinutes: [number, number];
}

export const DEFAULT_RANGES: IncidentRanges = {
  scanRate: [2, 400],
  scanSlowRate: [0.033, 0.5],
  scanMinutes: [5, 45],
  scanSlowHours: [2, 8],
  scanMaxSyns: 250_000,
  tunnelPerHour: [30, 150],
  tunnelHours: [2, 8],
  tunnelBurstPerSec: [10, 60],
  tunnelBurstMinutes: [1, 10],
  beaconPeriodSec: [10, 3600],
  beaconJitter: [0, 0.15],
  beaconContacts: [24, 60],
  exfilMB: [2, 150],
  exfilMinutes: [5, 180],
  floodPps: [200, 3000],
  floodMinutes: [1, 10],
};

type Params = Record<string, string | number | boolean | string[] | number[]>;

export interface Incident {
  id: string;
  type: IncidentType;
  dev: Device;
  start: number;
  end: number;
  detail: string;
  params: Params;
  /** Time of the incident's last packet, once run. */
  last: number;
  proc: (world: World, inc: Incident) => Proc;
}

const WORDS = ['cdn', 'sync', 'update', 'static', 'metrics', 'cloud', 'data', 'edge', 'secure', 'api', 'node', 'track', 'pixel', 'relay', 'mirror', 'store', 'live', 'net'];
const TLDS = ['com', 'net', 'xyz', 'top', 'info', 'online', 'site'];

function attackerDomain(r: Rand): string {
  return `${r.pick(WORDS)}${r.pick(WORDS)}${r.int(2, 99)}.${r.pick(TLDS)}`;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------------------------------------
// scan

const SLOW_PORTS = [23, 23, 23, 22, 22, 2323, 80, 8080, 7547, 5555, 37215];

function* scan(world: World, inc: Incident): Proc {
  const dev = inc.dev;
  const r = new Rand(subSeed(Number(inc.params.seed), 10));
  const p = inc.params;
  const variant = String(p.variant), rate = Number(p.rate_per_s);
  const rstFrac = Number(p.rst_fraction), openFrac = Number(p.open_fraction);
  const raw = variant === 'telnet';
  const rawPort = Number(p.source_port), win = r.u32() & 0xffff;
  const [net] = delays(r);
  // What comes back (RSTs one round trip later) and the kernel's SYN retransmissions (1 s later, for
  // connect() scanners): two queues, each in time order, released when due so output stays sorted.
  const replies: [number, number, number, number, number][] = []; // at, host, dport, sport, ack
  const again: [number, number, number, number, number][] = []; // at, host, dport, sport, seq
  // Releases what is due by `until`, the two queues merged in time order.
  const due = function* (until: number): Generator<number, void, void> {
    for (;;) {
      const a = replies.length ? replies[0][0] : Infinity, b = again.length ? again[0][0] : Infinity;
      if (Math.min(a, b) > until) return;
      if (a <= b) { const [at, h, dp, sp, ack] = replies.shift()!; yield at; if (dev.online(at)) world.w.tcp(at, h, dev.ip, dp, sp, TCP_RST | TCP_ACK, 0, ack, 0, 0, 0); }
      else { const [at, h, dp, sp, seq] = again.shift()!; yield at; if (dev.online(at)) world.w.tcp(at, dev.ip, h, sp, dp, TCP_SYN, seq, 0, 64240, 0, 0, null, SYN_OPTS); }
    }
  };
  let t = inc.start;
  // Mirai sends its per-second quota in one burst (scanner.c: SCANNER_RAW_PPS SYNs each time the
  // second changes); connect() scanners spread their SYNs (Poisson).
  let quota = 0;
  while (t < inc.end) {
    let gap: number;
    if (raw) {
      if (quota === 0) { quota = Math.max(1, Math.round(r.jitter(rate, 0.05))); t = Math.ceil((t + 1) / SEC) * SEC + r.int(0, 2000); }
      quota--;
      gap = quota === 0 ? 1 : r.int(8, 60); // µs apart inside the burst
    } else {
      gap = Math.max(1, Math.round(r.exp(SEC / rate)));
    }
    if (t >= inc.end) break;
    yield* due(t);
    const dst = randomPublicAddress(r, world.cloud);
    const dport = variant === 'telnet' ? (r.u32() % 10 === 0 ? 2323 : 23) : variant === 'ssh' ? (r.chance(0.85) ? 22 : 2222) : r.pick(SLOW_PORTS);
    const u = r.float();
    yield t;
    if (u < openFrac) {
      // An open port: Mirai's raw SYN gets a SYN-ACK (then a real login attempt); a connect() scanner's SYN is the login's own.
      world.sched.spawn(tracked(inc, telnetLogin(world, dev, dst, dport, t, net, raw ? rawPort : 0, dst, win)));
    } else {
      const sport = raw ? rawPort : dev.nextPort();
      const seq = raw ? dst : r.u32();
      if (dev.online(t)) {
        if (raw) world.w.tcp(t, dev.ip, dst, sport, dport, TCP_SYN, seq, 0, win, 0, 0, null, null, r.u32() & 0xffff, false);
        else world.w.tcp(t, dev.ip, dst, sport, dport, TCP_SYN, seq, 0, 64240, 0, 0, null, SYN_OPTS);
      }
      if (u < openFrac + rstFrac) replies.push([t + net, dst, dport, sport, (seq + 1) >>> 0]);
      else if (!raw) again.push([t + SEC, dst, dport, sport, seq]);
    }
    t += gap;
  }
  yield* due(inc.end);
}

const SYN_OPTS = Uint8Array.of(0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 0, 0x01, 0x03, 0x03, 0x06);

/**
 * A host answered: for Mirai's raw SYN the device's kernel resets the unknown connection, then the
 * scanner connects for real and tries a default login (scanner.c: the telnet state machine).
 */
function* telnetLogin(world: World, dev: Device, host: number, port: number, at: number, net: number, rawPort: number, rawSeq: number, win: number): Proc {
  const r = dev.rng;
  let start = at;
  if (rawPort !== 0) {
    yield at;
    if (dev.online(at)) world.w.tcp(at, dev.ip, host, rawPort, port, TCP_SYN, rawSeq, 0, win, 0, 0, null, null, r.u32() & 0xffff, false);
    const sa = at + net;
    yield sa;
    if (dev.online(sa)) world.w.tcp(sa, host, dev.ip, port, rawPort, TCP_SYN | TCP_ACK, r.u32(), rawSeq + 1, 29200, 0, 0, null, SYN_OPTS);
    const rst = sa + 200;
    yield rst;
    if (dev.online(rst)) world.w.tcp(rst, dev.ip, host, rawPort, port, TCP_RST, rawSeq + 1, 0, 0, 0, 0);
    start = rst + Math.round(r.uniform(0.2, 2) * SEC);
  }
  const c = new Conn(world, dev, host, port, net, 30e3);
  let t = yield* handshake(c, start);
  t += net; yield t; c.down(t, TCP_ACK | TCP_PSH, PAY_BYTES, TELNET_GREETING.length, TELNET_GREETING);
  t += 30e3; yield t; c.up(t, TCP_ACK | TCP_PSH, PAY_BYTES, TELNET_REPLY.length, TELNET_REPLY);
  const login = ascii('login: '), user = ascii(r.pick(['root\r\n', 'admin\r\n', 'support\r\n'])), pw = ascii(r.pick(['xc3511\r\n', 'vizxv\r\n', 'admin\r\n', '888888\r\n']));
  t += net; yield t; c.down(t, TCP_ACK | TCP_PSH, PAY_BYTES, login.length, login);
  t += 30e3; yield t; c.up(t, TCP_ACK | TCP_PSH, PAY_BYTES, user.length, user);
  const pass = ascii('Password: ');
  t += net; yield t; c.down(t, TCP_ACK | TCP_PSH, PAY_BYTES, pass.length, pass);
  t += 30e3; yield t; c.up(t, TCP_ACK | TCP_PSH, PAY_BYTES, pw.length, pw);
  const bad = ascii('\r\nLogin incorrect\r\n');
  t += net + 1.5 * SEC; yield t; c.down(t, TCP_ACK | TCP_PSH, PAY_BYTES, bad.length, bad);
  yield* close(c, t + 50e3, true);
}

// ---------------------------------------------------------------------------------------------
// dns-tunnel

export const TUNNEL_TOOLS = ['iodine', 'dnscat2', 'dns2tcp', 'sods', 'dnsexfiltrator'] as const;
type Tool = (typeof TUNNEL_TOOLS)[number];

const TOOL_QTYPES: Record<Tool, QTypeName[][]> = {
  iodine: [['NULL'], ['NULL'], ['TXT'], ['CNAME'], ['MX'], ['A']],
  dnscat2: [['TXT', 'CNAME', 'MX']],
  dns2tcp: [['TXT']],
  sods: [['CNAME', 'A', 'TXT', 'NULL']],
  dnsexfiltrator: [['TXT']],
};

/** The query name a tool sends for `data` (its encoding, its label length, its control labels). */
function tunnelName(tool: Tool, r: Rand, domain: string, data: Uint8Array, seq: number, session: number, encoding: string): string {
  const room = (s: string): number => 250 - s.length;
  switch (tool) {
    case 'iodine': { // command/user char + upstream data, dots every 57 characters
      const enc = encoding === 'base64' ? base64url(data) : base32(data);
      const body = `${'0123456789abcdef'[session & 15]}${enc}`.slice(0, room(domain) - 6);
      return `${labels(body, 57)}.${domain}`;
    }
    case 'dnscat2': { // hex of the dnscat2 packet (16-bit packet id, type, session id, seq/ack, data)
      const pkt = new Uint8Array(9 + data.length);
      pkt[0] = seq >>> 8; pkt[1] = seq; pkt[2] = 0x01; pkt[3] = session >>> 8; pkt[4] = session;
      pkt.set(data, 9);
      return `${labels(hex(pkt).slice(0, room(domain) - 4), 63)}.${domain}`;
    }
    case 'dns2tcp': { // base64 data labels and a ".=<resource>" control label
      const body = `${Buffer.from(data).toString('base64').replace(/[+/=]/g, (c) => (c === '+' ? '-' : c === '/' ? '_' : ''))}`;
      return `${labels(body.slice(0, room(domain) - 20), 63)}.=connect.${domain}`;
    }
    case 'sods': { // upstream data in base32 63-char labels, or a short downstream poll
      if (seq % 3 === 2) return `${seq}-${r.int(10000, 65535)}.id-${session}.down.${domain}`;
      return `${labels(base32(data).slice(0, room(domain) - 30), 63)}.${seq}-${r.int(10000, 65535)}.id-${session}.up.${domain}`;
    }
    case 'dnsexfiltrator': {
      if (seq === 0) return `init.${base32(data.subarray(0, 20))}.base64.${domain}`;
      return `${seq}.${labels(base64url(data).slice(0, room(domain) - 8), 63)}.${domain}`;
    }
  }
}

function tunnelAnswer(qtype: QTypeName, r: Rand, domain: string): Answer[] {
  const ttl = 0; // tunnel servers answer with TTL 0 so resolvers do not cache (iodined, dnscat2)
  switch (qtype) {
    case 'NULL': return [{ type: 'NULL', ttl, data: r.bytes(r.int(16, 200)) }];
    case 'TXT': return [{ type: 'TXT', ttl, text: base64url(r.bytes(r.int(12, 180))) }];
    case 'CNAME': return [{ type: 'CNAME', ttl, name: `${base32(r.bytes(r.int(8, 30)))}.${domain}` }];
    case 'MX': return [{ type: 'MX', ttl, pref: 10, name: `${base32(r.bytes(r.int(8, 30)))}.${domain}` }];
    default: return [{ type: 'A', ttl, addr: r.u32() }];
  }
}

function* dnsTunnel(world: World, inc: Incident): Proc {
  const dev = inc.dev;
  const p = inc.params;
  const r = new Rand(subSeed(Number(p.seed), 11));
  const tool = String(p.tool) as Tool, domain = String(p.domain), encoding = String(p.encoding);
  const qtypes = (p.qtypes as string[]) as QTypeName[];
  const burst = p.mode === 'burst';
  const meanGap = burst ? SEC / Number(p.queries_per_s) : HOUR / Number(p.queries_per_hour);
  const session = r.int(1, 0xfffe);
  // Queries leave on the tool's own schedule; several can wait for their answers at once (each
  // exchange is its own activity), so the query rate is the drawn one whatever the latency.
  for (let t = inc.start, seq = 0; t < inc.end; seq++) {
    const qtype = qtypes[seq % qtypes.length];
    const data = r.bytes(burst ? r.int(60, 150) : r.int(8, 110));
    const name = tunnelName(tool, r, domain, data, seq, session, encoding);
    const rcode = world.noise.resolverDown(t) ? RCODE.SERVFAIL : RCODE.NOERROR;
    yield t;
    world.sched.spawn(tracked(inc, asProc(dnsExchange(world, dev, t, RESOLVER, name, QTYPE[qtype], tunnelAnswer(qtype, r, domain), rcode, Math.round(r.uniform(20e3, 150e3))))));
    t += Math.max(1e3, Math.round(r.exp(meanGap)));
  }
}

function* asProc(sub: Generator<number, unknown, void>): Proc {
  yield* sub;
}

/** Runs `p` as part of `inc`, noting the time of each packet it sends (the label's end covers them all). */
export function* tracked(inc: Incident, p: Proc): Proc {
  for (let r = p.next(); !r.done; r = p.next()) {
    yield r.value;
    inc.last = Math.max(inc.last, r.value);
  }
}

// ---------------------------------------------------------------------------------------------
// beacon

/** The sleep before the next check-in: S·(1 ± J) uniform (PoshC2, Empire) or S·(1 − U(0, J)) (Cobalt Strike). */
function sleep(r: Rand, period: number, jitter: number, model: string): number {
  return Math.round(model === 'cobalt' ? period * (1 - jitter * r.float()) : period * (1 + jitter * (2 * r.float() - 1)));
}

function* beacon(world: World, inc: Incident): Proc {
  const dev = inc.dev;
  const p = inc.params;
  const r = new Rand(subSeed(Number(p.seed), 12));
  const period = Number(p.period_s) * SEC, jitter = Number(p.jitter), model = String(p.jitter_model);
  const addr = Number(p.address_n), port = Number(p.port);
  const variant = String(p.variant);
  const [net, radio] = delays(r);
  let t = inc.start;
  if (variant === 'persistent') {
    const c = new Conn(world, dev, addr, port, net, radio);
    t = yield* handshake(c, t);
    t = yield* tlsHandshake(c, t, null);
    t = yield* roundTrip(c, t + 5e3, tlsMsg(r.int(60, 200) + TLS_OVERHEAD), tlsMsg(r.int(40, 120) + TLS_OVERHEAD)); // registration
    // The implant's timer runs from check-in to check-in (the period is start to start).
    for (let mark = t; ;) {
      const next = mark + sleep(r, period, jitter, model);
      if (next + 5 * SEC >= inc.end) break;
      t = Math.max(next, t + 1e3);
      mark = t;
      const task = r.chance(0.05);
      t = yield* roundTrip(c, t, tlsMsg(r.int(8, 60) + TLS_OVERHEAD), tlsMsg((task ? r.int(200, 1400) : r.int(8, 90)) + TLS_OVERHEAD));
      if (task) t = yield* transfer(c, t + Math.round(r.uniform(0.2, 3) * SEC), true, r.int(100, 3000) + TLS_OVERHEAD, 1e6, true);
    }
    yield* close(c, Math.max(t + SEC, inc.end - 2 * SEC), true);
    return;
  }
  const sni = String(p.sni);
  for (let first = true; ; first = false) {
    if (!first) t += sleep(r, period, jitter, model);
    if (t + 10 * SEC >= inc.end) break;
    let at = t;
    if (variant === 'dns') {
      // getaddrinfo() without a cache: one A query per check-in (DIGEST A2, slips cc-2: a query ≤ 1 ms before each connection).
      if (world.noise.resolverDown(at)) { yield* dnsExchange(world, dev, at, RESOLVER, sni, QTYPE.A, [], RCODE.SERVFAIL, 2e3); continue; }
      at = (yield* dnsExchange(world, dev, at, RESOLVER, sni, QTYPE.A, [{ type: 'A', ttl: Number(p.dns_ttl), addr }], RCODE.NOERROR, Math.round(r.uniform(5e3, 80e3)))) + 800;
    }
    const c = new Conn(world, dev, addr, port, net, radio);
    let u = yield* handshake(c, at);
    u = yield* tlsHandshake(c, u, sni);
    u = yield* transfer(c, u + 2e3, true, r.int(1500, 1900), 2e6, true);
    u = yield* transfer(c, u + net, false, r.int(2500, 6000), 8e6, true);
    yield* close(c, u + 20e3, true);
  }
}

// ---------------------------------------------------------------------------------------------
// exfiltration

function* exfiltration(world: World, inc: Incident): Proc {
  const dev = inc.dev;
  const p = inc.params;
  const r = new Rand(subSeed(Number(p.seed), 13));
  const total = Number(p.bytes), files = Number(p.connections), bps = Number(p.rate_bps);
  const addr = Number(p.address_n), port = Number(p.port);
  const name = p.variant === 'by-name' ? String(p.destination) : null;
  const span = inc.end - inc.start - 30 * SEC;
  let t = inc.start, sent = 0;
  for (let i = 0; i < files; i++) {
    const bytes = i === files - 1 ? total - sent : Math.round(total / files * r.uniform(0.6, 1.4));
    sent += bytes;
    const slot = inc.start + Math.round((span * i) / files);
    t = Math.max(t, slot);
    if (name !== null) t = (yield* dnsExchange(world, dev, t, RESOLVER, name, QTYPE.A, [{ type: 'A', ttl: 300, addr }], RCODE.NOERROR, Math.round(r.uniform(10e3, 90e3)))) + 500;
    const [net, radio] = delays(r);
    const c = new Conn(world, dev, addr, port, net, radio);
    t = yield* handshake(c, t);
    t = yield* tlsHandshake(c, t, name);
    t = yield* transfer(c, t + 2e3, true, bytes, bps, true);
    t = yield* transfer(c, t + net, false, 200 + TLS_OVERHEAD, 4e6, true);
    t = yield* close(c, t + 20e3, true);
  }
}

// ---------------------------------------------------------------------------------------------
// flood

/**
 * A random destination port, but never one the collector takes for a mirror tunnel (VXLAN 4789 and
 * 8472, Geneve 6081): a flood packet from or to them would be decapsulated as if it carried a mirrored frame,
 * which says more about port-guessed tunnels than about the incident.
 */
function randomPort(r: Rand, lo = 1): number {
  for (;;) {
    const p = r.int(lo, 65535);
    if (p !== 4789 && p !== 8472 && p !== 6081) return p;
  }
}

function* flood(world: World, inc: Incident): Proc {
  const dev = inc.dev;
  const p = inc.params;
  const r = new Rand(subSeed(Number(p.seed), 14));
  const victim = Number(p.victim_n), pps = Number(p.pps), size = Number(p.payload_bytes);
  const fixedDport = p.dport === 'random' ? -1 : Number(p.dport);
  const variant = String(p.variant);
  const sport0 = randomPort(r, 1024);
  const gap = SEC / pps;
  for (let t = inc.start, k = 0; t < inc.end; k++) {
    const at = Math.round(t);
    yield at;
    if (dev.online(at)) {
      const dport = fixedDport >= 0 ? fixedDport : randomPort(r);
      if (variant === 'syn') world.w.tcp(at, dev.ip, victim, r.int(1024, 65535), dport, TCP_SYN, r.u32(), 0, r.u32() & 0xffff, 0, 0, null, SYN_OPTS, r.u32() & 0xffff, true);
      else world.w.udp(at, dev.ip, victim, variant === 'udpplain' ? sport0 : randomPort(r, 1024), dport, PAY_FILL, size);
    }
    t += gap * r.uniform(0.8, 1.2);
  }
}

// ---------------------------------------------------------------------------------------------
// Planning

interface Draft {
  type: IncidentType;
  /** Index among incidents of its type: picks the variant and the stratum of its rate. */
  i: number;
  early: boolean;
}

export interface PlanOptions {
  seed: number;
  start: number;
  end: number;
  learningEnd: number;
  perType: number;
  interval: number;
  ranges: IncidentRanges;
}

/**
 * Draws the incidents and places them: one device each while devices last (never two at once on a
 * device), after the learning period, start times spread over the rest of the run and devices taken
 * from every class in turn, avoiding the device's own offline periods and its site's outages. The
 * first incidents of scan, dns-tunnel and flood go to devices that join mid-run, starting within
 * their first 10 minutes.
 */
export function planIncidents(o: PlanOptions, devices: readonly Device[], cloud: Cloud, noise: NoisePlan): Incident[] {
  const r = new Rand(subSeed(o.seed, 6));
  const drafts: Draft[] = [];
  for (const type of INCIDENT_TYPES) for (let i = 0; i < o.perType; i++) drafts.push({ type, i, early: false });
  const joiners = devices.filter((d) => d.joined);
  const earlyTypes: IncidentType[] = ['scan', 'dns-tunnel', 'flood'];
  earlyTypes.forEach((type, k) => {
    const d = drafts.find((x) => x.type === type && x.i === 0);
    if (d && k < joiners.length) d.early = true;
  });

  const busy = new Map<Device, [number, number][]>();
  const free = (d: Device, s: number, e: number): boolean => {
    if (d.offlineDuring(s - MIN, e + MIN)) return false;
    for (const out of noise.outages) if (out.group === d.group && out.start < e && s < out.end) return false;
    return !(busy.get(d) ?? []).some(([a, b]) => a < e && s < b);
  };
  const byClass = new Map<DeviceClass, Device[]>(CLASSES.map((c) => [c, r.shuffle(devices.filter((d) => d.cls === c && !d.joined))]));
  const classOrder = r.shuffle([...CLASSES]);
  const late = r.shuffle(drafts.filter((d) => !d.early));
  const out: Incident[] = [];
  let nextJoiner = 0, turn = 0;
  const span = o.end - o.learningEnd;

  for (const d of drafts.filter((x) => x.early)) {
    for (; nextJoiner < joiners.length; nextJoiner++) {
      const dev = joiners[nextJoiner];
      const inc = draw(d, dev, toMs(dev.joinUs + r.uniform(2, 9) * MIN), o, r, cloud);
      if (inc.end > o.end || !free(dev, inc.start, inc.end)) continue;
      busy.set(dev, [[inc.start, inc.end]]);
      out.push(inc);
      nextJoiner++;
      break;
    }
    if (!out.some((x) => x.type === d.type)) {
      d.early = false; // no joiner could take it: placed after learning like the others
      late.push(d);
    }
  }
  late.forEach((d, slot) => {
    for (let attempt = 0; attempt < 200; attempt++) {
      const cls = classOrder[(turn + attempt) % classOrder.length];
      const pool = byClass.get(cls)!;
      if (pool.length === 0) continue;
      const dev = pool[(Math.floor(turn / classOrder.length) + attempt) % pool.length];
      const probe = draw(d, dev, 0, o, new Rand(subSeed(o.seed, 7, slot)), cloud);
      const dur = probe.end - probe.start;
      const lo = o.learningEnd, hi = Math.max(lo, o.end - dur - 5 * MIN);
      const start = toMs(lo + ((slot + new Rand(subSeed(o.seed, 8, slot, attempt)).float()) / late.length) * (hi - lo) * 0.999);
      if (start + dur > o.end || !free(dev, start, start + dur)) continue;
      const inc = draw(d, dev, start, o, new Rand(subSeed(o.seed, 7, slot)), cloud);
      busy.set(dev, [...(busy.get(dev) ?? []), [inc.start, inc.end]]);
      if (busy.get(dev)!.length === 1 && pool.length > 1) pool.splice(pool.indexOf(dev), 1);
      out.push(inc);
      turn++;
      return;
    }
    throw new Error(`could not place a ${d.type} incident in ${Math.round(span / HOUR)} h after learning: too few devices or too short a run`);
  });
  out.sort((a, b) => a.start - b.start || (a.type < b.type ? -1 : 1));
  out.forEach((inc, k) => { inc.id = `inc-${String(k + 1).padStart(3, '0')}`; });
  return out;
}

/** The incident's parameters, duration and detail for a start time (drawn from `r`; same r, same draw). */
function draw(d: Draft, dev: Device, start: number, o: PlanOptions, r: Rand, cloud: Cloud): Incident {
  const R = o.ranges, K = o.perType;
  const minDur = 2 * o.interval * SEC;
  const seed = r.u32();
  const base = { id: '', type: d.type, dev, start, last: 0 };
  const left = o.end - (start || o.learningEnd);
  switch (d.type) {
    case 'scan': {
      const variants = ['telnet', 'slow', 'ssh', 'telnet'] as const;
      const variant = variants[d.i % 4];
      const slow = variant === 'slow';
      const isFast = (j: number): boolean => variants[j % 4] !== 'slow';
      const fastIdx = Array.from({ length: d.i }, (_, j) => j).filter(isFast).length;
      const fastN = Math.max(1, Array.from({ length: K }, (_, j) => j).filter(isFast).length);
      // The first fast scan runs at 2–3 SYN/s, the low end the issue asks for; the others span the range.
      const rate = slow ? r.uniform(R.scanSlowRate[0], R.scanSlowRate[1])
        : fastIdx === 0 ? r.uniform(R.scanRate[0], Math.min(R.scanRate[1], R.scanRate[0] * 1.5))
          : stratifiedLog(r, fastIdx, fastN, R.scanRate[0], R.scanRate[1]);
      let dur = slow ? r.uniform(R.scanSlowHours[0], R.scanSlowHours[1]) * HOUR : r.uniform(R.scanMinutes[0], R.scanMinutes[1]) * MIN;
      dur = Math.max(minDur, Math.min(dur, (R.scanMaxSyns / rate) * SEC, left * 0.5));
      const ports = variant === 'telnet' ? [23, 2323] : variant === 'ssh' ? [22, 2222] : [...new Set(SLOW_PORTS)];
      const params: Params = {
        variant, rate_per_s: round(rate), duration_s: Math.round(dur / SEC), ports,
        rst_fraction: round(r.uniform(0.005, 0.05)), open_fraction: round(r.uniform(0.0005, 0.004), 4),
        source_port: variant === 'telnet' ? r.int(1024, 65535) : 0, pacing: variant === 'telnet' ? 'per-second burst' : 'poisson', seed,
      };
      return { ...base, end: start + toMs(dur), params, proc: scan,
        detail: `${variant === 'telnet' ? 'Mirai-like raw-socket telnet sweep' : variant === 'ssh' ? 'SSH sweep' : 'slow multi-port scan'} of random public IPv4 addresses at ${round(rate, 2)} SYN/s on ${ports.join('/')}` };
    }
    case 'dns-tunnel': {
      const mode = d.i % 3 === 2 ? 'burst' : 'slow';
      const tool = TUNNEL_TOOLS[(d.i + (o.seed & 3)) % TUNNEL_TOOLS.length];
      const qtypes = r.pick(TOOL_QTYPES[tool]);
      const encoding = tool === 'iodine' ? r.pick(['base32', 'base32', 'base64']) : tool === 'dnscat2' ? 'hex' : tool === 'sods' ? 'base32' : 'base64';
      const sub = tool === 'iodine' ? `${r.pick(['t', 'i', 'd'])}${r.int(1, 9)}.` : tool === 'sods' ? 'tun.' : tool === 'dns2tcp' ? 'dns2tcp.' : '';
      const domain = `${sub}${attackerDomain(r)}`;
      const isBurst = (j: number): boolean => j % 3 === 2;
      const count = (n: number, f: (j: number) => boolean): number => Array.from({ length: n }, (_, j) => j).filter(f).length;
      const burstN = Math.max(1, count(K, isBurst)), slowN = Math.max(1, count(K, (j) => !isBurst(j)));
      const idx = count(d.i, (j) => isBurst(j) === (mode === 'burst'));
      let dur: number;
      const params: Params = { tool, mode, domain, qtypes, encoding, max_label: tool === 'iodine' ? 57 : 63, resolver: ipText(RESOLVER), seed };
      if (mode === 'slow') {
        const perHour = stratifiedLog(r, idx, slowN, R.tunnelPerHour[0], R.tunnelPerHour[1]);
        dur = Math.max(minDur, Math.min(r.uniform(R.tunnelHours[0], R.tunnelHours[1]) * HOUR, left * 0.5));
        params.queries_per_hour = round(perHour, 1);
      } else {
        const perSec = stratifiedLog(r, idx, burstN, R.tunnelBurstPerSec[0], R.tunnelBurstPerSec[1]);
        dur = Math.max(minDur, r.uniform(R.tunnelBurstMinutes[0], R.tunnelBurstMinutes[1]) * MIN);
        params.queries_per_s = round(perSec, 2);
      }
      params.duration_s = Math.round(dur / SEC);
      const rate = mode === 'slow' ? `${params.queries_per_hour} queries/h` : `${params.queries_per_s} queries/s`;
      return { ...base, end: start + toMs(dur), params, proc: dnsTunnel,
        detail: `${tool}-style DNS tunnel (${encoding} labels, ${qtypes.join('/')}) under ${domain} through the usual resolver at ${rate}` };
    }
    case 'beacon': {
      const variant = (['persistent', 'per-connection-sni', 'dns'] as const)[d.i % 3];
      let period = stratifiedLog(r, d.i, K, R.beaconPeriodSec[0], R.beaconPeriodSec[1]);
      const contacts = r.int(R.beaconContacts[0], R.beaconContacts[1]);
      period = Math.min(period, (left * 0.6) / SEC / contacts);
      const jitter = r.uniform(R.beaconJitter[0], R.beaconJitter[1]);
      const model = r.chance(0.5) ? 'symmetric' : 'cobalt';
      const dur = Math.max(minDur, Math.max(3 * HOUR, (contacts + 1) * period * SEC));
      const addr = cloud.fresh(r, ATTACKER_BLOCKS);
      const domain = attackerDomain(r);
      const params: Params = {
        variant, period_s: round(period, 2), jitter: round(jitter), jitter_model: model, address: ipText(addr), address_n: addr,
        port: variant === 'persistent' ? r.pick([443, 8443, 4443]) : 443, sni: variant === 'persistent' ? '' : domain,
        dns: variant === 'dns', dns_ttl: r.pick([60, 300]), duration_s: Math.round(Math.min(dur, left * 0.9) / SEC), seed,
      };
      const how = variant === 'persistent' ? 'one persistent TLS session, no DNS, no SNI' : variant === 'dns' ? `a DNS look-up of ${domain} and a TLS connection (SNI) per check-in` : `a TLS connection per check-in with SNI ${domain}, no DNS`;
      return { ...base, end: start + toMs(Math.min(dur, left * 0.9)), params, proc: beacon,
        detail: `C2 beacon to ${ipText(addr)}:${params.port} every ${round(period, 1)} s ± ${Math.round(jitter * 100)} % (${model} jitter) over ${how}` };
    }
    case 'exfiltration': {
      const variant = d.i % 2 === 0 ? 'by-name' : 'by-address';
      const bytes = Math.round(stratifiedLog(r, d.i, K, R.exfilMB[0], R.exfilMB[1]) * 1e6);
      const strata = r.shuffle(Array.from({ length: K }, (_, k) => k));
      let dur = stratifiedLog(r, strata[d.i], K, R.exfilMinutes[0], R.exfilMinutes[1]) * MIN;
      dur = Math.max(minDur, Math.min(dur, left * 0.5));
      const files = Math.max(1, Math.min(40, Math.round(bytes / (r.uniform(1, 10) * 1e6))));
      const bps = Math.min(20e6, Math.max(0.25e6, (bytes * 8 * SEC) / (dur * 0.6)));
      dur = Math.max(dur, (bytes * 8 * SEC / bps) * 1.25 + files * 5 * SEC);
      const addr = cloud.fresh(r, ATTACKER_BLOCKS);
      const destination = variant === 'by-name' ? `${r.pick(['files', 'up', 'drop', 'share', 'store'])}.${attackerDomain(r)}` : ipText(addr);
      const params: Params = { variant, bytes, duration_s: Math.round(dur / SEC), rate_bps: Math.round(bps), connections: files, destination, address: ipText(addr), address_n: addr, port: r.pick([443, 443, 8443]), seed };
      return { ...base, end: start + toMs(dur), params, proc: exfiltration,
        detail: `${round(bytes / 1e6, 1)} MB uploaded over TLS in ${files} connection(s) to ${destination}, new to the device and the fleet, over ${Math.round(dur / MIN)} min` };
    }
    case 'flood': {
      const variant = (['udp', 'syn', 'udpplain'] as const)[d.i % 3];
      const pps = stratifiedLog(r, d.i, K, R.floodPps[0], R.floodPps[1]);
      const dur = Math.max(minDur, r.uniform(R.floodMinutes[0], R.floodMinutes[1]) * MIN);
      const victim = randomPublicAddress(r, cloud);
      const dport: number | string = variant === 'udp' ? 'random' : variant === 'syn' ? r.pick([80, 443, 'random'] as (number | string)[]) : r.pick([53, 80, 123, 3074, 27015]);
      const size = variant === 'syn' ? 0 : r.chance(0.7) ? 512 : r.int(64, 1400);
      const params: Params = { variant, pps: round(pps, 1), duration_s: Math.round(dur / SEC), victim: ipText(victim), victim_n: victim, dport, payload_bytes: size, seed };
      return { ...base, end: start + toMs(dur), params, proc: flood,
        detail: `Mirai-style ${variant} flood of ${ipText(victim)} (port ${dport}) at ${Math.round(pps)} packets/s, one-way` };
    }
  }
}

// The device classes and their normal behaviour. Each class is a few activities (sched.ts) started
// when the device appears. Rates are kept to what such devices really send (a meter a few hundred
// packets an hour), with the shapes measured on real devices (DIGEST = /tmp/realiot-study/DIGEST.md):
//
// - meter: one MQTT session in TLS to an AWS-IoT-like broker by name (8 A records per answer,
//   TTL 60, new addresses each day, DIGEST A4 schlage), PINGREQ every 60 or 300 s, a reading
//   PUBLISHed every 15 minutes (missed ones sent as a backlog after a reconnect), SNTP every 4 h,
//   a daily update check. Reconnects like a Linux stack; on SERVFAIL asks again every 0.63 s (DIGEST A5).
// - lock: plain MQTT on 1883 to one broker address behind a 10 s TTL (DIGEST A2/A4 lockly) with a
//   31-byte message up and down every 60.000 s (MAD 1–2 ms), sessions of 1.4–27 h ended by a device
//   RST, a daily API call (schlage: one HTTPS connection a day, MAD < 1 s) and daily NTP by name;
//   reconnects exactly like the sifely hub (SYN + 3 retransmissions, attempts every 3.305 s) and
//   alternates with a hard-coded public resolver on SERVFAIL (DIGEST A1, A5).
// - tracker: CoAP confirmable POSTs (RFC 7252) to its server by name, every 1–5 min while moving, every
//   30–60 min parked; coverage gaps of 10–120 min, then the stored reports in a burst (NSTART 1).
// - camera: a TLS control session (keep-alive 30–60 s) and motion clips of 0.3–4 MB uploaded over TLS to
//   a CDN name whose addresses rotate (CNAME to an edge name), more by day; hourly SNTP.
// - gateway: several HTTPS APIs by name polled every 5–60 minutes (a new TLS connection each time,
//   A and AAAA look-ups honouring TTLs of 5–300 s: many DNS queries), ntpd on four pool servers
//   (port 123, poll 64 s doubling to 1024 s), RFC 5424 syslog over UDP to the operator's collector.
// - every class: a daily update check to its usual firmware server, and its part of firmware waves.
// - a device that joins mid-run first does what the set-up captures show (DIGEST C: Hue, D-Link,
//   WeMo): SSDP M-SEARCH to 239.255.255.250, mDNS to 224.0.0.251, look-ups of several names incl.
//   connectivity checks, NTP; then its normal behaviour.

import {
  close, connect, Conn, delays, httpsCall, lookup, plainMsg, reset, roundTrip, syncClock, ntpExchange, tlsHandshake,
  tlsMsg, transfer, type DnsPolicy, type Msg, type ReconnectPolicy, type Target, type World,
} from './behaviour.js';
import { SERVICES, SETUP_SERVICES, SYSLOG_COLLECTOR } from './cloud.js';
import type { Device, DeviceClass } from './fleet.js';
import { mdnsQuery, mqttConnack, mqttConnect, mqttPublish, QTYPE, ssdpSearch, syslogLine, coapPost, coapAck } from './payloads.js';
import type { Proc, Sub } from './sched.js';
import { DAY, HOUR, MIN, SEC, TLS_OVERHEAD } from './units.js';
import { ip4, PAY_BYTES, PAY_TLS, TCP_ACK, TCP_PSH } from './wire.js';
import { iso } from './labels.js';

const svc = (cls: DeviceClass, role: string): Target => {
  const s = SERVICES[cls].find((x) => x.role === role);
  if (!s) throw new Error(`no ${role} service for ${cls}`);
  return { name: s.name, port: s.port };
};

const DNS: Record<DeviceClass, DnsPolicy> = {
  meter: { cache: false, retry: 'fast', aaaa: false },
  lock: { cache: false, retry: 'alternate', aaaa: false },
  tracker: { cache: true, retry: 'backoff', aaaa: false },
  camera: { cache: false, retry: 'backoff', aaaa: true },
  gateway: { cache: true, retry: 'fast', aaaa: true },
};
const RECONNECT: Record<DeviceClass, ReconnectPolicy> = { meter: 'linux', lock: 'sifely', tracker: 'linux', camera: 'linux', gateway: 'linux' };
/** Sites' local time: readings and clips follow the day there (UTC+1). */
const TZ_HOURS = 1;

/** The next time ≥ t at `secOfDay` seconds after midnight UTC. */
function dailyAt(t: number, secOfDay: number): number {
  const day = Math.floor(t / DAY) * DAY;
  const at = day + secOfDay * SEC;
  return at >= t ? at : at + DAY;
}

function localHour(t: number): number {
  return ((t / HOUR + TZ_HOURS) % 24 + 24) % 24;
}

// ---------------------------------------------------------------------------------------------
// Long sessions (meters, locks, camera control)

interface SessionSpec {
  target: Target;
  /** TLS with this SNI (null: plain TCP). */
  tls: { sni: string | null; alpn: string | null } | null;
  keepalive: number;
  /** Fixed period (±2 ms, the lock hub's 60.000 s) instead of ±1 %. */
  exact: boolean;
  ping: [Msg, Msg];
  hello: [Msg, Msg];
  lifetimeH: [number, number];
  policy: ReconnectPolicy;
  dns: DnsPolicy;
  /** Periodic reports in the session: every `every` µs from `offset` past the hour, `size` bytes up, `ack` down. */
  report: { every: number; offset: number; size: [number, number]; ack: number } | null;
}

function* session(world: World, dev: Device, s: SessionSpec, t: number, openAtStart: boolean): Proc {
  const r = dev.rng;
  let c: Conn | null = null;
  let first = true;
  if (openAtStart) {
    // The capture opens in the middle of a session that began before it (DIGEST A4: all three
    // week-long captures do): keep-alives to an address whose DNS answer is not in the capture.
    const res = world.cloud.resolve(s.target.name, t);
    const [net, radio] = delays(r);
    c = new Conn(world, dev, res.addrs[r.int(0, res.addrs.length - 1)], s.target.port, net, radio);
  }
  const rep = s.report;
  let nextRep = rep ? Math.ceil((t - rep.offset) / rep.every) * rep.every + rep.offset : Infinity;
  let pending = 0;
  const reading = (): Msg => tlsMsg(r.int(rep!.size[0], rep!.size[1]) + TLS_OVERHEAD);
  for (;;) {
    if (c === null) {
      const o = yield* connect(world, dev, s.target, t, s.policy, s.dns);
      c = o.c;
      t = o.t;
      if (s.tls) t = yield* tlsHandshake(c, t, s.tls.sni, s.tls.alpn);
      t = yield* roundTrip(c, t + 2e3, s.hello[0], s.hello[1]);
      while (nextRep <= t) { pending++; nextRep += rep!.every; }
      for (pending = Math.min(pending, 96); pending > 0; pending--) t = yield* roundTrip(c, t + r.uniform(50e3, 200e3), reading(), tlsMsg(rep!.ack));
    }
    const live: Conn = c;
    const lifeEnd = t + Math.round(r.uniform(s.lifetimeH[0], s.lifetimeH[1]) * HOUR);
    let nextPing = first && openAtStart ? t + Math.round(r.float() * s.keepalive) : t + s.keepalive;
    first = false;
    let dis = world.noise.nextDisruption(dev, s.target.name, t);
    let ended = false;
    while (!ended) {
      const stop = Math.min(lifeEnd, dis ? dis.at : Infinity);
      const next = Math.min(nextPing, nextRep);
      if (next < stop) {
        if (nextRep <= nextPing) {
          t = yield* roundTrip(live, Math.max(nextRep + r.int(0, 40e3), t + 1e3), reading(), tlsMsg(rep!.ack));
          nextRep += rep!.every;
        } else {
          t = yield* roundTrip(live, Math.max(nextPing, t + 1e3), s.ping[0], s.ping[1]);
          nextPing += s.exact ? s.keepalive + Math.round(r.uniform(-2e3, 2e3)) : Math.round(r.jitter(s.keepalive, 0.01));
        }
        continue;
      }
      if (stop === lifeEnd) {
        // Sessions end by a device RST followed by a reconnect (DIGEST A2: lockly 12 of 17, sifely 55 of 73).
        t = yield* reset(live, Math.max(stop, t + 1e3), true);
        t += Math.round(r.uniform(0.5, 3) * SEC);
        c = null;
        ended = true;
        continue;
      }
      switch (dis!.kind) {
        case 'outage': // the link is down: the session dies unseen; the device reconnects 2–3 s after it is back (DIGEST A1)
          t = dev.onlineFrom(dis!.at) + Math.round(r.uniform(2, 3) * SEC);
          c = null;
          ended = true;
          break;
        case 'reboot':
          t = dev.onlineFrom(dis!.at) + Math.round(r.uniform(5, 20) * SEC);
          c = null;
          ended = true;
          break;
        case 'move': // the old endpoint goes away and resets the session; the device looks the name up again
          t = yield* reset(live, Math.max(dis!.at, t + 1e3), false);
          t += Math.round(r.uniform(1, 30) * SEC);
          c = null;
          ended = true;
          break;
        case 'upstream': {
          // The path is broken: the next keep-alive goes unanswered, is retransmitted (RTO 0.3 s doubling),
          // and the client gives up half a keep-alive period later — unless the path is back by then.
          const tp = Math.max(nextPing, t + 1e3);
          if (world.noise.cloudReachable(dev.group, tp)) { dis = world.noise.nextDisruption(dev, s.target.name, dis!.at); break; }
          const ping = s.ping[0];
          yield tp; live.up(tp, TCP_ACK | TCP_PSH, ping.bytes ? PAY_BYTES : PAY_TLS, ping.len, ping.bytes);
          let rto = 0.3 * SEC, tr = tp;
          for (let k = 0; k < 4; k++) { tr += rto; rto *= 2; yield tr; live.upAgain(tr, ping.bytes ? PAY_BYTES : PAY_TLS, ping.len, ping.bytes); }
          t = Math.max(tr, tp + s.keepalive / 2);
          c = null;
          ended = true;
          break;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Small periodic jobs every class has

/** A job once a day at the same second (±1 s: DIGEST A2, schlage's daily call has a MAD of 0.93 s). */
function* everyDay(world: World, dev: Device, t: number, secOfDay: number, job: (t: number) => Sub<number>): Proc {
  let last = t;
  for (let day = dailyAt(t + SEC, secOfDay); ; day += DAY) {
    const at = Math.max(last, dev.onlineFrom(day + Math.round(dev.rng.uniform(-1, 1) * SEC)));
    yield at;
    last = yield* job(at);
  }
}

function* updateCheck(world: World, dev: Device, t: number): Proc {
  const fw = svc(dev.cls, 'fw');
  yield* everyDay(world, dev, t, dev.rng.int(0, 86399), (at) => httpsCall(world, dev, at, fw, 350, 600, RECONNECT[dev.cls], DNS[dev.cls]));
}

function* firmware(world: World, dev: Device): Proc {
  const job = world.noise.firmwareJob(dev);
  if (!job) return;
  const fw = svc(dev.cls, 'fw');
  yield job.start;
  const { t, c } = yield* connect(world, dev, fw, job.start, RECONNECT[dev.cls], DNS[dev.cls]);
  let u = yield* tlsHandshake(c, t, fw.name);
  u = yield* transfer(c, u + 1e3, true, 420, 2e6, true);
  u = yield* transfer(c, u + c.net, false, job.bytes, job.bps, true);
  yield* close(c, u + 20e3, true);
}

function* sntpEvery(world: World, dev: Device, t: number, period: number, name: string): Proc {
  for (let at = t + Math.round(dev.rng.float() * period); ; at += Math.round(dev.rng.jitter(period, 0.05))) {
    yield at;
    if (!dev.online(at)) continue;
    at = Math.max(at, yield* syncClock(world, dev, at, name, DNS[dev.cls]));
  }
}

// ---------------------------------------------------------------------------------------------
// Classes

function meter(world: World, dev: Device, t: number, open: boolean): void {
  const r = dev.rng;
  const broker = svc('meter', 'broker');
  world.sched.spawn(session(world, dev, {
    target: broker, tls: { sni: broker.name, alpn: null }, keepalive: (r.chance(0.6) ? 60 : 300) * SEC, exact: false,
    ping: [tlsMsg(2 + TLS_OVERHEAD), tlsMsg(2 + TLS_OVERHEAD)], hello: [tlsMsg(r.int(90, 140) + TLS_OVERHEAD), tlsMsg(4 + TLS_OVERHEAD)],
    lifetimeH: [1, 48], policy: 'linux', dns: DNS.meter,
    report: { every: 15 * MIN, offset: r.int(0, 899) * SEC, size: [180, 420], ack: 4 + TLS_OVERHEAD },
  }, t, open));
  world.sched.spawn(sntpEvery(world, dev, t, 4 * HOUR, svc('meter', 'ntp').name));
}

function lock(world: World, dev: Device, t: number, open: boolean): void {
  const r = dev.rng;
  const id = `hub${dev.imsi.slice(-8)}`;
  const beat = mqttPublish(`hb/${id.slice(-6)}`, '{"s":1,"b":97}'.padEnd(18, ' ')); // 31 bytes up and down, as the lock hub's
  world.sched.spawn(session(world, dev, {
    target: svc('lock', 'broker'), tls: null, keepalive: 60 * SEC, exact: true,
    ping: [plainMsg(beat), plainMsg(beat)], hello: [plainMsg(mqttConnect(id, 60)), plainMsg(mqttConnack())],
    lifetimeH: [1.4, 27], policy: 'sifely', dns: DNS.lock, report: null,
  }, t, open));
  const api = svc('lock', 'api');
  world.sched.spawn(everyDay(world, dev, t, r.int(0, 86399), (at) => httpsCall(world, dev, at, api, 600, 1500, 'sifely', DNS.lock)));
  const ntp = svc('lock', 'ntp').name;
  world.sched.spawn(everyDay(world, dev, t, r.int(0, 86399), (at) => syncClock(world, dev, at, ntp, DNS.lock)));
}

function* tracker(world: World, dev: Device, t: number): Proc {
  const r = dev.rng;
  const coap = svc('tracker', 'coap');
  const sport = dev.nextPort();
  let msgId = r.u32() & 0xffff;
  const token = r.u32();
  // Trips: two a day, of 1–3 h, in daytime; reports every 1–5 min moving, 30–60 min parked.
  const movingEvery = r.int(60, 300) * SEC, parkedEvery = r.int(1800, 3600) * SEC;
  const tripStart = [r.uniform(6, 10), r.uniform(15, 19)], tripLen = [r.uniform(1, 3), r.uniform(1, 3)];
  const moving = (u: number): boolean => {
    const h = localHour(u);
    return tripStart.some((s, i) => h >= s && h < s + tripLen[i]);
  };
  let backlog = 0;
  const report = function* (u: number): Sub<number> {
    const res = yield* lookup(world, dev, coap.name, u, DNS.tracker);
    u = res.t + 300;
    const server = res.addrs[0];
    const [net] = delays(r);
    msgId = (msgId + 1) & 0xffff;
    const post = coapPost(msgId, token, 'r/pos', r.int(24, 96), r);
    yield u;
    if (dev.online(u)) world.w.udp(u, dev.ip, server, sport, coap.port, PAY_BYTES, post.length, post);
    u += net;
    if (!world.noise.cloudReachable(dev.group, u)) return u;
    const ack = coapAck(msgId, token);
    yield u;
    if (dev.online(u)) world.w.udp(u, server, dev.ip, coap.port, sport, PAY_BYTES, ack.length, ack);
    return u;
  };
  for (let at = t + Math.round(r.float() * parkedEvery); ;) {
    if (!dev.online(at)) {
      // Out of coverage: reports are kept and sent as soon as the device is attached again.
      const gapStart = at;
      const back = dev.onlineFrom(at);
      for (; at < back; at += moving(at) ? movingEvery : parkedEvery) backlog++;
      let u = back + Math.round(r.uniform(5, 30) * SEC);
      const burstStart = u;
      const n = backlog;
      for (; backlog > 0; backlog--) u = (yield* report(u)) + Math.round(r.uniform(20e3, 150e3));
      world.benign.push({ kind: 'backlog-burst', device_id: dev.id, start: burstStart, end: u, detail: `${n} stored CoAP reports sent after a ${Math.round((back - gapStart) / MIN)}-minute coverage gap` });
      at = Math.max(at, u + 1e3);
      continue;
    }
    const u = yield* report(at);
    at = Math.max(u + 1e3, at + Math.round(r.jitter(moving(at) ? movingEvery : parkedEvery, 0.03)));
  }
}

function* cameraClips(world: World, dev: Device, t: number): Proc {
  const r = dev.rng;
  const ingest = svc('camera', 'ingest');
  const perDay = r.uniform(2, 12);
  const bps = r.logUniform(1e6, 6e6);
  // Motion events: Poisson, thinned by time of day (busy 07–21 local, quiet at night).
  const peak = perDay / 24 * 1.6;
  for (let at = t; ;) {
    at += Math.round(r.exp(HOUR / peak));
    const h = localHour(at);
    if (!r.chance(h >= 7 && h < 21 ? 1 : 0.25)) continue;
    yield at;
    if (!dev.online(at)) continue;
    const { t: t1, c } = yield* connect(world, dev, ingest, at, 'linux', DNS.camera);
    let u = yield* tlsHandshake(c, t1, ingest.name);
    u = yield* transfer(c, u + 1e3, true, Math.round(r.logUniform(0.3e6, 4e6)), r.jitter(bps, 0.2), true);
    u = yield* transfer(c, u + c.net, false, 300 + TLS_OVERHEAD, 5e6, true);
    u = yield* close(c, u + 30e3, true);
    at = Math.max(at, u);
  }
}

function camera(world: World, dev: Device, t: number, open: boolean): void {
  const r = dev.rng;
  const control = svc('camera', 'control');
  world.sched.spawn(session(world, dev, {
    target: control, tls: { sni: control.name, alpn: null }, keepalive: r.int(30, 60) * SEC, exact: false,
    ping: [tlsMsg(2 + TLS_OVERHEAD), tlsMsg(2 + TLS_OVERHEAD)], hello: [tlsMsg(r.int(100, 160) + TLS_OVERHEAD), tlsMsg(4 + TLS_OVERHEAD)],
    lifetimeH: [2, 24], policy: 'linux', dns: DNS.camera, report: null,
  }, t, open));
  world.sched.spawn(cameraClips(world, dev, t));
  world.sched.spawn(sntpEvery(world, dev, t, HOUR, svc('camera', 'ntp').name));
}

function* poll(world: World, dev: Device, t: number, target: Target, every: number, up: [number, number], down: [number, number]): Proc {
  const r = dev.rng;
  for (let at = t + Math.round(r.float() * every); ; at += Math.round(r.jitter(every, 0.1))) {
    yield at;
    if (!dev.online(at)) continue;
    const end = yield* httpsCall(world, dev, at, target, r.int(up[0], up[1]), r.int(down[0], down[1]), 'linux', DNS.gateway);
    at = Math.max(at, end);
  }
}

function* ntpd(world: World, dev: Device, t: number): Proc {
  const r = dev.rng;
  const servers: number[] = [];
  let u = t + Math.round(r.uniform(1, 10) * SEC);
  for (const role of ['ntp0', 'ntp1', 'ntp2', 'ntp3']) {
    const res = yield* lookup(world, dev, svc('gateway', role).name, u, DNS.gateway);
    servers.push(res.addrs[r.int(0, res.addrs.length - 1)]);
    u = res.t + 2e3;
  }
  // RFC 5905 §7.3 poll: from 2^6 s up to 2^10 s once the clock is stable.
  for (let poll = 64 * SEC; ; poll = Math.min(poll * 2, 1024 * SEC)) {
    for (const s of servers) {
      u = dev.onlineFrom(u);
      u = (yield* ntpExchange(world, dev, u, s, true)) + Math.round(r.uniform(0.2, 2) * SEC);
    }
    u += poll;
  }
}

function* syslog(world: World, dev: Device, t: number): Proc {
  const r = dev.rng;
  const perHour = r.uniform(4, 20);
  const apps = ['edged', 'modem', 'kernel', 'dnsmasq', 'sshd'];
  const sport = dev.nextPort();
  for (let at = t; ;) {
    at += Math.round(r.exp(HOUR / perHour));
    yield at;
    if (!dev.online(at)) continue;
    const line = syslogLine(r.pick([134, 134, 134, 132, 131]), iso(at), dev.id, r.pick(apps), `event ${r.u32().toString(16)} ok`);
    world.w.udp(at, dev.ip, SYSLOG_COLLECTOR, sport, 514, PAY_BYTES, line.length, line);
  }
}

function gateway(world: World, dev: Device, t: number): void {
  world.sched.spawn(poll(world, dev, t, svc('gateway', 'telemetry'), 5 * MIN, [400, 1400], [200, 600]));
  world.sched.spawn(poll(world, dev, t, svc('gateway', 'api'), 15 * MIN, [300, 900], [800, 4000]));
  world.sched.spawn(poll(world, dev, t, svc('gateway', 'config'), HOUR, [200, 400], [1000, 6000]));
  world.sched.spawn(poll(world, dev, t, svc('gateway', 'logs'), 30 * MIN, [2000, 20000], [300, 500]));
  world.sched.spawn(ntpd(world, dev, t));
  world.sched.spawn(syslog(world, dev, t));
}

// ---------------------------------------------------------------------------------------------
// Joining: set-up traffic, then normal life

const SSDP = ip4(239, 255, 255, 250);
const MDNS = ip4(224, 0, 0, 251);

function* setup(world: World, dev: Device, t: number): Proc {
  const r = dev.rng;
  let u = t;
  const sport = dev.nextPort();
  for (let i = 0, n = r.int(2, 5); i < n; i++) {
    const m = ssdpSearch(r.pick(['ssdp:all', 'upnp:rootdevice', 'urn:schemas-upnp-org:device:InternetGatewayDevice:1']));
    yield u; if (dev.online(u)) world.w.udp(u, dev.ip, SSDP, sport, 1900, PAY_BYTES, m.length, m);
    u += Math.round(r.uniform(0.5, 3) * SEC);
  }
  for (let i = 0, n = r.int(3, 8); i < n; i++) {
    const m = mdnsQuery([r.pick(['_hap._tcp.local', '_services._dns-sd._udp.local', '_http._tcp.local', '_matter._tcp.local'])], QTYPE.PTR);
    yield u; if (dev.online(u)) world.w.udp(u, dev.ip, MDNS, 5353, 5353, PAY_BYTES, m.length, m);
    u += Math.round(r.uniform(0.2, 4) * SEC);
  }
  const names = [...SETUP_SERVICES.map((s) => s.name), ...SERVICES[dev.cls].map((s) => s.name)];
  for (const name of names) {
    const res = yield* lookup(world, dev, name, u, { cache: false, retry: 'backoff', aaaa: r.chance(0.5) });
    u = res.t + Math.round(r.uniform(0.05, 1.5) * SEC);
  }
  u = yield* syncClock(world, dev, u, SERVICES[dev.cls].find((s) => s.role.startsWith('ntp'))!.name, DNS[dev.cls]);
  startClass(world, dev, u + Math.round(r.uniform(5, 60) * SEC), false);
}

function startClass(world: World, dev: Device, t: number, open: boolean): void {
  switch (dev.cls) {
    case 'meter': meter(world, dev, t, open); break;
    case 'lock': lock(world, dev, t, open); break;
    case 'tracker': world.sched.spawn(tracker(world, dev, t)); break;
    case 'camera': camera(world, dev, t, open); break;
    case 'gateway': gateway(world, dev, t); break;
  }
  world.sched.spawn(updateCheck(world, dev, t));
  world.sched.spawn(firmware(world, dev));
}

/** Starts a device: at the run's start in the middle of its life, or, for a joiner, with its set-up. */
export function startDevice(world: World, dev: Device): void {
  if (dev.joined) world.sched.spawn(setup(world, dev, dev.joinUs));
  else startClass(world, dev, world.start, true);
}

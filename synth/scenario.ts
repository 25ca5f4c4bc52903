// A deterministic, labeled IoT fleet as InspectionRecords, for the detection benchmark and its
// test: same options, same records, byte for byte (a seeded PRNG; no Math.random, no clock).
//
// Four device classes, each in its own group, with daily patterns and the untidiness of real
// fleets: smart meters (two regional groups; MQTT keepalives, a reading every 15 minutes, a
// daily report at a device-specific hour), trackers (CoAP position reports, frequent while moving
// in daytime; coverage gaps and a backlog flush on reconnect), cameras (motion clips of megabytes
// at random, more by day; ingest through a CDN whose address rotates), and gateways (busy office
// hours, several API endpoints, syslog, SNMP polling, many DNS lookups). All share NTP pool
// addresses and the operator's DNS resolver.
//
// Benign fleet-wide events that a naive per-device detector would flag: a cell outage with a
// reconnect storm for one meter group, an API endpoint migration for all gateways, a CDN address
// added for all cameras, and a firmware-update campaign (big downloads from the usual server).
//
// Injected incidents, each on its own device after warm-up: data-exfiltration bursts, Mirai-like
// telnet scanning, DDoS participation (UDP or SYN flood), command-and-control beaconing to a new
// address, and DNS tunnelling. Firmware updates are labeled too, as the benign case.

import { Prng } from '../net/prng.js';
import { RECORD_SCHEMA_ID, trafficStatistics, type Destination, type InspectionRecord } from '../contracts/inspection-record.js';

export const INCIDENT_TYPES = ['exfiltration', 'telnet-scan', 'ddos', 'c2-beacon', 'dns-tunnel', 'firmware-update'] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];
export const MALICIOUS_TYPES: readonly IncidentType[] = INCIDENT_TYPES.filter((t) => t !== 'firmware-update');

export interface ScenarioOptions {
  seed: number;
  devices: number;
  days: number;
  intervalSeconds: number;
  /** Midnight UTC of the first day. */
  start: string;
  /** Days before any incident: the analyzer's warm-up. */
  warmupDays: number;
  incidentsPerType: number;
  /** The collector's --top: destinations listed per record. */
  topK: number;
}

export const DEFAULT_SCENARIO: ScenarioOptions = {
  seed: 20260302,
  devices: 1000,
  days: 4,
  intervalSeconds: 300,
  start: '2026-03-02T00:00:00.000Z',
  warmupDays: 1,
  incidentsPerType: 20,
  topK: 20,
};

export interface Incident {
  type: IncidentType;
  device: string;
  group: string;
  /** Interval indexes, end exclusive. */
  start: number;
  end: number;
  detail: string;
}

export interface FleetEvent {
  kind: 'reconnect-storm' | 'endpoint-migration' | 'cdn-address-added';
  group: string;
  start: number;
  detail: string;
}

type Cls = 'meter' | 'tracker' | 'camera' | 'gateway';

interface Flow {
  ip: string;
  port: number;
  transport: 'tcp' | 'udp';
  proto: string;
  upB: number;
  upP: number;
  downB: number;
  downP: number;
  syn: number;
  synAck: number;
  rst: number;
  dns: number;
  flows: number;
  /** Distinct far ends this flow stands for (a scan sweeps thousands; they are not built one by one). */
  fanout: number;
}

interface Dev {
  index: number;
  id: string;
  ip: string;
  imsi: string;
  group: string;
  cls: Cls;
  scale: number;
  tz: number;
  phase: number;
  reportSlot: number; // meters: interval of the day of the daily report
  checkSlot: number; // interval of the day of the update check
  ntpPhase: number;
  moveStart: number;
  moveEnd: number;
  broker: string;
  coap: string;
  apis: number[];
  cdnOffset: number;
  offline: number;
  backlog: number;
  motionLeft: number;
  motionBytes: number;
  incidents: ActiveIncident[];
}

interface ActiveIncident extends Incident {
  ip: string;
  port: number;
  rate: number;
  variant: number;
}

// Addresses: documentation ranges and a few public-looking blocks, fixed so the fleet is the same for every seed.
const RESOLVER = '100.127.0.53';
const NTP_POOL = ['162.159.200.1', '162.159.200.123', '216.239.35.0', '216.239.35.4'];
const UPDATE_SERVER: Record<Cls, string> = { meter: '198.51.100.20', tracker: '198.51.100.21', camera: '198.51.100.22', gateway: '198.51.100.23' };
const METER_BROKERS = ['203.0.113.10', '203.0.113.11'];
const COAP_SERVERS = ['203.0.113.30', '203.0.113.31'];
const CAMERA_BROKER = '203.0.113.40';
const CDN = ['151.101.1.10', '151.101.65.10', '151.101.129.10', '151.101.193.10', '146.75.1.10', '146.75.65.10'];
const CDN_ADDED = '146.75.129.10';
const GATEWAY_BROKER = '203.0.113.50';
const API_POOL = ['52.20.1.10', '52.20.1.11', '52.20.2.10', '52.20.2.11', '52.20.3.10', '52.20.3.11', '52.20.4.10', '52.20.4.11'];
const API_MIGRATED = ['52.95.1.10', '52.95.1.11'];
const SYSLOG = '192.0.2.10';
const SNMP_MANAGER = '192.0.2.20';
const C2_POOL = ['185.220.101.33', '91.92.248.17', '45.137.21.9', '194.26.29.114'];
const C2_PORTS = [443, 8443, 6667, 4444];


export class Scenario {
  readonly options: ScenarioOptions;
  readonly intervals: number;
  readonly warmupIntervals: number;
  readonly incidents: Incident[] = [];
  readonly fleetEvents: FleetEvent[] = [];
  readonly devices: readonly { id: string; ip: string; imsi: string; group: string; cls: string }[];
  private readonly devs: Dev[] = [];
  private readonly rng: Prng;
  private readonly perDay: number;
  private readonly startMs: number;
  private readonly stormStart: number;
  private readonly migrationStart: number;
  private readonly cdnAddedStart: number;

  constructor(options: Partial<ScenarioOptions> = {}) {
    const o = (this.options = { ...DEFAULT_SCENARIO, ...options });
    if (86400 % o.intervalSeconds !== 0) throw new Error('intervalSeconds must divide a day');
    this.rng = new Prng(o.seed);
    this.perDay = 86400 / o.intervalSeconds;
    this.intervals = o.days * this.perDay;
    this.warmupIntervals = o.warmupDays * this.perDay;
    this.startMs = Date.parse(o.start);
    if (o.days <= o.warmupDays) throw new Error('days must exceed warmupDays');
    this.createDevices();
    const day = (d: number, hour: number): number => Math.min(d, o.days - 1) * this.perDay + Math.round((hour * 3600) / o.intervalSeconds);
    this.stormStart = day(o.warmupDays, 14);
    this.migrationStart = day(o.warmupDays, 10);
    this.cdnAddedStart = day(o.warmupDays + 1, 6);
    this.fleetEvents.push(
      { kind: 'reconnect-storm', group: 'meters-east', start: this.stormStart, detail: 'cell outage: 3 intervals without traffic, then every device reconnects at once' },
      { kind: 'endpoint-migration', group: 'gateways', start: this.migrationStart, detail: `API endpoints ${API_POOL[0]}, ${API_POOL[1]} move to ${API_MIGRATED.join(', ')}` },
      { kind: 'cdn-address-added', group: 'cameras', start: this.cdnAddedStart, detail: `CDN ingest address ${CDN_ADDED} joins the rotation` },
    );
    this.scheduleIncidents();
    this.devices = this.devs.map((d) => ({ id: d.id, ip: d.ip, imsi: d.imsi, group: d.group, cls: d.cls }));
  }

  /** The records of interval i, by device id; devices without traffic in it (offline) have none. */
  *batches(): Generator<InspectionRecord[]> {
    for (let i = 0; i < this.intervals; i++) yield this.interval(i);
  }

  intervalStart(i: number): string {
    return new Date(this.startMs + i * this.options.intervalSeconds * 1000).toISOString();
  }

  // ---------------------------------------------------------------------------------------------
  // The fleet

  private createDevices(): void {
    const o = this.options;
    const r = this.rng;
    const classes: [Cls, string, number][] = [
      ['meter', 'meters-east', 0.2], ['meter', 'meters-west', 0.2], ['tracker', 'trackers', 0.25], ['camera', 'cameras', 0.15], ['gateway', 'gateways', 0.2],
    ];
    const counts: Record<string, number> = {};
    for (let n = 0; n < o.devices; n++) {
      // Classes interleaved so a small fleet still has every group.
      let u = (n + 0.5) / o.devices;
      let k = 0;
      while (k < classes.length - 1 && u >= classes[k][2]) u -= classes[k++][2];
      const [cls, group] = classes[k];
      counts[cls] = (counts[cls] ?? 0) + 1;
      const day = this.perDay;
      this.devs.push({
        index: n,
        id: `${cls}-${String(counts[cls]).padStart(4, '0')}`,
        ip: `10.${128 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`,
        imsi: `44010${String(3000000000 + n).padStart(10, '0')}`,
        group,
        cls,
        scale: Math.exp(0.4 * normal(r)),
        tz: group === 'meters-west' ? -1 : r.int(-1, 1),
        phase: r.int(0, 11),
        reportSlot: r.int(Math.floor(day * 1 / 24), Math.floor(day * 5 / 24)),
        checkSlot: r.int(0, day - 1),
        ntpPhase: r.int(0, 11),
        moveStart: 6 + r.float() * 3,
        moveEnd: 17 + r.float() * 4,
        broker: METER_BROKERS[n % 2],
        coap: COAP_SERVERS[n % 2],
        apis: pickDistinct(r, API_POOL.length, r.int(3, 5)),
        cdnOffset: r.int(0, 1000),
        offline: 0,
        backlog: 0,
        motionLeft: 0,
        motionBytes: 0,
        incidents: [],
      });
    }
  }

  private scheduleIncidents(): void {
    const o = this.options;
    const r = this.rng;
    const free = this.devs.map((d) => d.index);
    // Shuffle, then hand devices out in order: each incident gets a device of its own.
    for (let i = free.length - 1; i > 0; i--) {
      const j = r.int(0, i);
      [free[i], free[j]] = [free[j], free[i]];
    }
    let next = 0;
    const earliest = this.warmupIntervals + 6;
    for (const type of INCIDENT_TYPES) {
      for (let k = 0; k < o.incidentsPerType && next < free.length; k++) {
        const d = this.devs[free[next++]];
        const big = d.cls === 'camera' || d.cls === 'gateway';
        let dur: number;
        let ip = '';
        let port = 0;
        let rate = 0;
        let variant = 0;
        let detail: string;
        switch (type) {
          case 'exfiltration':
            dur = r.int(2, 6);
            ip = `45.${r.int(60, 90)}.${r.int(0, 255)}.${r.int(1, 254)}`;
            port = 443;
            rate = big ? 1e6 + r.float() * 5e6 : 2e5 + r.float() * 6e5; // bit/s: LTE cat-4 vs LTE-M uplinks
            detail = `${(rate / 1e6).toFixed(2)} Mbit/s to ${ip}:443 over TLS`;
            break;
          case 'telnet-scan':
            dur = r.int(24, 288);
            rate = big ? r.int(500, 3000) : r.int(120, 600); // SYNs per interval
            detail = `${rate} telnet SYNs per interval to random hosts on 23/2323`;
            break;
          case 'ddos':
            dur = r.int(2, 8);
            variant = r.int(0, 1);
            ip = `${r.int(11, 99)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;
            port = variant === 0 ? [53, 123, 80, 27015][r.int(0, 3)] : 80;
            rate = variant === 0 ? r.int(100, 1000) : r.int(300, 2000); // packets per second
            detail = `${variant === 0 ? 'UDP' : 'SYN'} flood at ${rate} packets/s to ${ip}:${port}`;
            break;
          case 'c2-beacon':
            dur = r.int(72, 288);
            variant = r.int(0, C2_POOL.length - 1);
            ip = C2_POOL[variant];
            port = C2_PORTS[r.int(0, C2_PORTS.length - 1)];
            rate = r.int(60, 240); // beacon period, seconds
            detail = `beacon every ${rate} s to ${ip}:${port}`;
            break;
          case 'dns-tunnel':
            dur = r.int(3, 24);
            rate = r.int(200, 1500); // queries per interval
            detail = `${rate} queries per interval carrying data through the resolver`;
            break;
          default:
            dur = r.int(1, 3);
            rate = (5 + r.float() * 35) * 1e6; // bytes in total
            detail = `${(rate / 1e6).toFixed(1)} MB from ${UPDATE_SERVER[d.cls]} over ${dur} interval(s)`;
        }
        const start = r.int(earliest, this.intervals - Math.min(dur, 12) - 6);
        const inc: ActiveIncident = { type, device: d.id, group: d.group, start, end: Math.min(start + dur, this.intervals), detail, ip, port, rate, variant };
        d.incidents.push(inc);
        this.incidents.push({ type, device: d.id, group: d.group, start: inc.start, end: inc.end, detail });
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One interval

  private interval(i: number): InspectionRecord[] {
    const o = this.options;
    const start = this.intervalStart(i);
    const end = this.intervalStart(i + 1);
    const out: InspectionRecord[] = [];
    for (const d of this.devs) {
      if (this.goesOffline(d, i)) continue;
      const flows: Flow[] = [];
      const slot = i % this.perDay;
      const hour = ((((slot * o.intervalSeconds) / 3600 + d.tz) % 24) + 24) % 24;
      switch (d.cls) {
        case 'meter': this.meter(d, i, slot, flows); break;
        case 'tracker': this.tracker(d, i, hour, flows); break;
        case 'camera': this.camera(d, i, hour, flows); break;
        default: this.gateway(d, i, hour, flows);
      }
      this.common(d, i, slot, flows);
      for (const inc of d.incidents) if (i >= inc.start && i < inc.end) this.incident(d, inc, i, flows);
      for (const inc of d.incidents) if (inc.type === 'firmware-update' && i === inc.end) this.reconnect(d, flows, 2); // reboot after the update
      d.backlog = 0;
      out.push(this.record(d, start, end, flows));
    }
    return out;
  }

  /** Coverage gaps (trackers most), and the meters-east outage. A device back from a gap reconnects and flushes. */
  private goesOffline(d: Dev, i: number): boolean {
    const r = this.rng;
    if (d.group === 'meters-east' && i >= this.stormStart && i < this.stormStart + 3) {
      d.backlog++;
      return true;
    }
    if (d.offline > 0) {
      d.offline--;
      d.backlog++;
      return true;
    }
    const p = d.cls === 'tracker' ? 0.004 : 0.0005;
    if (r.float() < p) {
      d.offline = r.int(0, d.cls === 'tracker' ? 11 : 2);
      d.backlog++;
      return true;
    }
    return false;
  }

  private meter(d: Dev, i: number, slot: number, flows: Flow[]): void {
    const r = this.rng;
    const f = flow(d.broker, 8883, 'tcp', 'mqtts');
    const pings = 5 + (r.float() < 0.3 ? 1 : 0);
    add(f, pings * 66, pings, pings * 66, pings);
    if ((i + d.phase) % 3 === 0) add(f, 900 * d.scale * jitter(r), 4, 200, 3); // a reading every 15 minutes
    if (slot === d.reportSlot) {
      const bytes = (30e3 + r.float() * 60e3) * d.scale;
      add(f, bytes, Math.ceil(bytes / 1200), Math.ceil(bytes / 2400) * 52, Math.ceil(bytes / 2400));
    }
    if (d.backlog > 0) add(f, d.backlog * 900 * d.scale, 4 * d.backlog, 200 * d.backlog, 3 * d.backlog);
    if (r.float() < 0.005) f.syn++; // a lost SYN, retried in the same interval
    flows.push(f);
  }

  private tracker(d: Dev, i: number, hour: number, flows: Flow[]): void {
    const r = this.rng;
    const trip = Math.floor(i / 6) * 7919 + d.index * 104729; // 30-minute legs, moving or parked
    const moving = hour >= d.moveStart && hour < d.moveEnd && (mix(trip) % 10) < 7;
    let reports = moving ? 9 + poisson(r, 1) : (i + d.phase) % 6 === 0 ? 1 : 0;
    if (d.backlog > 0) reports += Math.min(d.backlog * (moving ? 10 : 1), 120);
    const f = flow(d.coap, 5683, 'udp', 'coap');
    if (reports > 0) add(f, reports * 150 * jitter(r), reports, reports * 60, reports);
    else add(f, 40, 1, 0, 0); // NAT keepalive
    flows.push(f);
  }

  private camera(d: Dev, i: number, hour: number, flows: Flow[]): void {
    const r = this.rng;
    const ctl = flow(CAMERA_BROKER, 8883, 'tcp', 'mqtts');
    add(ctl, 5 * 66, 5, 5 * 66, 5);
    flows.push(ctl);
    const pool = i >= this.cdnAddedStart ? [...CDN, CDN_ADDED] : CDN;
    const cdn = pool[(d.cdnOffset + Math.floor(i / (this.perDay / 4))) % pool.length]; // rotates every 6 hours
    const up = flow(cdn, 443, 'tcp', 'https');
    const thumb = 30e3 * d.scale * jitter(r);
    add(up, thumb, Math.ceil(thumb / 1200), Math.ceil(thumb / 2400) * 52, Math.ceil(thumb / 2400));
    up.syn += 1;
    up.synAck += 1;
    const day = hour >= 7 && hour < 22;
    if (d.motionLeft === 0 && r.float() < (day ? 1 / 12 : 1 / 72)) {
      d.motionLeft = r.int(1, 3);
      d.motionBytes = Math.exp(Math.log(5e6) + 0.6 * normal(r)) * d.scale;
    }
    if (d.motionLeft > 0) {
      const clip = Math.min(d.motionBytes * jitter(r), 30e6);
      add(up, clip, Math.ceil(clip / 1300), Math.ceil(clip / 2600) * 52, Math.ceil(clip / 2600));
      up.syn += 1;
      up.synAck += 1;
      d.motionLeft--;
    }
    flows.push(up);
    const q = poisson(r, 1.5);
    if (q > 0) flows.push(dnsFlow(q));
  }

  private gateway(d: Dev, i: number, hour: number, flows: Flow[]): void {
    const r = this.rng;
    const busy = hour >= 8 && hour < 18;
    const mq = flow(GATEWAY_BROKER, 8883, 'tcp', 'mqtts');
    const msgs = (busy ? 600 : 200) * d.scale * jitter(r);
    add(mq, msgs * 180, msgs, msgs * 0.6 * 70, msgs * 0.6);
    flows.push(mq);
    for (const a of d.apis) {
      if (r.float() >= (busy ? 0.8 : 0.4)) continue;
      const ip = i >= this.migrationStart && a < 2 ? API_MIGRATED[a] : API_POOL[a];
      const api = flow(ip, 443, 'tcp', 'https');
      const upB = 2e3 + r.float() * 18e3;
      const downB = 5e3 + r.float() * 45e3;
      add(api, upB, Math.ceil(upB / 1000) + 3, downB, Math.ceil(downB / 1300) + 3);
      api.syn = 1;
      api.synAck = 1;
      flows.push(api);
    }
    const logs = (busy ? 150 : 60) * jitter(r);
    const sl = flow(SYSLOG, 514, 'udp', 'syslog');
    add(sl, logs * 150, logs, 0, 0);
    flows.push(sl);
    const snmp = flow(SNMP_MANAGER, 161, 'udp', 'snmp');
    add(snmp, 12 * 300, 12, 12 * 90, 12);
    flows.push(snmp);
    flows.push(dnsFlow(poisson(r, busy ? 20 : 8)));
  }

  /** What every class does: hourly NTP (with a DNS lookup of the pool), a daily update check, TLS reconnects. */
  private common(d: Dev, i: number, slot: number, flows: Flow[]): void {
    const r = this.rng;
    if ((i + d.ntpPhase) % 12 === 0) {
      const ntp = flow(NTP_POOL[r.int(0, NTP_POOL.length - 1)], 123, 'udp', 'ntp');
      add(ntp, 76, 1, 76, 1);
      flows.push(ntp);
      flows.push(dnsFlow(1));
    }
    if (slot === d.checkSlot) {
      const up = flow(UPDATE_SERVER[d.cls], 443, 'tcp', 'https');
      add(up, 1200, 8, 3500 * jitter(r), 8);
      up.syn = 1;
      up.synAck = 1;
      flows.push(up);
      flows.push(dnsFlow(1));
    }
    if (d.backlog > 0) this.reconnect(d, flows, d.group === 'meters-east' && i === this.stormStart + 3 ? r.int(3, 6) : 2);
    else if (d.cls !== 'tracker' && r.float() < 1 / 72) this.reconnect(d, flows, 1);
  }

  private reconnect(d: Dev, flows: Flow[], lookups: number): void {
    const server = d.cls === 'meter' ? d.broker : d.cls === 'tracker' ? d.coap : d.cls === 'camera' ? CAMERA_BROKER : GATEWAY_BROKER;
    let f = flows.find((x) => x.ip === server);
    if (!f) flows.push((f = flow(server, d.cls === 'tracker' ? 5683 : 8883, d.cls === 'tracker' ? 'udp' : 'tcp', d.cls === 'tracker' ? 'coap' : 'mqtts')));
    if (f.transport === 'tcp') {
      add(f, 2500, 8, 4500, 8);
      f.syn += 1;
      f.synAck += 1;
    }
    flows.push(dnsFlow(lookups));
  }

  // ---------------------------------------------------------------------------------------------
  // Incidents

  private incident(d: Dev, inc: ActiveIncident, i: number, flows: Flow[]): void {
    const r = this.rng;
    const secs = this.options.intervalSeconds;
    switch (inc.type) {
      case 'exfiltration': {
        const bytes = ((inc.rate * secs) / 8) * jitter(r);
        const f = flow(inc.ip, inc.port, 'tcp', 'https');
        add(f, bytes, Math.ceil(bytes / 1400), Math.ceil(bytes / 2800) * 52, Math.ceil(bytes / 2800));
        f.syn = 1;
        f.synAck = 1;
        flows.push(f);
        if (i === inc.start) flows.push(dnsFlow(1));
        break;
      }
      case 'telnet-scan': {
        const n = Math.round(inc.rate * jitter(r));
        const s = flow('', 23, 'tcp', 'telnet');
        const syns = Math.round(n * 1.1); // retries
        const answered = Math.round(n * (0.01 + r.float() * 0.02));
        add(s, syns * 60, syns, answered * 60 + Math.round(n * 0.05) * 54, answered + Math.round(n * 0.05));
        s.syn = syns;
        s.synAck = answered;
        s.rst = Math.round(n * 0.05);
        s.fanout = n;
        s.flows = n;
        flows.push(s);
        for (let k = 0; k < Math.min(answered, 5); k++) {
          const login = flow(randomIp(r), k % 4 === 3 ? 2323 : 23, 'tcp', 'telnet'); // brute-forcing the hosts that answered
          add(login, 600 + r.int(0, 1500), 12, 400 + r.int(0, 800), 10);
          flows.push(login);
        }
        break;
      }
      case 'ddos': {
        const pkts = Math.round(inc.rate * secs * jitter(r));
        if (inc.variant === 0) {
          const size = 512 + (mix(inc.start) % 900);
          const f = flow(inc.ip, inc.port, 'udp', inc.port === 53 ? 'dns' : inc.port === 123 ? 'ntp' : 'udp-other');
          add(f, pkts * size, pkts, 0, 0);
          f.flows = Math.min(pkts, 64);
          flows.push(f);
        } else {
          const f = flow(inc.ip, inc.port, 'tcp', 'http');
          const answered = Math.round(pkts * 0.05);
          add(f, pkts * 60, pkts, answered * 60, answered);
          f.syn = pkts;
          f.synAck = answered;
          f.flows = pkts;
          flows.push(f);
        }
        break;
      }
      case 'c2-beacon': {
        const beacons = Math.max(1, Math.round((secs / inc.rate) * jitter(r)));
        const f = flow(inc.ip, inc.port, 'tcp', inc.port === 443 || inc.port === 8443 ? 'https' : 'tcp-other');
        add(f, beacons * (200 + r.int(0, 500)), beacons * 4, beacons * (100 + r.int(0, 300)), beacons * 3);
        f.syn = beacons;
        f.synAck = beacons;
        f.flows = beacons;
        flows.push(f);
        if (i === inc.start) flows.push(dnsFlow(1));
        break;
      }
      case 'dns-tunnel': {
        const q = Math.round(inc.rate * jitter(r));
        const f = dnsFlow(q);
        f.upB = q * (100 + r.int(0, 80));
        f.downB = q * (150 + r.int(0, 150));
        flows.push(f);
        break;
      }
      default: {
        const bytes = (inc.rate / (inc.end - inc.start)) * jitter(r);
        const f = flow(UPDATE_SERVER[d.cls], 443, 'tcp', 'https');
        add(f, Math.ceil(bytes / 2800) * 52, Math.ceil(bytes / 2800), bytes, Math.ceil(bytes / 1400));
        f.syn = 1;
        f.synAck = 1;
        flows.push(f);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Flows to an InspectionRecord, the way the collector summarizes an interval

  private record(d: Dev, start: string, end: string, flows: Flow[]): InspectionRecord {
    const r = this.rng;
    let upB = 0, upP = 0, downB = 0, downP = 0, syn = 0, synAck = 0, rst = 0, dns = 0, uniq = 0, tcpP = 0, udpP = 0, maxSize = 0;
    const hist = [0, 0, 0, 0, 0, 0];
    const protos = new Map<string, { name: string; packets: number; bytes: number; flows: number }>();
    const addrs = new Set<string>();
    const ports = new Set<string>();
    let fanout = 0;
    const top: Destination[] = [];
    for (const f of flows) {
      f.upB = Math.round(f.upB);
      f.downB = Math.round(f.downB);
      f.upP = Math.max(Math.round(f.upP), f.upB > 0 ? 1 : 0);
      f.downP = Math.max(Math.round(f.downP), f.downB > 0 ? 1 : 0);
      const packets = f.upP + f.downP;
      const bytes = f.upB + f.downB;
      if (packets === 0) continue;
      upB += f.upB; upP += f.upP; downB += f.downB; downP += f.downP;
      syn += f.syn; synAck += f.synAck; rst += f.rst; dns += f.dns; uniq += f.flows;
      if (f.transport === 'tcp') tcpP += packets;
      else udpP += packets;
      const size = Math.min(1500, Math.round(bytes / packets));
      maxSize = Math.max(maxSize, Math.min(1500, size * 2));
      hist[size < 64 ? 0 : size < 128 ? 1 : size < 256 ? 2 : size < 1024 ? 3 : 4] += packets;
      const p = protos.get(f.proto) ?? { name: f.proto, packets: 0, bytes: 0, flows: 0 };
      p.packets += packets;
      p.bytes += bytes;
      p.flows += f.flows;
      protos.set(f.proto, p);
      if (f.fanout > 1 || f.ip === '') {
        fanout += f.fanout;
        ports.add('tcp/23').add('tcp/2323');
        const shown = Math.min(f.fanout, this.options.topK);
        for (let k = 0; k < shown; k++) {
          top.push({ ip: randomIp(r), port: k % 5 === 4 ? 2323 : 23, transport: f.transport, packets: Math.max(1, Math.round(packets / f.fanout)), bytes: Math.max(60, Math.round(bytes / f.fanout)) });
        }
        continue;
      }
      addrs.add(f.ip);
      ports.add(`${f.transport}/${f.port}`);
      const same = top.find((t) => t.ip === f.ip && t.port === f.port && t.transport === f.transport);
      if (same) {
        same.packets += packets;
        same.bytes += bytes;
      } else top.push({ ip: f.ip, port: f.port, transport: f.transport, packets, bytes });
    }
    top.sort((a, b) => b.bytes - a.bytes || b.packets - a.packets || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
    const detected = [...protos.values()].sort((a, b) => b.bytes - a.bytes || b.packets - a.packets || (a.name < b.name ? -1 : 1));
    const packets = upP + downP;
    const ipBytes = upB + downB;
    return {
      schema: RECORD_SCHEMA_ID,
      '@timestamp': start,
      interval: { start, end, seconds: this.options.intervalSeconds, complete: true },
      device: { id: d.id, ip: d.ip, imsi: d.imsi, group: d.group, known: true },
      collector: { source: 'scenario' },
      tunnel: { type: 'gre', key: 1 + (d.index % 4), mirror_source: '192.0.2.1' },
      'traffic.statistics': trafficStatistics({ ipBytes, packets, maxSize, sizeHistogram: hist, tcp: tcpP, udp: udpP, fragmented: 0, flows: uniq }),
      uplink: { bytes: upB, packets: upP },
      downlink: { bytes: downB, packets: downP },
      'detected.protos': detected,
      destinations: { distinct: addrs.size + fanout, distinct_ports: ports.size, top: top.slice(0, this.options.topK) },
      tcp: { syn, syn_ack: synAck, rst },
      connections: { attempted_hosts: 0, failed_hosts: 0, failed_named_hosts: 0, failed_ports: 0, refused_hosts: 0, icmp_unreachable: 0, failed_sample: [] },
      contacts: [],
      dns: {
        queries: dns, responses: 0, nxdomain: 0, servfail: 0, types: { a: 0, aaaa: 0, txt: 0, null: 0, cname: 0, mx: 0, any: 0, other: 0 },
        distinct_names: 0, name_length_max: 0, name_length_mean: 0, label_max: 0, entropy_mean: 0, resolvers: [], domains: [], domains_dropped: 0, names_dropped: 0, malformed: 0,
      },
      tls: { client_hellos: 0, without_sni: 0, malformed: 0 },
    };
  }
}

function flow(ip: string, port: number, transport: 'tcp' | 'udp', proto: string): Flow {
  return { ip, port, transport, proto, upB: 0, upP: 0, downB: 0, downP: 0, syn: 0, synAck: 0, rst: 0, dns: 0, flows: 1, fanout: 1 };
}

function add(f: Flow, upB: number, upP: number, downB: number, downP: number): void {
  f.upB += upB;
  f.upP += upP;
  f.downB += downB;
  f.downP += downP;
}

function dnsFlow(queries: number): Flow {
  const f = flow(RESOLVER, 53, 'udp', 'dns');
  add(f, queries * 70, queries, queries * 130, queries);
  f.dns = queries;
  f.flows = queries;
  return f;
}

function normal(r: Prng): number {
  const u = 1 - r.float();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.float());
}

/** Multiplicative noise: log-normal with sigma 0.25 (about +-25%). */
function jitter(r: Prng): number {
  return Math.exp(0.25 * normal(r));
}

function poisson(r: Prng, lambda: number): number {
  const l = Math.exp(-lambda);
  let k = 0;
  let p = r.float();
  while (p > l) {
    k++;
    p *= r.float();
  }
  return k;
}

function pickDistinct(r: Prng, n: number, k: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = r.int(i, n - 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, k).sort((a, b) => a - b);
}

function randomIp(r: Prng): string {
  return `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;
}

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}

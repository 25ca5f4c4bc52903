// labels.json says what is in mirror.pcap: every incident's device really sends the modelled
// traffic inside its window and none of it outside (counted from the packets, against the drawn
// parameters), every benign event is visible where its label says, and devices reach the Internet
// only at addresses their own DNS answers gave them, incidents aside.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateScenario } from './generate.js';
import type { IncidentLabel, Labels } from './labels.js';
import { QTYPE } from './payloads.js';
import { indexCapture, ms, SMALL, type Indexed, type P } from './testing.js';
import { parseIp } from './wire.js';

const dir = mkdtempSync(join(tmpdir(), 'scenarios-labels-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let ix: Indexed;
let labels: Labels;
beforeAll(() => {
  generateScenario({ ...SMALL, out: dir });
  ix = indexCapture(dir);
  labels = ix.labels;
}, 120_000);

const SYN = 0x02, ACK = 0x10, RST = 0x04, PSH = 0x08;
const isSyn = (p: P): boolean => p.proto === 6 && (p.flags & (SYN | ACK)) === SYN;
const isSynAck = (p: P): boolean => p.proto === 6 && (p.flags & (SYN | ACK)) === (SYN | ACK);
const inside = (p: P, inc: { start: string; end: string }): boolean => p.us >= ms(inc.start) && p.us <= ms(inc.end);
const of = (type: string): IncidentLabel[] => labels.incidents.filter((i) => i.type === type);
const pk = (ip: string): P[] => ix.byDevice.get(ip) ?? [];
/** |n − λ| within what a Poisson count (or a paced one with a few % of jitter) allows. */
const closeTo = (n: number, lambda: number): void => {
  expect(Math.abs(n - lambda)).toBeLessThanOrEqual(4 * Math.sqrt(lambda) + 0.06 * lambda + 2);
};
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const isPrivate = (ip: string): boolean => ip.startsWith('10.') || ip.startsWith('224.') || ip.startsWith('239.');

describe('labels match the capture', () => {
  it('has every incident type and variant, the first-10-minutes compromises and every kind of noise', () => {
    expect(new Set(labels.incidents.map((i) => i.type))).toEqual(new Set(['scan', 'dns-tunnel', 'beacon', 'exfiltration', 'flood']));
    expect(new Set(of('beacon').map((i) => i.params.variant))).toEqual(new Set(['persistent', 'per-connection-sni', 'dns']));
    expect(new Set(of('scan').map((i) => i.params.variant))).toEqual(new Set(['telnet', 'ssh', 'slow']));
    expect(new Set(of('dns-tunnel').map((i) => i.params.mode))).toEqual(new Set(['slow', 'burst']));
    const joined = new Map(labels.devices.filter((d) => d.joined).map((d) => [d.id, ms(d.joined!)]));
    const early = labels.incidents.filter((i) => joined.has(i.device_id) && ms(i.start) - joined.get(i.device_id)! <= 10 * 60e6);
    expect(new Set(early.map((i) => i.type))).toEqual(new Set(['scan', 'dns-tunnel', 'flood']));
    for (const i of labels.incidents.filter((x) => !early.includes(x))) expect(ms(i.start)).toBeGreaterThanOrEqual(ms(labels.learning_end));
    const kinds = new Set(labels.benign.map((b) => b.kind));
    for (const k of ['site-outage', 'reconnect-storm', 'resolver-outage', 'address-rotation', 'ntp-pool', 'backlog-burst', 'firmware-wave', 'endpoint-move', 'device-join']) expect(kinds).toContain(k);
    const byDevice = new Map<string, IncidentLabel[]>();
    for (const i of labels.incidents) byDevice.set(i.device_id, [...(byDevice.get(i.device_id) ?? []), i]);
    for (const list of byDevice.values()) {
      list.sort((a, b) => ms(a.start) - ms(b.start));
      for (let k = 1; k < list.length; k++) expect(ms(list[k].start)).toBeGreaterThanOrEqual(ms(list[k - 1].end));
    }
  });

  it('scan: SYNs to as many random hosts as rate × duration, on the modelled ports, mostly unanswered, only in the window', () => {
    for (const inc of of('scan')) {
      const ports = inc.params.ports as number[];
      const syns = pk(inc.device_ip).filter((p) => p.src === inc.device_ip && isSyn(p) && ports.includes(p.dport));
      expect(syns.filter((p) => !inside(p, inc))).toHaveLength(0);
      const hosts = new Set(syns.map((p) => p.dst));
      closeTo(hosts.size, Number(inc.params.rate_per_s) * Number(inc.params.duration_s));
      const answered = new Set(pk(inc.device_ip).filter((p) => isSynAck(p) && hosts.has(p.src)).map((p) => p.src));
      const refused = new Set(pk(inc.device_ip).filter((p) => p.dst === inc.device_ip && (p.flags & RST) !== 0 && hosts.has(p.src)).map((p) => p.src));
      expect(answered.size).toBeLessThanOrEqual(0.02 * hosts.size + 3);
      expect(refused.size).toBeLessThanOrEqual(0.1 * hosts.size + 3);
      expect(hosts.size - answered.size - refused.size).toBeGreaterThan(0.85 * hosts.size);
      if (inc.params.variant === 'telnet') {
        // Mirai's signature: raw SYNs from one source port with sequence number = target address;
        // the kernel's own SYNs (a real connect() to log in) only to the hosts that answered.
        const raw = syns.filter((p) => p.sport === inc.params.source_port);
        expect(raw.length).toBeGreaterThan(0.95 * syns.length - 3);
        for (const p of raw) expect(p.seq).toBe(parseIp(p.dst));
        for (const p of syns.filter((x) => x.sport !== inc.params.source_port)) expect(answered.has(p.dst)).toBe(true);
      } else {
        expect(syns.length).toBeGreaterThan(1.5 * (hosts.size - answered.size - refused.size)); // connect(): one retransmission
      }
    }
  });

  it('dns-tunnel: a new subdomain of one domain per query, through the usual resolver, at the drawn rate, only in the window', () => {
    for (const inc of of('dns-tunnel')) {
      const domain = String(inc.params.domain);
      const q = pk(inc.device_ip).filter((p) => p.src === inc.device_ip && p.dns && !p.dns.response && p.dns.name.endsWith(`.${domain}`));
      expect(q.filter((p) => !inside(p, inc))).toHaveLength(0);
      expect(new Set(q.map((p) => p.dns!.name)).size).toBe(q.length);
      const dur = Number(inc.params.duration_s);
      closeTo(q.length, inc.params.mode === 'slow' ? (Number(inc.params.queries_per_hour) * dur) / 3600 : Number(inc.params.queries_per_s) * dur);
      expect(new Set(q.map((p) => p.dst))).toEqual(new Set([String(inc.params.resolver)]));
      const types = new Set<number>((inc.params.qtypes as string[]).map((t) => QTYPE[t as keyof typeof QTYPE]));
      for (const p of q) expect(types.has(p.dns!.qtype)).toBe(true);
      const labelMax = Math.max(...q.map((p) => Math.max(...p.dns!.name.split('.').map((l) => l.length))));
      expect(labelMax).toBeGreaterThanOrEqual(30);
      expect(labelMax).toBeLessThanOrEqual(63);
      const answered = pk(inc.device_ip).filter((p) => p.dst === inc.device_ip && p.dns?.response && p.dns.name.endsWith(`.${domain}`));
      expect(answered.length).toBeGreaterThanOrEqual(q.length - 2);
    }
  });

  it('beacon: contacts at the drawn period within the drawn jitter, over the modelled channel, only in the window', () => {
    for (const inc of of('beacon')) {
      const addr = String(inc.params.address), P = Number(inc.params.period_s) * 1e6, J = Number(inc.params.jitter);
      const to = pk(inc.device_ip).filter((p) => p.src === inc.device_ip && p.dst === addr);
      expect(to.filter((p) => !inside(p, inc))).toHaveLength(0);
      for (const [ip, list] of ix.byDevice) if (ip !== inc.device_ip) expect(list.some((p) => p.dst === addr || p.src === addr)).toBe(false);
      let contacts: number[];
      const hellos = to.filter((p) => p.sni !== null);
      if (inc.params.variant === 'persistent') {
        expect(to.filter(isSyn)).toHaveLength(1);
        expect(hellos.map((p) => p.sni)).toEqual(['']);
        const pushes = to.filter((p) => (p.flags & PSH) !== 0).map((p) => p.us);
        contacts = pushes.filter((t, k) => k === 0 || t - pushes[k - 1] > 4e6).slice(1); // the first burst is the session set-up
      } else {
        contacts = to.filter(isSyn).map((p) => p.us);
        for (const h of hellos) expect(h.sni).toBe(inc.params.sni);
      }
      const resolved = pk(inc.device_ip).filter((p) => p.answers.includes(addr));
      if (inc.params.variant === 'dns') {
        const queries = pk(inc.device_ip).filter((p) => p.src === inc.device_ip && p.dns?.name === inc.params.sni && !p.dns.response).map((p) => p.us);
        for (const c of contacts) expect(queries.some((t) => t <= c && c - t < 1e6)).toBe(true);
      } else {
        expect(resolved).toHaveLength(0); // never resolved: no DNS, the address is hard-coded
      }
      expect(contacts.length).toBeGreaterThanOrEqual(20);
      const gaps = contacts.slice(1).map((t, k) => t - contacts[k]);
      const lo = P * (1 - J) - 0.5e6, hi = (inc.params.jitter_model === 'cobalt' ? P : P * (1 + J)) + 0.5e6;
      const skipped = gaps.filter((g) => g > hi);
      expect(skipped.length).toBeLessThanOrEqual(inc.params.variant === 'dns' ? 2 : 0); // a check-in lost to a resolver outage
      for (const g of gaps.filter((x) => x <= hi)) expect(g).toBeGreaterThanOrEqual(lo);
      const m = median(gaps);
      expect(m).toBeGreaterThanOrEqual(lo);
      expect(m).toBeLessThanOrEqual(hi);
      if (J >= 0.05) expect(Math.max(...gaps.filter((x) => x <= hi).map((g) => Math.abs(g / P - 1)))).toBeGreaterThan(J / 4); // jitter really there
    }
  });

  it('exfiltration: the drawn bytes up to a destination new to the device and the fleet, by name or by address, only in the window', () => {
    for (const inc of of('exfiltration')) {
      const addr = String(inc.params.address);
      const up = pk(inc.device_ip).filter((p) => p.src === inc.device_ip && p.dst === addr);
      expect(up.filter((p) => !inside(p, inc))).toHaveLength(0);
      const bytes = up.reduce((s, p) => s + p.payloadLen, 0);
      expect(bytes).toBeGreaterThanOrEqual(Number(inc.params.bytes));
      expect(bytes).toBeLessThanOrEqual(Number(inc.params.bytes) * 1.02 + 100_000);
      for (const [ip, list] of ix.byDevice) if (ip !== inc.device_ip) expect(list.some((p) => p.dst === addr)).toBe(false);
      const first = up.filter(isSyn)[0].us;
      expect(pk(inc.device_ip).some((p) => (p.dst === addr || p.src === addr) && p.us < ms(inc.start))).toBe(false);
      const hellos = up.filter((p) => p.sni !== null);
      if (inc.params.variant === 'by-name') {
        expect(pk(inc.device_ip).some((p) => p.dst === inc.device_ip && p.dns?.name === inc.params.destination && p.answers.includes(addr) && p.us <= first)).toBe(true);
        for (const h of hellos) expect(h.sni).toBe(inc.params.destination);
      } else {
        expect(pk(inc.device_ip).some((p) => p.answers.includes(addr))).toBe(false);
        for (const h of hellos) expect(h.sni).toBe('');
      }
      expect(hellos).toHaveLength(Number(inc.params.connections));
    }
  });

  it('flood: pps × duration packets one way to one victim, of the modelled kind, only in the window', () => {
    for (const inc of of('flood')) {
      const victim = String(inc.params.victim);
      const to = pk(inc.device_ip).filter((p) => p.src === inc.device_ip && p.dst === victim);
      expect(to.filter((p) => !inside(p, inc))).toHaveLength(0);
      const n = Number(inc.params.pps) * Number(inc.params.duration_s);
      expect(Math.abs(to.length - n)).toBeLessThanOrEqual(0.03 * n + 5);
      expect(pk(inc.device_ip).filter((p) => p.src === victim)).toHaveLength(0);
      if (inc.params.variant === 'syn') expect(to.every(isSyn)).toBe(true);
      else expect(to.every((p) => p.proto === 17 && p.payloadLen === inc.params.payload_bytes)).toBe(true);
      // Random destination ports: n draws from ~65,500 ports give 65,500·(1 − e^(−n/65,500)) distinct ones.
      if (inc.params.variant === 'udp') expect(new Set(to.map((p) => p.dport)).size).toBeGreaterThan(0.95 * 65500 * (1 - Math.exp(-to.length / 65500)));
      if (inc.params.variant === 'udpplain') expect(new Set(to.map((p) => `${p.sport}>${p.dport}`)).size).toBe(1);
    }
  });
});

describe('benign labels match the capture', () => {
  const group = (g: string): string[] => labels.devices.filter((d) => d.group === g).map((d) => d.ip);
  const benign = (kind: string) => labels.benign.filter((b) => b.kind === kind);
  const incidentAt = (ip: string, t: number): boolean => labels.incidents.some((i) => i.device_ip === ip && t >= ms(i.start) && t <= ms(i.end));

  it('site outage: nothing of the group is mirrored; then a reconnect storm: SYNs without SYN-ACK to the group\'s one service', () => {
    for (const b of benign('site-outage')) {
      for (const ip of group(b.group!)) expect(pk(ip).filter((p) => p.us >= ms(b.start) && p.us < ms(b.end)), `${ip} during ${b.start}–${b.end}`).toHaveLength(0);
    }
    for (const b of benign('reconnect-storm')) {
      const win = (p: P): boolean => p.us >= ms(b.start) && p.us < ms(b.end) && !incidentAt(p.src, p.us) && !incidentAt(p.dst, p.us);
      const devices = group(b.group!);
      let storming = 0;
      for (const ip of devices) {
        const syns = pk(ip).filter((p) => win(p) && p.src === ip && isSyn(p));
        expect(pk(ip).filter((p) => win(p) && isSynAck(p))).toHaveLength(0);
        if (syns.length >= 3) storming++;
        expect(new Set(syns.map((p) => p.dport)).size).toBeLessThanOrEqual(1); // one port
        const answered = new Set(pk(ip).filter((p) => p.dst === ip && p.us < ms(b.end)).flatMap((p) => p.answers));
        for (const p of syns) expect(answered.has(p.dst)).toBe(true); // addresses of its own service's name
        if (b.group === 'locks' && syns.length > 0) {
          expect(new Set(syns.map((p) => `${p.dst}:${p.sport}`)).size).toBe(1); // DIGEST A1: one host, one source port
          const starts = syns.filter((p, k) => k === 0 || p.seq !== syns[k - 1].seq).map((p) => p.us);
          expect(median(starts.slice(1).map((t, k) => t - starts[k]))).toBeCloseTo(3.305e6, -5); // an attempt every 3.3 s
        }
      }
      expect(storming).toBeGreaterThanOrEqual(Math.ceil(0.8 * devices.filter((ip) => labels.devices.find((d) => d.ip === ip)!.joined === undefined || ms(labels.devices.find((d) => d.ip === ip)!.joined!) < ms(b.start)).length));
    }
  });

  it('resolver outage: SERVFAIL only then, and devices retry one name many times (also at the hard-coded resolver)', () => {
    const windows = benign('resolver-outage');
    const servfail = ix.all.filter((p) => p.dns?.response && p.dns.rcode === 2);
    expect(servfail.length).toBeGreaterThan(0);
    for (const p of servfail) expect(windows.some((b) => p.us >= ms(b.start) && p.us <= ms(b.end) + 5e6)).toBe(true);
    // DIGEST A5's retry patterns, per class: meters ask again every 0.55–0.7 s (schlage), locks alternate
    // with a hard-coded public resolver every 1.7–2.1 s (sifely), cameras back off 4–7 s (lockly).
    const spacing: Record<string, [number, number]> = { meters: [0.55, 0.75], locks: [1.7, 2.15], cameras: [4, 7.1] };
    let checked = 0;
    for (const b of windows) {
      const q = ix.all.filter((p) => p.dns && !p.dns.response && p.us >= ms(b.start) && p.us < ms(b.end));
      for (const g of Object.keys(spacing).filter((x) => b.detail.includes(x))) {
        for (const ip of group(g)) {
          const mine = q.filter((p) => p.src === ip && !incidentAt(ip, p.us));
          const byName = new Map<string, number[]>();
          for (const p of mine) byName.set(p.dns!.name, [...(byName.get(p.dns!.name) ?? []), p.us]);
          const burst = [...byName.values()].sort((x, y) => y.length - x.length)[0] ?? [];
          if (burst.length < 8) continue; // its session survived the outage, or it had no name to look up
          const gap = median(burst.slice(1).map((t, k) => t - burst[k])) / 1e6;
          expect(gap, `${g} ${ip}`).toBeGreaterThanOrEqual(spacing[g][0]);
          expect(gap, `${g} ${ip}`).toBeLessThanOrEqual(spacing[g][1]);
          if (g === 'locks') expect(mine.some((p) => p.dst === '208.67.222.222')).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  it('endpoint move: the name answers only new addresses from then on, and the group reconnects to them', () => {
    for (const b of benign('endpoint-move')) {
      const name = b.detail.split(' ')[0];
      const answers = ix.all.filter((p) => p.dns?.response && p.dns.name === name && p.answers.length > 0);
      const before = new Set(answers.filter((p) => p.us < ms(b.start)).flatMap((p) => p.answers));
      const after = new Set(answers.filter((p) => p.us >= ms(b.start)).flatMap((p) => p.answers));
      expect(before.size).toBeGreaterThan(0);
      expect(after.size).toBeGreaterThan(0);
      for (const a of after) expect(before.has(a)).toBe(false);
      const reconnected = group(b.group!).filter((ip) => pk(ip).some((p) => p.src === ip && isSyn(p) && after.has(p.dst)));
      expect(reconnected.length).toBeGreaterThanOrEqual(Math.ceil(0.8 * group(b.group!).length) - 2);
      for (const ip of group(b.group!)) expect(pk(ip).some((p) => isSyn(p) && before.has(p.dst) && p.us > ms(b.end))).toBe(false);
    }
  });

  it('backlog burst: the stored CoAP reports go out in the window after the gap', () => {
    for (const b of benign('backlog-burst')) {
      const ip = labels.devices.find((d) => d.id === b.device_id)!.ip;
      const n = Number(b.detail.split(' ')[0]);
      const posts = pk(ip).filter((p) => p.src === ip && p.dport === 5683 && p.us >= ms(b.start) && p.us <= ms(b.end));
      expect(posts.length).toBe(n);
      // The gap ends 5–30 s before the burst (re-attaching): nothing is mirrored during it.
      const gapMin = Number(/after a (\d+)-minute/.exec(b.detail)![1]);
      const gapEnd = ms(b.start) - 30e6;
      expect(pk(ip).filter((p) => p.us < gapEnd && p.us > gapEnd - (gapMin - 1) * 60e6)).toHaveLength(0);
    }
  });

  it('device join: nothing before it; set-up discovery (SSDP, mDNS) and look-ups first', () => {
    for (const b of benign('device-join')) {
      const ip = labels.devices.find((d) => d.id === b.device_id)!.ip;
      const list = pk(ip);
      expect(list.filter((p) => p.us < ms(b.start))).toHaveLength(0);
      expect(list[0].dst).toBe('239.255.255.250');
      const setup = list.filter((p) => p.us < ms(b.start) + 60e6);
      expect(setup.some((p) => p.dst === '224.0.0.251' && p.dport === 5353)).toBe(true);
      expect(new Set(setup.filter((p) => p.dns && !p.dns.response).map((p) => p.dns!.name)).size).toBeGreaterThanOrEqual(4);
    }
  });

  it('firmware wave: the group downloads megabytes from its usual firmware name in the window', () => {
    for (const b of benign('firmware-wave')) {
      const name = /from (\S+)/.exec(b.detail)![1];
      let downloading = 0;
      for (const ip of group(b.group!)) {
        const fw = new Set(pk(ip).filter((p) => p.dst === ip && p.dns?.name === name).flatMap((p) => p.answers));
        const down = pk(ip).filter((p) => p.dst === ip && fw.has(p.src) && p.us >= ms(b.start) && p.us <= ms(b.end) + 3600e6).reduce((s, p) => s + p.payloadLen, 0);
        if (down > 200_000) downloading++;
      }
      expect(downloading).toBeGreaterThanOrEqual(Math.ceil(0.7 * group(b.group!).length));
    }
  });

  it('NTP pools and rotating names answer changing addresses', () => {
    let checked = 0;
    for (const b of [...benign('ntp-pool'), ...benign('address-rotation')]) {
      const name = b.detail.split(' ')[0];
      const perAnswer = Number(/answers (\d+) of/.exec(b.detail)![1]);
      const period = /every (\d+) (s|h)/.exec(b.detail)!;
      const answers = ix.all.filter((p) => p.dns?.name === name && p.answers.length > 0);
      const span = answers.length ? answers[answers.length - 1].us - answers[0].us : 0;
      if (span < 3 * Number(period[1]) * (period[2] === 'h' ? 3600e6 : 1e6)) continue; // no rotation seen in the run
      expect(new Set(answers.flatMap((p) => p.answers)).size).toBeGreaterThan(perAnswer);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });

  it('devices contact public addresses only after a DNS answer to them gave that address (incidents aside)', () => {
    let contacts = 0;
    for (const [ip, list] of ix.byDevice) {
      const known = new Set<string>();
      const sessionAtStart = new Set<string>(); // sessions open when the capture begins: their SYN is not in it
      for (const p of list) {
        if (p.dst === ip) { for (const a of p.answers) known.add(a); continue; }
        if (isPrivate(p.dst) || incidentAt(ip, p.us)) continue;
        const firstContact = p.proto === 17 ? p.dport !== 53 : isSyn(p);
        if (!firstContact) { if (!known.has(p.dst)) sessionAtStart.add(p.dst); continue; }
        contacts++;
        expect.soft(known.has(p.dst), `${ip} → ${p.dst}:${p.dport} at ${new Date(p.us / 1000).toISOString()} without a DNS answer`).toBe(true);
      }
      expect(sessionAtStart.size).toBeLessThanOrEqual(2);
    }
    expect(contacts).toBeGreaterThan(1000);
  });
});

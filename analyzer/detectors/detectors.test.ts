// Each evidence behavior on hand-made records that read as their scenario: what must alarm does, at
// the severity the evidence supports, and what real devices do every day (a reconnect storm to one
// server, keep-alives to their own cloud, a burst of retries for one name, a blocklist look-up per
// address) does not. Through the analyzer, so the alarm lifecycle and the events are checked too.

import { describe, expect, it } from 'vitest';
import type { AnomalyEvent } from '../../contracts/anomaly-event.js';
import type { InspectionRecord } from '../../contracts/inspection-record.js';
import { contact, record, type RecordOptions } from '../../test/helpers/records.js';
import { createAnalyzer, restoreAnalyzer } from '../analyzer.js';
import { defaultConfig, type AnalyzerConfig } from '../rules.js';

/** The default configuration with only the named behaviors, and a warm-up of `warmupMinutes`. */
function config(names: string[], warmupMinutes = 60): AnalyzerConfig {
  const c = structuredClone(defaultConfig());
  c.behaviors = c.behaviors.filter((b) => names.includes(b.name));
  expect(c.behaviors.map((b) => b.name).sort()).toEqual([...names].sort());
  c.warmupSeconds = warmupMinutes * 60;
  c.warmupSamples = Math.min(c.warmupSamples, warmupMinutes);
  return c;
}

function run(c: AnalyzerConfig, records: InspectionRecord[]): AnomalyEvent[] {
  const a = createAnalyzer(c);
  return records.flatMap((r) => [...a.process(r)]);
}

const alarms = (events: AnomalyEvent[]) => events.filter((e) => e.alarm === 'in-alarm');
const quiet = (i: number, o: Partial<RecordOptions> = {}) => record({ i, contacts: [{ ip: '203.0.113.10', name: 'api.vendor.example', name_source: 'dns', starts: 0 }], ...o });

describe('scan', () => {
  const c = config(['scan']);

  it('a reconnect storm to one server (hundreds of SYNs, one host, for an hour) is never a scan', () => {
    const storm = Array.from({ length: 60 }, (_, i) => record({ i, failed: [{ ip: '8.209.66.141', port: 9999 }] }));
    expect(alarms(run(c, storm))).toEqual([]);
  });

  it('a 2 SYN/s sweep is a scan at once, strong: high, with the failed hosts and ports as evidence', () => {
    const failed = Array.from({ length: 8 }, (_, k) => ({ ip: `198.51.100.${k + 1}`, port: 23 }));
    const events = run(c, [quiet(0), record({ i: 1, failed, failedBeyond: 112 })]);
    expect(events).toHaveLength(1);
    const [e] = events;
    expect(e).toMatchObject({ behavior: 'scan', severity: 'high', detector: 'evidence', basis: 'absolute', observed: 120, alarm: 'in-alarm' });
    expect(e.evidence).toMatchObject({ kind: 'scan', failed_hosts: 120, ports: [23] });
    expect(e.summary).toMatch(/first contacts failed to 120 distinct hosts new to it in the last hour/);
    expect(e.summary).toMatch(/on ports 23/);
  });

  it('a slow scan (one host a minute) becomes a scan after a handful of failures, and a sweep later', () => {
    const recs = Array.from({ length: 60 }, (_, i) => record({ i, failed: [{ ip: `198.51.${i >> 8}.${(i & 255) + 1}`, port: 2323 }] }));
    const events = alarms(run(c, recs));
    expect(events[0]).toMatchObject({ severity: 'medium', observed: 5, threshold: 5, '@timestamp': recs[4]['@timestamp'] });
    expect(events[1]).toMatchObject({ severity: 'high', observed: 50 });
    expect(events).toHaveLength(2);
  });

  it('failures to hosts the device has a name for are an outage of its own service, not a scan', () => {
    const recs = Array.from({ length: 20 }, (_, i) => record({ i, failed: [{ ip: `198.51.100.${i + 1}`, port: 443, name: 'api.vendor.example' }] }));
    expect(alarms(run(c, recs))).toEqual([]);
  });

  it('first contacts that are answered weigh against the failures (the random walk goes both ways)', () => {
    const recs = Array.from({ length: 10 }, (_, i) =>
      record({ i, failed: i < 4 ? [{ ip: `198.51.100.${i + 1}` }] : [], contacts: [{ ip: `192.0.2.${i + 1}`, starts: 1, answered: true }] }));
    expect(alarms(run(c, recs))).toEqual([]);
  });
});

describe('beacon', () => {
  const c = config(['beacon']);
  /** Contacts with `ip` every `period` s (± jitter, deterministic), as bursts in one-minute records. */
  function beacon(period: number, jitter: number, minutes: number, o: Partial<Parameters<typeof contact>[0]> = {}, first: Partial<Parameters<typeof contact>[0]> = {}): InspectionRecord[] {
    // Jitter: uniform in ±jitter of the period, from a small LCG (deterministic, no structure to exploit).
    let seed = 12345;
    const unit = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const times: number[] = [];
    for (let k = 0, t = 5; t < minutes * 60; k++, t = 5 + k * period + period * jitter * unit()) times.push(t);
    return Array.from({ length: minutes }, (_, i) => {
      const bursts = times.filter((t) => t >= i * 60 && t < (i + 1) * 60).map((t) => Math.round((t - i * 60) * 1000));
      // One session: one start, at the beginning; a connection per contact: a start per burst.
      const starts = o.starts === undefined ? (i === 0 ? 1 : 0) : o.starts * bursts.length;
      const cs = bursts.length ? [{ ip: '198.51.100.77', port: 443, bursts, ...o, starts, ...(i === 0 ? first : {}) }] : [];
      return record({ i, contacts: cs });
    });
  }

  it('a jittered beacon on one persistent session to an address nobody resolved: medium, with period and jitter', () => {
    const events = alarms(run(c, beacon(30, 0.1, 20)));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ behavior: 'beacon', severity: 'medium', basis: 'absolute' });
    expect(events[0].evidence).toMatchObject({ kind: 'beacon', session: 'persistent', destination: { ip: '198.51.100.77', port: 443 } });
    const ev = events[0].evidence as { period_seconds: number; jitter: number };
    expect(ev.period_seconds).toBeGreaterThan(25);
    expect(ev.period_seconds).toBeLessThan(35);
    expect(ev.jitter).toBeLessThan(0.2);
  });

  it('a device that looks its server up by DNS is keeping its own session alive, however regular', () => {
    expect(alarms(run(c, beacon(30, 0.1, 20, { name: 'broker.vendor.example', name_source: 'dns' })))).toEqual([]);
  });

  it('a session older than what the collector saw (no start in view) is not judged: its DNS answer was never seen', () => {
    expect(alarms(run(c, beacon(30, 0.1, 20, {}, { starts: 0 })))).toEqual([]);
  });

  it('a beacon that stops is over: its alarm clears although its contacts are still in the six-hour window', () => {
    const stopped = [...beacon(30, 0.1, 20), ...Array.from({ length: 40 }, (_, k) => record({ i: 20 + k }))];
    const events = run(c, stopped).filter((e) => e.behavior === 'beacon');
    expect(events.map((e) => e.alarm)).toEqual(['in-alarm', 'alarm-cleared']);
  });

  it('a far end that never answers is not a channel; irregular contacts are not a beacon', () => {
    expect(alarms(run(c, beacon(30, 0.1, 20, { answered: false })))).toEqual([]);
    expect(alarms(run(c, beacon(30, 0.9, 20)))).toEqual([]);
  });

  it('a name first resolved after warm-up and looked up before every check-in (an implant without a resolver cache) is flagged; a new name under a domain the device uses is not', () => {
    const c10 = config(['beacon'], 10);
    const checkIns = (name: string) => Array.from({ length: 20 }, (_, k) =>
      record({ i: 12 + k, contacts: [{ ip: '198.51.100.78', port: 443, name, name_source: 'dns', starts: 2, bursts: [5000, 35000] }] }));
    const warm = Array.from({ length: 12 }, (_, i) => quiet(i));
    const events = alarms(run(c10, [...warm, ...checkIns('update.mirrorsync.example')]));
    expect(events).toHaveLength(1);
    expect(events[0].evidence).toMatchObject({ kind: 'beacon', session: 'per-contact', destination: { name: 'update.mirrorsync.example', name_source: 'dns' } });
    expect(events[0].summary).toMatch(/by a name new to it and its group/);
    expect(alarms(run(c10, [...warm, ...checkIns('eu.api.vendor.example')]))).toEqual([]);
    // One session resolved once and kept alive (a lock reconnecting to its MQTT broker, whose earlier
    // session predated the monitoring): a keep-alive, not a look-up per check-in.
    const session = checkIns('a30hje92j76kem.iot.us-west-2.amazonaws.example').map((r, k) => ({ ...r, contacts: r.contacts.map((c) => ({ ...c, starts: k === 0 ? 1 : 0 })) }));
    expect(alarms(run(c10, [...warm, ...session]))).toEqual([]);
  });

  it('a new connection per beacon with only an SNI for a name is flagged too (an SNI is the device\'s own word)', () => {
    const events = alarms(run(c, beacon(2.2, 0.02, 5, { name: 'testing.com', name_source: 'sni', starts: 1 })));
    expect(events).toHaveLength(1);
    expect(events[0].evidence).toMatchObject({ session: 'per-contact', destination: { name: 'testing.com', name_source: 'sni' } });
  });
});

describe('dns-tunnel', () => {
  const c = config(['dns-tunnel']);
  const b32 = (k: number, n: number) => Array.from({ length: n }, (_, j) => 'abcdefghijklmnopqrstuvwxyz234567'[(k * 7 + j * 13 + ((k * j) % 5)) % 32]).join('');

  it('a burst of long random labels under one domain with NULL queries (iodine-like): alarm in its interval', () => {
    const names = Array.from({ length: 12 }, (_, k) => `${b32(k, 56)}.t.evil.example`);
    const recs = [record({ i: 0, domains: [{ domain: 'evil.example', queries: 12, distinct_names: 12, name_bytes: names.join('').length, name_length_max: 71, label_max: 56, entropy: 4.6, unusual_types: 12, examples: names.slice(0, 3) }] })];
    const events = alarms(run(c, recs));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ behavior: 'dns-tunnel', severity: 'medium', observed: 12 });
    expect(events[0].evidence).toMatchObject({ kind: 'dns-tunnel', domain: 'evil.example', distinct_names: 12, label_max: 56 });
    expect(events[0].summary).toMatch(/12 distinct names under evil\.example in the last hour/);
  });

  it('many names with long labels and TXT queries is strong: high', () => {
    const recs = [record({ i: 0, domains: [{ domain: 'evil.example', queries: 40, distinct_names: 40, name_bytes: 40 * 80, label_max: 63, entropy: 5.1, unusual_types: 40, examples: ['a'.repeat(60), 'b'.repeat(60), 'c'.repeat(60)] }] })];
    expect(alarms(run(c, recs))[0]).toMatchObject({ severity: 'high' });
  });

  it('a slow tunnel, one long name every few minutes through the usual resolver, adds up within the hour', () => {
    const recs = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0 ? record({ i, domains: [{ domain: 'evil.example', queries: 1, distinct_names: 1, name_bytes: 50, label_max: 40, unusual_types: 1, examples: [`${b32(i, 40)}.evil.example`] }] }) : record({ i }));
    const events = alarms(run(c, recs));
    // Medium at the 8th name, 21 minutes in; high at the 20th (two signals: long labels, unusual types).
    expect(events.map((e) => [e['@timestamp'], e.severity])).toEqual([[recs[21]['@timestamp'], 'medium'], [recs[57]['@timestamp'], 'high']]);
  });

  it('hundreds of retries of one ordinary name in an outage are not a tunnel', () => {
    const recs = Array.from({ length: 3 }, (_, i) => record({ i, domains: [{ domain: 'amazonaws.com', queries: 100, distinct_names: 1, name_bytes: 42, label_max: 14, examples: ['a30hje92j76kem.iot.us-west-2.amazonaws.com'] }] }));
    expect(alarms(run(c, recs))).toEqual([]);
  });

  it('IP-to-ASN look-ups in TXT (octets and AS numbers under one domain) are not a tunnel: TXT alone, with labels too short for data', () => {
    const names = Array.from({ length: 30 }, (_, k) => `${k + 1}.${(k * 37) % 256}.51.198.origin.asn.example-whois.net`);
    const recs = [record({ i: 0, domains: [{ domain: 'example-whois.net', queries: 32, distinct_names: 30, name_bytes: names.join('').length, label_max: 6, entropy: 3.6, unusual_types: 32, examples: names.slice(0, 3) }] })];
    expect(alarms(run(c, recs))).toEqual([]);
    // The same share of TXT with labels that can hold data is a signal again.
    recs[0].dns.domains[0].label_max = 24;
    expect(alarms(run(c, recs))).toHaveLength(1);
  });

  it('a blocklist look-up per address (hundreds of short names under one domain) is not a tunnel', () => {
    const recs = [record({ i: 0, domains: [{ domain: 'spamhaus.org', queries: 185, distinct_names: 177, name_bytes: 177 * 28, label_max: 3, entropy: 3.3, examples: ['4.3.2.1.zen.spamhaus.org', '9.8.7.6.zen.spamhaus.org', '1.1.1.10.zen.spamhaus.org'] }] })];
    expect(alarms(run(c, recs))).toEqual([]);
  });
});

describe('flood', () => {
  const c = config(['flood']);
  const flood = (i: number, pps: number, ip = '198.51.100.200') =>
    record({ i, up: { bytes: pps * 60 * 64, packets: pps * 60 }, down: { bytes: 100, packets: 1 }, contacts: [{ ip, port: 80, transport: 'udp', starts: 1, up_packets: pps * 60, up_bytes: pps * 60 * 64, down_packets: 0, down_bytes: 0 }] });

  it('thousands of one-way packets a second to a host new to the device: high', () => {
    const events = alarms(run(c, [flood(0, 3000)]));
    expect(events[0]).toMatchObject({ behavior: 'flood', severity: 'high' });
    expect(events[0].evidence).toMatchObject({ kind: 'flood', target: { ip: '198.51.100.200' }, new_to_device: true });
  });

  it('hundreds a second: medium; a few: nothing', () => {
    expect(alarms(run(c, [flood(0, 300)]))[0]).toMatchObject({ severity: 'medium' });
    expect(alarms(run(c, [flood(0, 20)]))).toEqual([]);
  });

  it('a one-way stream to a server the device has long used (video to its own server) is not judged here', () => {
    const recs = [...Array.from({ length: 70 }, (_, i) => flood(i, 5, '198.51.100.9')), ...Array.from({ length: 5 }, (_, k) => flood(70 + k, 400, '198.51.100.9'))];
    expect(alarms(run(config(['flood'], 60), recs))).toEqual([]);
  });

  // Mirai's "udp" flood: a random destination port per packet, so each (host, port) far end has a packet or
  // two and only the per-host totals of destinations.hosts show the rate. 60,000 packets a minute to 60 ports
  // of one host; the contacts list 16 of its ports with 20 packets each.
  const randomPorts = (i: number, hosts: boolean) => {
    const ip = '198.51.100.77';
    const contacts = Array.from({ length: 16 }, (_, k) => ({ ip, port: 1024 + k * 977, transport: 'udp' as const, starts: 1, up_packets: 20 + (k === 3 ? 5 : 0), up_bytes: 20 * 512, down_packets: 0, down_bytes: 0 }));
    return record({
      i, up: { bytes: 60_000 * 512, packets: 60_000 }, down: { bytes: 100, packets: 1 }, contacts,
      ...(hosts ? { hosts: [{ ip, port: 1024 + 3 * 977, transport: 'udp' as const, up_packets: 60_000, down_packets: 0, up_bytes: 60_000 * 512, down_bytes: 0, ports: 60 }] } : {}),
    });
  };

  it('a random-port flood to one host: its packets over all ports count, high, naming the number of ports', () => {
    const events = alarms(run(c, [randomPorts(0, true)]));
    expect(events[0]).toMatchObject({ behavior: 'flood', severity: 'high', observed: 1000 });
    // The target is shown by the host's busiest far end, as the record gives it.
    expect(events[0].evidence).toMatchObject({ kind: 'flood', target: { ip: '198.51.100.77', port: 1024 + 3 * 977, transport: 'udp' }, ports: 60, new_to_device: true });
    expect(events[0].summary).toContain('packets per second one-way to 198.51.100.77 on 60 ports');
    // Without the per-host totals (a record of a collector before them), the contacts show a few packets a second.
    expect(alarms(run(c, [randomPorts(0, false)]))).toEqual([]);
  });

  it('many ports of its own server, both ways, at the same rate: no flood', () => {
    const server = '203.0.113.10';
    const busy = (i: number) => record({
      i, up: { bytes: 60_000 * 200, packets: 60_000 }, down: { bytes: 60_000 * 200, packets: 60_000 },
      contacts: [{ ip: server, name: 'api.vendor.example', name_source: 'dns', port: 443, up_packets: 40, down_packets: 40 }],
      hosts: [{ ip: server, name: 'api.vendor.example', name_source: 'dns', up_packets: 60_000, down_packets: 60_000, up_bytes: 60_000 * 200, down_bytes: 60_000 * 200, ports: 60 }],
    });
    const recs = [...Array.from({ length: 70 }, (_, i) => quiet(i)), ...Array.from({ length: 5 }, (_, k) => busy(70 + k))];
    expect(alarms(run(config(['flood'], 60), recs))).toEqual([]);
    // Two-way alone is enough, even to a host new to the device.
    expect(alarms(run(c, [busy(0)]))).toEqual([]);
  });
});

describe('exfiltration and new destinations', () => {
  it('megabytes up within the hour to a host new to the device and its group: medium, naming the destination', () => {
    const c = config(['exfiltration'], 10);
    const recs = [...Array.from({ length: 12 }, (_, i) => quiet(i)),
      ...Array.from({ length: 6 }, (_, k) => record({ i: 12 + k, contacts: [{ ip: '198.51.100.66', port: 8443, starts: 1, up_bytes: 1_000_000, up_packets: 800 }] }))];
    const events = alarms(run(c, recs));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ behavior: 'exfiltration', severity: 'medium', basis: 'device' });
    expect(events[0].evidence).toMatchObject({ kind: 'destinations', destinations: [{ ip: '198.51.100.66', port: 8443 }] });
  });

  it('a new address behind a name the device already uses is no news', () => {
    const c = config(['exfiltration', 'new-destination'], 10);
    const recs = [...Array.from({ length: 12 }, (_, i) => quiet(i)),
      ...Array.from({ length: 8 }, (_, k) => record({ i: 12 + k, contacts: [{ ip: `203.0.113.${50 + k}`, name: 'api.vendor.example', name_source: 'dns', up_bytes: 2_000_000 }] }))];
    expect(alarms(run(c, recs))).toEqual([]);
  });

  it('while a device warms up, a named destination is news when enough of its group has warmed up without it, never before', () => {
    const c = config(['exfiltration'], 10);
    const peers = (n: number, minutes = 12) => Array.from({ length: minutes }, (_, i) => Array.from({ length: n }, (_, d) => quiet(i, { device: `peer-${d}` }))).flat();
    const upload = (from: number) => Array.from({ length: 3 }, (_, k) =>
      record({ i: from + k, device: 'new-1', contacts: [{ ip: '198.51.100.67', port: 443, name: 'up.syncdrop.example', name_source: 'dns', starts: 1, up_bytes: 600_000, up_packets: 500 }] }));
    const events = alarms(run(c, [...peers(10), ...upload(12)]));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ behavior: 'exfiltration', basis: 'group', device: { id: 'new-1' } });
    // Three peers cannot say what their group uses, nor ten still in their own warm-up (sessions older than
    // the monitoring hide their names): the new device's named destinations are not judged yet.
    expect(alarms(run(c, [...peers(3), ...upload(12)]))).toEqual([]);
    expect(alarms(run(c, [...peers(10, 5), ...upload(5)]))).toEqual([]);
  });

  it('a new destination without a resolved name, used in two records after warm-up: low, never more', () => {
    const c = config(['new-destination'], 10);
    const recs = [...Array.from({ length: 12 }, (_, i) => quiet(i)), record({ i: 12, contacts: [{ ip: '198.51.100.5' }] }), record({ i: 13, contacts: [{ ip: '198.51.100.5' }] })];
    const events = alarms(run(c, recs));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ behavior: 'new-destination', severity: 'low' });
  });

  it('during warm-up everything is new to the device: no new-destination alarm in its first minutes', () => {
    const c = config(['new-destination'], 60);
    const recs = Array.from({ length: 10 }, (_, i) => record({ i, contacts: [{ ip: `198.51.100.${i + 1}` }, { ip: `198.51.100.${i + 1}` }] }));
    expect(alarms(run(c, recs))).toEqual([]);
  });
});

describe('corroborated', () => {
  it('two independent evidence behaviors in alarm at once raise one high event naming both', () => {
    const c = config(['scan', 'dns-tunnel', 'corroborated']);
    const failed = Array.from({ length: 6 }, (_, k) => ({ ip: `198.51.100.${k + 1}`, port: 23 }));
    const tunnel = { domain: 'evil.example', queries: 12, distinct_names: 12, name_bytes: 900, label_max: 50, unusual_types: 12, examples: ['x'.repeat(50)] };
    const events = alarms(run(c, [record({ i: 0, failed }), record({ i: 1, domains: [tunnel] })]));
    expect(events.map((e) => `${e.behavior}:${e.severity}`)).toEqual(['scan:medium', 'dns-tunnel:medium', 'corroborated:high']);
    expect(events[2].evidence).toEqual({ kind: 'corroborated', behaviors: ['scan', 'dns-tunnel'] });
  });
});

describe('state', () => {
  it('a checkpoint of evidence state continues exactly, and one written under another layout is refused', () => {
    const c = config(['scan', 'beacon', 'dns-tunnel', 'exfiltration', 'new-destination']);
    const recs = Array.from({ length: 30 }, (_, i) => record({ i, failed: i % 4 === 0 ? [{ ip: `198.51.100.${i + 1}` }] : [], contacts: [contact({ ip: '198.51.100.77', bursts: [1000, 31000] })] }));
    const a = createAnalyzer(c);
    for (const r of recs.slice(0, 15)) a.process(r);
    const b = restoreAnalyzer(c, JSON.parse(JSON.stringify(a)));
    const rest = recs.slice(15);
    expect(rest.flatMap((r) => [...b.process(r)])).toEqual(rest.flatMap((r) => [...a.process(r)]));
    const other = createAnalyzer(config(['scan']));
    expect(other.restore('dev-1', a.snapshot('dev-1')!)).toBe(false);
    expect(other.deviceIds()).toEqual([]);
  });
});

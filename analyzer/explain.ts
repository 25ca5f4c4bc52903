// The sentence of an event: who, what was seen (with its evidence: which hosts, which domain and
// names, which period), against what line and on what basis, since when, and what to do. Numbers are
// written for people (4.1 MB, 1,234, 37%), times in UTC; a count is given as observed in its interval
// with the per-minute rate it was judged on when the interval is not a minute ("105 in the 5 minutes
// from 15:35 (21 per minute)").

import type { AnomalyEvent, Evidence } from '../contracts/anomaly-event.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { METRIC_INFO, type Metric } from './features.js';

/** A value of a metric rule's metric in its unit; an evidence behavior's count as a count. */
export function formatValue(metric: Metric | string, x: number): string {
  const unit = (METRIC_INFO as Record<string, { unit: string } | undefined>)[metric]?.unit ?? 'count';
  if (unit === 'bytes') return formatBytes(x);
  if (unit === 'share') return `${Math.round(x * 100)}%`;
  if (unit === 'score') return x.toFixed(2);
  return count(x);
}

export function formatBytes(x: number): string {
  if (Math.round(x) === 0) return '0 B';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (x >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  return `${u === 0 ? Math.round(x) : x.toFixed(x < 10 ? 1 : 0)} ${units[u]}`;
}

const count = (x: number): string => (Math.round(x) || 0).toLocaleString('en-US'); // || 0 turns -0 into 0
const hhmm = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
const span = (seconds: number): string => (seconds === 60 ? 'the minute' : seconds % 60 === 0 ? `the ${seconds / 60} minutes` : `the ${seconds} seconds`);
const far = (d: { ip: string; port: number; transport: string; name?: string; name_source?: string }): string =>
  `${d.ip}:${d.port}/${d.transport}${d.name ? ` (${d.name}${d.name_source === 'sni' ? ', TLS SNI only' : ''})` : ''}`;

function who(e: Omit<AnomalyEvent, 'summary'>): string {
  const extra = [e.device.imsi ? `IMSI ${e.device.imsi}` : null, e.device.ip, e.device.group ? `group ${e.device.group}` : null].filter(Boolean);
  return `Device ${e.device.id} (${extra.join(', ')})`;
}

const BASIS = {
  absolute: 'judged on its own, from the first record',
  device: "judged against the device's own history",
  group: 'judged against its group while the device warms up',
} as const;

/** What was seen, for a metric rule: the value in its interval, and per minute when the interval is not one. */
function seenMetric(e: Omit<AnomalyEvent, 'summary'>, r: InspectionRecord): string {
  const m = e.metric as Metric;
  const info = METRIC_INFO[m];
  if (!info.rate || r.interval.seconds === 60) return `${formatValue(m, e.observed)} in ${span(r.interval.seconds)} from ${hhmm(e['@timestamp'])}`;
  return `${formatValue(m, (e.observed * r.interval.seconds) / 60)} in ${span(r.interval.seconds)} from ${hhmm(e['@timestamp'])} (${formatValue(m, e.observed)} per minute)`;
}

/** The threshold and what it rests on: "at or above the threshold of 150 per minute (the p99 of its group meters over 212 devices: 50; usual 1 ± 1)". */
function against(e: Omit<AnomalyEvent, 'summary'>): string {
  const m = e.metric as Metric;
  const b = e.baseline;
  const rate = METRIC_INFO[m].rate ? ' per minute' : '';
  const basis =
    b.scope === 'group' ? `the ${b.statistic} of its group ${b.group} over ${b.devices} devices: ${formatValue(m, b.value)}`
    : b.scope === 'device' ? `its own ${b.statistic === 'mad' ? 'median + MADs' : b.statistic}: ${formatValue(m, b.value)}`
    : null;
  const usual = b.median !== undefined ? `usual ${formatValue(m, b.median)} ± ${formatValue(m, b.mad ?? 0)}${b.time_of_day ? ` at ${b.time_of_day}` : ''}` : null;
  const why = [basis, usual].filter(Boolean).join('; ');
  const dir = e.comparison === 'greater-than' ? 'above' : e.comparison === 'greater-than-equals' ? 'at or above' : e.comparison === 'less-than' ? 'below' : 'at or below';
  return `${dir} the ${b.scope === 'static' ? 'fixed ' : ''}threshold of ${formatValue(m, e.threshold)}${rate}${why ? ` (${why})` : ''}`;
}

/** The evidence, in words. */
function evidenceWords(x: Evidence, e: Omit<AnomalyEvent, 'summary'>): string {
  switch (x.kind) {
    case 'scan':
      return `first contacts failed to ${count(x.failed_hosts)} distinct hosts new to it ${e.unit} (${count(e.threshold)} make a scan at the configured false-alarm rate; ${count(x.answered_hosts)} answered), about ${x.failed_per_minute} a minute` +
        `${x.ports.length ? `, on ports ${x.ports.join(', ')}` : ''}${x.sample.length ? `; e.g. ${x.sample.slice(0, 3).map((s) => `${s.ip}:${s.port}`).join(', ')}` : ''}`;
    case 'beacon':
      return `contacts ${far(x.destination)}, ${x.destination.name_source === 'dns' ? 'by a name new to it and its group' : 'an address it never resolved'}, every ${x.period_seconds} s (jitter ${Math.round(x.jitter * 100)}%, ${x.contacts} contacts over ${Math.round(x.span_seconds / 60)} min, ${x.session === 'persistent' ? 'inside one session' : 'a new connection each time'}); ` +
        `${x.group_devices <= 1 ? 'no other device of its group uses it' : `${x.group_devices} devices of its group use it`}`;
    case 'dns-tunnel':
      return `${count(x.distinct_names)} distinct names under ${x.domain} ${e.unit} (${count(x.queries)} queries): ${x.signals.join(', ')}; e.g. ${x.examples.join(', ')}${x.resolvers.length ? `; via ${x.resolvers.join(', ')}` : ''}`;
    case 'flood':
      return `${count(x.packets_per_second)} packets per second one-way to ${x.ports ? `${x.target.ip}${x.target.name ? ` (${x.target.name})` : ''} on ${count(x.ports)} ports` : far(x.target)}, a host new to it (${x.one_way_ratio} sent for each one back)`;
    case 'destinations':
      return `${formatBytes(x.bytes_up)} up ${e.unit} to destinations new to it and its group: ${x.destinations.slice(0, 3).map((d) => `${far(d)} ${formatBytes(d.bytes_up)} up`).join(', ')}${x.destinations.length > 3 ? `, and ${x.destinations.length - 3} more` : ''}`;
    case 'corroborated':
      return `${x.behaviors.join(' and ')} are in alarm at once: independent evidence that agrees`;
    case 'volume':
      return `top destinations ${x.top.slice(0, 3).map((d) => `${far(d)} ${formatBytes(d.bytes)}`).join(', ')}`;
  }
}

function warmupWords(e: Omit<AnomalyEvent, 'summary'>): string {
  if (e.warmup.complete || e.basis === 'absolute') return '';
  const hours = (s: number): string => (s >= 7200 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 60)} min`);
  return ` The device has ${hours(e.warmup.seconds)} of history; its own baseline needs ${hours(e.warmup.needed)}.`;
}

export function summarize(e: Omit<AnomalyEvent, 'summary'>, advice: string, r: InspectionRecord): string {
  const tag = `[${e.behavior}, ${e.severity}; ${BASIS[e.basis]}]`;
  if (e.alarm === 'in-alarm') {
    const suspect = e.suspected ? ` Suspected: ${e.suspected}.` : '';
    if (e.detector === 'evidence') {
      const what = e.evidence ? evidenceWords(e.evidence, e) : `${count(e.observed)} ${e.metric} ${e.unit}`;
      return `${who(e)}: ${what} ${tag}.${suspect}${warmupWords(e)} ${advice}`;
    }
    const m = e.metric as Metric;
    const times = e.score >= 1.95 ? `, ${e.score >= 10 ? Math.round(e.score) : e.score.toFixed(1)}x past it` : '';
    const run = e.datapoints > 1 ? ` for ${e.datapoints} consecutive intervals` : '';
    const top = e.evidence ? `; ${evidenceWords(e.evidence, e)}` : '';
    return `${who(e)}: ${METRIC_INFO[m].label}: ${seenMetric(e, r)}, ${against(e)}${times}${run}${top} ${tag}.${suspect}${warmupWords(e)} ${advice}`;
  }
  const since = e.alarm_since ? ` raised ${hhmm(e.alarm_since)}` : '';
  if (e.detector === 'evidence') return `${who(e)}: the ${e.behavior} alarm${since} is cleared: ${count(e.observed)} ${e.metric} ${e.unit} (the line is ${count(e.threshold)}), for ${e.datapoints} consecutive records.`;
  const m = e.metric as Metric;
  return `${who(e)}: ${METRIC_INFO[m].label}: back to ${formatValue(m, e.observed)}${METRIC_INFO[m].rate ? ' per minute' : ''} (threshold ${formatValue(m, e.threshold)}) for ${e.datapoints} consecutive intervals; the ${e.behavior} alarm${since} is cleared.`;
}

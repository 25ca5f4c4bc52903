// The sentence of an event: who, what was seen, against what, since when, and what to do. Numbers
// are written for people (4.1 MB, 1,234, 37%), times in UTC.

import { METRIC_INFO, type Metric } from './features.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';

export function formatValue(metric: Metric, x: number): string {
  const unit = METRIC_INFO[metric].unit;
  if (unit === 'bytes') return formatBytes(x);
  if (unit === 'share') return `${Math.round(x * 100)}%`;
  if (unit === 'score') return x.toFixed(2);
  return (Math.round(x) || 0).toLocaleString('en-US'); // || 0 turns -0 into 0
}

function formatBytes(x: number): string {
  if (Math.round(x) === 0) return '0 B';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (x >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  return `${u === 0 ? Math.round(x) : x.toFixed(x < 10 ? 1 : 0)} ${units[u]}`;
}

const hhmm = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function who(e: AnomalyEvent): string {
  const extra = [e.device.imsi ? `IMSI ${e.device.imsi}` : null, e.device.ip, e.device.group ? `group ${e.device.group}` : null].filter(Boolean);
  return `Device ${e.device.id} (${extra.join(', ')})`;
}

/** The threshold and what it rests on: "the threshold of 150 (its own p99: 3; usual 1 ± 1 at 09:00-12:00 UTC)". */
function against(e: AnomalyEvent): string {
  const m = e.metric as Metric;
  const b = e.baseline;
  const thr = formatValue(m, e.threshold);
  const basis =
    b.scope === 'group' ? `the ${b.statistic} of its group ${b.group} over ${b.devices} devices: ${formatValue(m, b.value)}`
    : b.scope === 'device' ? `its own ${b.statistic === 'mad' ? 'median + MADs' : b.statistic}: ${formatValue(m, b.value)}`
    : null;
  const usual = b.median !== undefined ? `usual ${formatValue(m, b.median)} ± ${formatValue(m, b.mad ?? 0)}${b.time_of_day ? ` at ${b.time_of_day}` : ''}` : null;
  const why = [basis, usual].filter(Boolean).join('; ');
  return `the ${b.scope === 'static' ? 'fixed ' : ''}threshold of ${thr}${why ? ` (${why})` : ''}`;
}

export function summarize(e: Omit<AnomalyEvent, 'summary'>, advice: string, intervalSeconds: number): string {
  const m = e.metric as Metric;
  const label = METRIC_INFO[m].label;
  const span = `${Math.round(intervalSeconds / 60)}-minute interval`;
  const ev = e as AnomalyEvent;
  if (e.alarm === 'in-alarm') {
    const dir = e.comparison.startsWith('greater') ? 'above' : 'below';
    const times = e.score >= 1.95 ? `, ${e.score >= 10 ? Math.round(e.score) : e.score.toFixed(1)}x past it` : '';
    const run = e.datapoints > 1 ? ` for ${e.datapoints} consecutive intervals` : '';
    const suspect = e.suspected ? ` Suspected: ${e.suspected}.` : '';
    return `${who(ev)}: ${label}: ${formatValue(m, e.observed)} in the ${span} from ${hhmm(e['@timestamp'])}, ${dir} ${against(ev)}${times}${run} [${e.behavior}, ${e.severity}].${suspect} ${advice}`;
  }
  return `${who(ev)}: ${label}: back to ${formatValue(m, e.observed)} (threshold ${formatValue(m, e.threshold)}) for ${e.datapoints} consecutive intervals; the ${e.behavior} alarm raised ${e.alarm_since ? hhmm(e.alarm_since) : ''} is cleared.`;
}

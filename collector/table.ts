// Records as a table for people (tapwatch collect --out - --format table, and the demo).

import type { InspectionRecord } from '../contracts/inspection-record.js';

const kb = (n: number) => (n >= 10_000_000 ? `${(n / 1e6).toFixed(0)}M` : n >= 10_000 ? `${(n / 1e3).toFixed(0)}k` : String(n));

export function recordsTable(records: InspectionRecord[]): string {
  if (records.length === 0) return '';
  const head = ['interval start', 'device', 'tunnel', 'up B/pkts', 'down B/pkts', 'flows', 'dsts', 'top protocol', 'top destination', 'syn/synack/rst', 'dns q'];
  const rows = records.map((r) => {
    const s = r['traffic.statistics'];
    const t = r.tunnel;
    const tunnelId = t.key ?? t.vni ?? t.session ?? t.call_id;
    const top = r.destinations.top[0];
    return [
      r.interval.start.replace('T', ' ').replace('.000Z', 'Z') + (r.interval.complete ? '' : '*'),
      r.device.id === r.device.ip ? r.device.ip : `${r.device.id} (${r.device.ip})`,
      t.type + (tunnelId === undefined ? '' : `:${tunnelId}`),
      `${kb(r.uplink.bytes)}/${r.uplink.packets}`,
      `${kb(r.downlink.bytes)}/${r.downlink.packets}`,
      String(s['unique.flows']),
      String(r.destinations.distinct),
      r['detected.protos'][0]?.name ?? '',
      top ? `${top.ip}${top.port ? `:${top.port}` : ''}/${top.transport}` : '',
      `${r.tcp.syn}/${r.tcp.syn_ack}/${r.tcp.rst}`,
      String(r.dns.queries),
    ];
  });
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i])).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

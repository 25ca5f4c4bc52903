// tapwatch decap: read a capture, decapsulate every frame, print what is inside.
// The loop is the hot path: reader → decoder → summary, no allocation per frame.

import { statSync } from 'node:fs';
import { openCaptureFile } from '../collector/sources/capture-file.js';
import { Decapsulator } from '../gre-decap/decap.js';
import { Frame, type ReaderStats } from '../gre-decap/readers/frame.js';
import { PacketMeta } from '../gre-decap/meta.js';
import { DecapSummary, type DecapSummaryJson } from '../gre-decap/summary.js';
import { commandConfig, CONFIG_HELP, CONFIG_OPTION, DECAP_HELP, DECAP_OPTIONS, decapSettings } from './config.js';
import { intOption, parseCommand, UsageError, type CommandSpec } from './args.js';
import { Progress } from './progress.js';

const spec: CommandSpec = {
  name: 'decap',
  usage: 'tapwatch decap <capture.pcap|capture.pcapng> [options]',
  summary:
    'Decapsulates every frame (GRE, ERSPAN I/II/III, VXLAN, Geneve, nested) and summarises the innermost IP\n' +
    'traffic: frames with each tunnel, IP packets and bytes, transports, destinations, malformed frames by reason.',
  options: {
    json: { type: 'boolean' },
    format: { type: 'string' },
    ...DECAP_OPTIONS,
    top: { type: 'string' },
    progress: { type: 'boolean' },
    ...CONFIG_OPTION,
  },
  help: {
    json: 'print the summary as JSON (same as --format json)',
    format: "'table' (default) or 'json'",
    ...DECAP_HELP,
    top: 'destinations shown in the table (default 10; JSON lists all)',
    progress: 'show progress on stderr (default: when stderr is a terminal)',
    config: `${CONFIG_HELP}: decap (vxlanPorts, genevePorts, maxTunnelDepth), as collect reads it`,
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(`expected one capture file, got ${positionals.length}`);
  const format = values.json ? 'json' : ((values.format as string | undefined) ?? 'table');
  if (format !== 'json' && format !== 'table') throw new UsageError(`--format: expected 'table' or 'json', got '${format}'`);
  const decap = new Decapsulator(decapSettings(values, await commandConfig(values)));
  const top = intOption('top', values.top as string | undefined, 1, 1_000_000) ?? 10;

  const path = positionals[0];
  const progress = new Progress(path, statSync(path).size, (values.progress as boolean | undefined) ?? process.stderr.isTTY === true);
  const read = readCapture(path, decap, progress);
  if (format === 'json') process.stdout.write(read.summary.toJSONText(path, read.format, decap, read.stats, 1) + '\n');
  else process.stdout.write(table(read.summary.toJSON(path, read.format, decap, read.stats), top));
  if (read.stats.error) {
    process.stderr.write(`tapwatch decap: ${path}: reading stopped early: ${read.stats.error}\n`);
    return 1;
  }
  return 0;
}

/** Read, decapsulate and summarise a whole capture (the loop `tapwatch decap` runs). */
export function summarizeCapture(path: string, decap = new Decapsulator(), progress?: Progress): DecapSummaryJson {
  const read = readCapture(path, decap, progress);
  return read.summary.toJSON(path, read.format, decap, read.stats);
}

function readCapture(path: string, decap: Decapsulator, progress?: Progress): { summary: DecapSummary; format: string; stats: ReaderStats } {
  const reader = openCaptureFile(path);
  const frame = new Frame();
  const meta = new PacketMeta();
  const summary = new DecapSummary();
  try {
    while (reader.next(frame)) {
      decap.decodeFrame(frame, meta);
      summary.add(frame.buf, meta);
      if (progress !== undefined && (summary.frames & 0xfffff) === 0) progress.update(reader.stats.bytes, summary.frames);
    }
  } finally {
    reader.close();
    progress?.done(reader.stats.bytes, summary.frames);
  }
  return { summary, format: reader.format, stats: reader.stats };
}

function table(r: DecapSummaryJson, top: number): string {
  const ip = r.innermost_ip;
  const rows: [string, string | number][] = [
    ['file', r.file],
    ['format', r.format],
    ['frames', r.outer_packet_count],
    ['frames with GRE', r.encapsulation.frames_with.gre],
    ['frames with ERSPAN', r.encapsulation.frames_with.erspan],
    ['frames with VXLAN', r.encapsulation.frames_with.vxlan],
    ['frames with Geneve', r.encapsulation.frames_with.geneve],
    ['innermost IP packets', `${ip.packets} (IPv4 ${ip.ipv4_packets}, IPv6 ${ip.ipv6_packets})`],
    ['frames without IP', ip.frames_without_ip],
    ['frames with IP fragments', ip.frames_with_ip_fragment],
    ['IP bytes (declared)', ip.ip_bytes_total],
    ['transport', `tcp ${ip.transport.tcp}, udp ${ip.transport.udp}, icmp ${ip.transport.icmp}, other ${ip.transport.other}`],
    ['distinct sources', ip.distinct_src_ip_count],
    ['distinct destinations', Object.keys(ip.dst_ip_counts).length],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  let out = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
  const dsts = Object.entries(ip.dst_ip_counts).slice(0, top);
  if (dsts.length) out += `\ntop destinations\n${dsts.map(([a, n]) => `  ${String(n).padStart(10)}  ${a}`).join('\n')}\n`;
  const bad = { ...r.malformed, ...r.notes };
  if (Object.keys(bad).length) {
    out += `\nmalformed frames by reason, and notes\n${Object.entries(bad).map(([k, n]) => `  ${String(n).padStart(10)}  ${k}`).join('\n')}\n`;
  }
  const rd = r.reader;
  if (rd.error || rd.truncated_tail_bytes || rd.skipped_blocks || rd.odd_lengths) {
    out += `\nreader\n  truncated tail bytes  ${rd.truncated_tail_bytes}\n  skipped blocks        ${rd.skipped_blocks}\n  odd lengths           ${rd.odd_lengths}\n`;
    if (rd.error) out += `  error                 ${rd.error}\n`;
  }
  return out;
}

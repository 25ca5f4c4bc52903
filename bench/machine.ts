// What the figures were measured on: absolute numbers move from machine to machine, so every
// bench report carries the CPU, core count, memory, kernel and the versions of every tool run.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  tools: Record<string, string>;
}

/** The first `lines` lines a tool prints about its version, joined with ' / '. */
function version(cmd: string, args: string[], lines = 1): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'not installed';
  return `${r.stdout}${r.stderr}`.trim().split('\n').slice(0, lines).join(' / ');
}

export function machineInfo(root: string): MachineInfo {
  let cpu = cpus()[0]?.model ?? 'unknown';
  if (existsSync('/proc/cpuinfo')) {
    // Cloud VMs often say only "AMD EPYC": family and model tell the generation (26 = Zen 5).
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.+)$`, 'm').exec(info)?.[1].trim();
    const name = field('model name');
    if (name) cpu = `${name} (family ${field('cpu family') ?? '?'}, model ${field('model') ?? '?'})`;
  }
  const pkg = join(root, 'node_modules/pcap-parser/package.json');
  return {
    cpu,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    tools: {
      tcpdump: version('tcpdump', ['--version'], 2), // tcpdump, then libpcap
      suricata: version('suricata', ['-V']),
      'pcap-parser': existsSync(pkg) ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version : 'not installed',
    },
  };
}

export function formatMachine(m: MachineInfo): string {
  return [
    `cpu: ${m.cpu} (${m.cores} cores), ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`,
    `tools: ${Object.entries(m.tools).map(([k, v]) => `${k}: ${v}`).join('; ')}`,
  ].join('\n');
}

// node dist/synth/scenarios/cli.js --out DIR [--devices N --days D --seed S --interval 60
//   --incidents-per-type K --start ISO --learning-hours H --joiners N]
//
// Writes DIR/mirror.pcap (GRE-mirrored Ethernet/IPv4 of devices in 10.128.0.0/9), DIR/inventory.csv
// and DIR/labels.json (see labels.ts). Same options, same bytes.

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateScenario, SCENARIO_DEFAULTS } from './generate.js';

const HELP = `Usage: node dist/synth/scenarios/cli.js --out DIR [options]

A labelled IoT fleet as a GRE traffic-mirror capture: five device classes with their normal traffic,
benign noise (outages and reconnect storms, resolver outages, address rotation, NTP pools, backlog
bursts, firmware waves, an endpoint move, devices joining) and incidents (scan, dns-tunnel, beacon,
exfiltration, flood) drawn over wide ranges. Writes DIR/mirror.pcap, DIR/inventory.csv, DIR/labels.json.

  --out DIR                 output directory (created; required)
  --devices N               devices present from the start (default ${SCENARIO_DEFAULTS.devices})
  --days D                  length of the run in days, fractions allowed (default ${SCENARIO_DEFAULTS.days})
  --seed S                  PRNG seed (default ${SCENARIO_DEFAULTS.seed})
  --interval S              the analyzer's interval in seconds: incidents last at least two (default ${SCENARIO_DEFAULTS.interval})
  --incidents-per-type K    incidents of each type (default ${SCENARIO_DEFAULTS.incidentsPerType})
  --start ISO               first timestamp (default ${SCENARIO_DEFAULTS.start})
  --learning-hours H        no incident before this, except on devices compromised within 10 minutes of joining
                            (default a quarter of the run, at most 24)
  --joiners N               devices that join during the run (default 2 % of --devices, at least 3)
  --help                    this text
`;

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n)) throw new RangeError(`--${name} must be a number, got '${v}'`);
  return n;
}

function main(): void {
  const { values: v } = parseArgs({
    options: {
      out: { type: 'string' }, devices: { type: 'string' }, days: { type: 'string' }, seed: { type: 'string' },
      interval: { type: 'string' }, 'incidents-per-type': { type: 'string' }, start: { type: 'string' },
      'learning-hours': { type: 'string' }, joiners: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { process.stdout.write(HELP); return; }
  if (!v.out) { process.stderr.write(`--out is required\n\n${HELP}`); process.exitCode = 2; return; }
  const res = generateScenario({
    out: v.out, devices: num('devices', v.devices), days: num('days', v.days), seed: num('seed', v.seed),
    interval: num('interval', v.interval), incidentsPerType: num('incidents-per-type', v['incidents-per-type']),
    start: v.start, learningHours: num('learning-hours', v['learning-hours']), joiners: num('joiners', v.joiners),
  });
  const l = res.labels;
  process.stderr.write(`scenarios: ${res.packets.toLocaleString('en-US')} packets, ${(res.bytes / 1e6).toFixed(1)} MB, `
    + `${l.devices.length} devices, ${l.incidents.length} incidents, ${l.benign.length} benign events in ${res.seconds.toFixed(1)} s `
    + `(${Math.round(res.packets / res.seconds).toLocaleString('en-US')} packets/s) → ${res.dir}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`scenarios: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}

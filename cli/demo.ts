// tapwatch demo: the embedded default. Collector, analyzer, response policy and control API in one
// process on the bundled capture with an incident, then a report of what it saw, what it flagged
// and why, what it did, and where the control API listens (kept up with --serve).

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { runDemo, QUARANTINE_GROUP, type DemoReport } from '../demo/embedded.js';
import { intOption, parseCommand, type CommandSpec } from './args.js';
import { DeviceNets } from '../collector/device-nets.js';
import { commandConfig, CONFIG_HELP, CONFIG_OPTION, DECAP_OPTIONS, decapSettings } from './config.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..'); // dist/cli → package root
const DEMO = join(ROOT, 'fixtures', 'demo');

const spec: CommandSpec = {
  name: 'demo',
  usage: 'tapwatch demo [--capture FILE --inventory FILE] [--port N] [--serve] [--json]',
  summary:
    'Replays a mirror capture through the whole pipeline in one process (no Kafka, no Elasticsearch): GRE/VXLAN/\n' +
    'Geneve decapsulation, per-device inspection records, per-device baselines and behaviors, the response policy,\n' +
    'and the control API on loopback, which the responder calls over HTTP with an analyzer key. Default input: the\n' +
    'bundled capture of 24 smart meters in which one starts a Mirai-like telnet sweep (fixtures/demo/README.md).',
  options: {
    capture: { type: 'string' },
    inventory: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    db: { type: 'string' },
    'quarantine-gateway': { type: 'string' },
    'device-net': { type: 'string', multiple: true },
    'exclude-address': { type: 'string', multiple: true },
    ...DECAP_OPTIONS,
    serve: { type: 'boolean' },
    json: { type: 'boolean' },
    'log-level': { type: 'string' },
    ...CONFIG_OPTION,
  },
  help: {
    capture: 'pcap/pcapng mirror to replay (default fixtures/demo/incident-mirror.pcap)',
    inventory: 'device registry CSV/JSON, imported into the control API (default: with --capture, devices.inventory of the config file; else fixtures/demo/incident-inventory.csv)',
    host: 'control API address (default 127.0.0.1)',
    port: 'control API port (default 0: any free port)',
    db: "control API SQLite file (default ':memory:')",
    'quarantine-gateway': 'redirect gateway of the quarantine group (default 192.0.2.254)',
    'device-net': 'a device network, CIDR, repeatable (default: with --capture, devices.networks of the config file; else 10.128.0.0/9, as collect)',
    'exclude-address': 'an address (or CIDR) in a device network that is not a device, e.g. the site router; repeatable (default: with --capture, devices.exclude of the config file)',
    'vxlan-ports': 'UDP ports decoded as VXLAN (default: with --capture, decap.vxlanPorts of the config file; else 4789)',
    'geneve-ports': 'UDP ports decoded as Geneve (default: with --capture, decap.genevePorts of the config file; else 6081)',
    'max-tunnel-depth': 'nested tunnels allowed before a frame counts as malformed (default: with --capture, decap.maxTunnelDepth of the config file; else 8)',
    serve: 'keep the control API up after the replay, until Ctrl-C, and print a key to try it with',
    json: 'print the report as JSON',
    'log-level': 'pino level of the JSON logs on stderr (default warn)',
    config: [
      `${CONFIG_HELP};`,
      'with --capture (your own mirror) the demo reads devices (networks, exclude, inventory) and decap from it, as',
      'collect does; the bundled capture keeps its own. Never control.* (the demo\'s control API is a throwaway, not',
      'your control.db or port), interval, rules or policy (tuned to the bundled incident). The file is checked either way.',
    ].join(`\n${' '.repeat(33)}`),
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  // The file is checked either way; its site settings (devices, decap) are for the operator's own mirror.
  const cfg = await commandConfig(v);
  const site = v.capture !== undefined ? cfg : {};
  const nets = new DeviceNets((v['device-net'] as string[] | undefined) ?? site.devices?.networks ?? ['10.128.0.0/9'], (v['exclude-address'] as string[] | undefined) ?? site.devices?.exclude ?? []);
  const log = pino({ name: 'tapwatch-demo', level: (v['log-level'] as string | undefined) ?? 'warn' }, pino.destination(2));
  const demo = await runDemo({
    capture: (v.capture as string | undefined) ?? join(DEMO, 'incident-mirror.pcap'),
    inventory: (v.inventory as string | undefined) ?? site.devices?.inventory ?? join(DEMO, 'incident-inventory.csv'),
    host: (v.host as string | undefined) ?? '127.0.0.1',
    port: intOption('port', v.port as string | undefined, 0, 65535) ?? 0,
    db: (v.db as string | undefined) ?? ':memory:',
    quarantineGateway: (v['quarantine-gateway'] as string | undefined) ?? '192.0.2.254',
    deviceNets: nets.cidrs.slice(),
    excludeAddresses: nets.excluded.slice(),
    decap: decapSettings(v, site),
    log,
  });
  const r = demo.report;
  if (v.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else process.stdout.write(formatReport(r, v.serve === true));
  const failed = r.reader.error ? 1 : 0;
  if (!v.serve) {
    await demo.close();
    return failed;
  }
  const { authKeyId, authKey } = demo.server.store.createKey('read-only', 'tapwatch demo visitor');
  process.stdout.write(
    `\nThe control API stays up until Ctrl-C. A read-only key to look around with:\n` +
      `  curl -s -X POST ${r.controlUrl}/v1/auth -H 'content-type: application/json' \\\n` +
      `       -d '{"authKeyId":"${authKeyId}","authKey":"${authKey}"}'\n` +
      `  then send the apiKey and token it returns as X-Soracom-API-Key / X-Soracom-Token to\n` +
      `  ${r.controlUrl}/v1/subscribers, /v1/audit, /v1/groups; /openapi.json, /healthz and /metrics need no key.\n`,
  );
  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop).once('SIGTERM', stop);
  });
  await demo.close();
  return failed;
}

const n = (x: number) => x.toLocaleString('en-US');
const when = (iso: string) => iso.slice(0, 16).replace('T', ' ') + ' UTC';

function formatReport(r: DemoReport, serving: boolean): string {
  const out: string[] = ['tapwatch demo: collector, analyzer, response policy and control API in one process', ''];
  const tunnels = Object.entries(r.tunnels).map(([t, c]) => `${t} ${n(c)}`).join(', ');
  out.push(
    `Saw: ${n(r.reader.frames)} mirrored frames (${tunnels}), ${r.devices.length} devices, ${n(r.records)} inspection records of 1 minute.`,
  );
  if (r.notDevice.frames > 0) {
    const where = r.notDevice.busiestSourceNets.map((x) => `${x.net} (${n(x.frames)})`).join(', ');
    out.push(
      `  ${n(r.notDevice.frames)} frames had no endpoint in a device network (--device-net ${r.deviceNets.join(', ')})` +
        (where ? `; none matched: the busiest source networks were ${where}. Set --device-net to your devices' network.` : '.'),
    );
  }
  if (r.reader.error) out.push(`  The capture ended early: ${r.reader.error}; everything before it was processed.`);
  const busiest = [...r.devices].sort((a, b) => b.packets - a.packets).slice(0, 3);
  out.push(`  Busiest by packets: ${busiest.map((d) => `${d.id} ${n(d.packets)}`).join(', ')}.`, '');

  const alarms = r.anomalies.filter((e) => e.alarm === 'in-alarm');
  out.push(`Flagged: ${alarms.length} alarm${alarms.length === 1 ? '' : 's'} on ${new Set(alarms.map((e) => e.device.id)).size} device(s).`);
  for (const e of r.anomalies) {
    out.push(`  ${when(e['@timestamp'])}  ${e.alarm.padEnd(13)} ${e.severity.padEnd(6)} ${e.behavior} (${e.detector}), score ${e.score.toFixed(1)}`);
    out.push(`    ${e.summary}`);
  }
  out.push('');

  out.push(`Did: ${r.actions.length} action decision${r.actions.length === 1 ? '' : 's'}.`);
  for (const a of r.actions) {
    out.push(`  ${when(a['@timestamp'])}  ${a.action} ${a.device.id} (IMSI ${a.device.imsi ?? 'unknown'}): ${a.result}`);
    out.push(`    ${a.reason}`);
  }
  for (const s of r.acted) {
    const where = s.groupId === QUARANTINE_GROUP ? `, in group ${QUARANTINE_GROUP} (its traffic is routed to the quarantine gateway)` : s.groupId ? `, group ${s.groupId}` : '';
    out.push(`  Now, per the control API: ${s.tags.name ?? s.imsi} is ${s.status}, speed class ${s.speedClass}${where}.`);
  }
  out.push(`  Audit log: ${r.audit.length} change${r.audit.length === 1 ? '' : 's'} by the analyzer's key (GET /v1/audit).`, '');
  out.push(`Control API: ${r.controlUrl} (SORACOM-compatible subset; OpenAPI at ${r.controlUrl}/openapi.json)${serving ? '' : ', stopped with the demo: run with --serve to keep it up'}.`);
  return out.join('\n') + '\n';
}

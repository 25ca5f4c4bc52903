// The configuration file: a valid one is read with its relative paths made absolute; a wrong one is
// refused with every problem listed at once (YAML, schema, device networks), in one error line block and
// no stack trace; ./tapwatch.yaml is read when present; every flag overrides the file; --version; the bin.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConfigError, loadConfigFile } from '../cli/config-file.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';
import { CliProcess } from './helpers/cli-process.js';

let dir: string;
let capture: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-config-'));
  capture = join(dir, 'fleet.pcap');
  generateFleetMirror({ out: capture, packets: 4000, devices: 8, seed: 3, mix: 'gre=1' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VALID = `
devices:
  networks: [10.128.0.0/9]
  exclude: [10.128.0.1]
  inventory: inventory.csv
interval: 30
decap: { vxlanPorts: [4789, 8472], genevePorts: [6081], maxTunnelDepth: 4 }
collect: { listenHost: 0.0.0.0, maxDevices: 1000, top: 5 }
kafka:
  brokers: ["127.0.0.1:9092"]
  partitions: 12
  replicationFactor: 3
elasticsearch: { url: "http://127.0.0.1:9200", retentionDays: 7 }
rules: rules.json
policy: /etc/tapwatch/policy.json
control: { url: "http://127.0.0.1:8080/v1", keyId: keyId-abc, db: control.db, port: 8080, enforcer: nft, nftTable: tw, rateLimit: 50, upstream: { url: "https://g.api.soracom.io/v1", keyId: keyId-up } }
http: { collect: "127.0.0.1:9464", analyze: "127.0.0.1:9465", respond: "[::1]:9466", index: "0.0.0.0:9467" }
`;

it('a valid file is read, with relative paths made relative to its folder', () => {
  const file = join(dir, 'valid.yaml');
  writeFileSync(file, VALID);
  const c = loadConfigFile(file);
  expect(c.interval).toBe(30);
  expect(c.kafka).toEqual({ brokers: ['127.0.0.1:9092'], partitions: 12, replicationFactor: 3 });
  expect(c.devices?.inventory).toBe(join(dir, 'inventory.csv'));
  expect(c.rules).toBe(join(dir, 'rules.json'));
  expect(c.policy).toBe('/etc/tapwatch/policy.json');
  expect(c.control?.db).toBe(join(dir, 'control.db'));
  expect(c.http?.respond).toBe('[::1]:9466');
  expect(c.decap).toEqual({ vxlanPorts: [4789, 8472], genevePorts: [6081], maxTunnelDepth: 4 });
  expect(c.collect).toEqual({ listenHost: '0.0.0.0', maxDevices: 1000, top: 5 });
  expect(c.control).toMatchObject({ enforcer: 'nft', nftTable: 'tw', rateLimit: 50, upstream: { keyId: 'keyId-up' } });
});

it('an empty file is an empty configuration', () => {
  const file = join(dir, 'empty.yaml');
  writeFileSync(file, '# nothing yet\n');
  expect(loadConfigFile(file)).toEqual({});
});

it('every problem of a wrong file is listed, with where it is', () => {
  const file = join(dir, 'wrong.yaml');
  writeFileSync(file, `
interval: 0
intervall: 60
kafka: { brokers: [localhost], partitions: 0 }
elasticsearch: { url: "es:9200" }
http: { collect: "9464" }
decap: { genevePorts: [6081, 70000] }
collect: { maxDevices: 0 }
control: { enforcer: iptables }
`);
  let err: ConfigError | undefined;
  try {
    loadConfigFile(file);
  } catch (e) {
    err = e as ConfigError;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect(err!.code).toBe('TWU0003');
  const text = err!.problems.join('\n');
  for (const where of ['/interval', 'intervall', '/kafka/brokers/0', '/kafka/partitions', '/elasticsearch/url', '/http/collect', '/decap/genevePorts/1', '/collect/maxDevices', '/control/enforcer']) expect(text).toContain(where);
  // More than TypeBox's default of 8 errors: all of them, and a wrong choice says which are allowed.
  expect(err!.problems.length).toBeGreaterThan(8);
  expect(text).toContain('/control/enforcer must be equal to one of the allowed values: none, nft, upstream');
  expect(err!.message).toMatch(new RegExp(`^${file}: ${err!.problems.length} problems:\n  - `));
});

it('device networks that do not parse and YAML that does not parse are problems too', () => {
  const nets = join(dir, 'nets.yaml');
  writeFileSync(nets, 'devices: { networks: [10.0.0.0/40, 10.1.0.0/16], exclude: [10.1.0.300] }\n');
  expect(() => loadConfigFile(nets)).toThrow(/\/devices\/networks\/0 .*prefix length[\s\S]*\/devices\/exclude\/0/);
  const yaml = join(dir, 'yaml.yaml');
  writeFileSync(yaml, 'kafka: { brokers: [a:1\ninterval: 3\n');
  expect(() => loadConfigFile(yaml)).toThrow(/yaml.yaml: \d+ problems?:\n {2}- line \d+/);
  expect(() => loadConfigFile(join(dir, 'missing.yaml'))).toThrow(/missing.yaml: 1 problem:\n {2}- cannot read it \(ENOENT\)/);
});

it('a command given a wrong file exits 1 listing the problems, without a stack trace', async () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'interval: -1\nrules: 5\n');
  const p = new CliProcess('analyze', ['analyze', '--config', file, '--in', '-', '--out', '-']);
  expect(await p.exited).toBe(1);
  expect(p.stderr).toMatch(/^tapwatch analyze: \[TWU0003\] .*bad.yaml: 2 problems:\n {2}- \/interval .*\n {2}- \/rules /);
  expect(p.stderr).not.toMatch(/\n\s+at /);
});

it('collect takes interval and device networks from ./tapwatch.yaml, and a flag overrides the file', async () => {
  writeFileSync(join(dir, 'tapwatch.yaml'), 'interval: 2\ndevices: { networks: [192.0.2.0/24] }\n');
  const fromFile = new CliProcess('collect', ['collect', '--pcap', capture, '--out', join(dir, 'a.ndjson')], { cwd: dir });
  expect(await fromFile.exited, fromFile.tail()).toBe(0);
  // The file's networks and interval: the generator's far ends in 192.0.2.0/24 are the "devices" now.
  const fileRecords = readFileSync(join(dir, 'a.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { device: { ip: string }; interval: { seconds: number } });
  expect(fileRecords.length).toBeGreaterThan(0);
  for (const r of fileRecords) expect([r.device.ip.startsWith('192.0.2.'), r.interval.seconds]).toEqual([true, 2]);
  expect(fromFile.last('collecting')).toMatchObject({ deviceNets: ['192.0.2.0/24'], intervalSeconds: 2 });

  const overridden = new CliProcess('collect', ['collect', '--pcap', capture, '--out', join(dir, 'b.ndjson'), '--interval', '5', '--device-net', '10.128.0.0/9'], { cwd: dir });
  expect(await overridden.exited, overridden.tail()).toBe(0);
  const records = readFileSync(join(dir, 'b.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { device: { ip: string }; interval: { seconds: number } });
  expect(records.length).toBeGreaterThan(0);
  for (const r of records) expect([r.device.ip.startsWith('10.128.'), r.interval.seconds]).toEqual([true, 5]);
  rmSync(join(dir, 'tapwatch.yaml'));
}, 60_000);

it('collect decodes as decap does from the same decap: part, and --vxlan-ports overrides it', async () => {
  const vx = join(dir, 'vxlan.pcap');
  generateFleetMirror({ out: vx, packets: 1000, devices: 4, seed: 5, mix: 'vxlan=1' });
  const file = join(dir, 'decap-part.yaml');
  writeFileSync(file, 'decap: { vxlanPorts: [4790], maxTunnelDepth: 2 }\n');
  const fromFile = new CliProcess('collect', ['collect', '--config', file, '--pcap', vx, '--out', join(dir, 'vx-a.ndjson')]);
  expect(await fromFile.exited, fromFile.tail()).toBe(0);
  // 4789 is not VXLAN by the file: nothing decapsulated, no device seen.
  expect(readFileSync(join(dir, 'vx-a.ndjson'), 'utf8')).toBe('');
  const decap = new CliProcess('decap', ['decap', '--json', '--config', file, vx]);
  expect(await decap.exited, decap.stderr).toBe(0);
  expect((JSON.parse(decap.stdout) as { encapsulation: { frames_with: { vxlan: number } } }).encapsulation.frames_with.vxlan).toBe(0);

  const overridden = new CliProcess('collect', ['collect', '--config', file, '--vxlan-ports', '4789', '--pcap', vx, '--out', join(dir, 'vx-b.ndjson')]);
  expect(await overridden.exited, overridden.tail()).toBe(0);
  expect(readFileSync(join(dir, 'vx-b.ndjson'), 'utf8').trim().split('\n').length).toBeGreaterThan(0);
  expect(overridden.last('final counters')).toMatchObject({ tunnels: { vxlan: expect.any(Number) } });
}, 60_000);

it('collect refuses a wrong decap: part like any other, exit 1 with every problem', async () => {
  const file = join(dir, 'bad-decap.yaml');
  writeFileSync(file, 'decap: { vxlanPorts: [], maxTunnelDepth: 0 }\ninterval: 0\n');
  const p = new CliProcess('collect', ['collect', '--config', file, '--pcap', capture, '--out', '-']);
  expect(await p.exited).toBe(1);
  expect(p.stderr).toMatch(/^tapwatch collect: \[TWU0003\] .*bad-decap.yaml: 3 problems:\n/);
  for (const where of ['/decap/vxlanPorts ', '/decap/maxTunnelDepth ', '/interval ']) expect(p.stderr).toContain(where);
  expect(p.stderr).not.toMatch(/\n\s+at /);
});

it('collect takes its capacity and record settings from collect: (top, contacts, maxDevices), each flag over its key', async () => {
  const file = join(dir, 'collect-part.yaml');
  writeFileSync(file, 'collect: { top: 1, contacts: 0, maxDevices: 2 }\n');
  type Rec = { destinations: { top: unknown[]; distinct: number }; contacts: unknown[] };
  const read = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
  const fromFile = new CliProcess('collect', ['collect', '--config', file, '--pcap', capture, '--out', join(dir, 'c-a.ndjson')]);
  expect(await fromFile.exited, fromFile.tail()).toBe(0);
  const a = read(join(dir, 'c-a.ndjson'));
  expect(Math.max(...a.map((r) => r.destinations.top.length))).toBe(1);
  expect(a.every((r) => r.contacts.length === 0)).toBe(true);
  expect(fromFile.last('device table full: new devices beyond --max-devices not counted in this interval')).toMatchObject({ maxDevices: 2 });

  const flags = new CliProcess('collect', ['collect', '--config', file, '--top', '3', '--max-devices', '100', '--pcap', capture, '--out', join(dir, 'c-b.ndjson')]);
  expect(await flags.exited, flags.tail()).toBe(0);
  const b = read(join(dir, 'c-b.ndjson'));
  expect(Math.max(...b.map((r) => r.destinations.top.length))).toBeGreaterThan(1);
  expect(b.every((r) => r.contacts.length === 0)).toBe(true); // the file's contacts: 0 still holds
  expect(flags.last('device table full: new devices beyond --max-devices not counted in this interval')).toBeUndefined();
}, 60_000);

it('control keys, import and serve take control.* from the file: db (relative to it), enforcer, rate limit; flags override', async () => {
  const site = mkdtempSync(join(dir, 'control-'));
  const file = join(site, 'site.yaml');
  writeFileSync(file, 'control:\n  db: control.db\n  port: 0\n  rateLimit: 1\n  enforcer: upstream\n  upstream: { url: "http://127.0.0.1:9/v1", keyId: keyId-up }\n');
  // keys create and list work on the file's database, found from another folder.
  const created = new CliProcess('keys create', ['control', 'keys', 'create', '--init', '--role', 'operator', '--config', file]);
  expect(await created.exited, created.stderr).toBe(0);
  const { authKeyId } = JSON.parse(created.stdout) as { authKeyId: string };
  const listed = new CliProcess('keys list', ['control', 'keys', 'list', '--config', file]);
  expect(await listed.exited, listed.stderr).toBe(0);
  expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ authKeyId })]);
  writeFileSync(join(site, 'registry.csv'), 'ip,id,imsi\n10.128.0.9,meter-9,440100000000009\n');
  const imported = new CliProcess('import', ['control', 'import', '--config', file, join(site, 'registry.csv')]);
  expect(await imported.exited, imported.stderr).toBe(0);

  // The file's enforcer is upstream, whose key only the environment or a flag gives: refused as usage.
  const env = { ...process.env, TAPWATCH_UPSTREAM_KEY: undefined };
  const noKey = new CliProcess('serve', ['control', 'serve', '--config', file], { env });
  expect(await noKey.exited).toBe(2);
  expect(noKey.stderr).toMatch(/^tapwatch control: --enforcer upstream needs .*control\.upstream in the config file/);

  // --enforcer none overrides it; the file's database and rate limit (1/s, bursts of 2) hold.
  const serve = new CliProcess('serve', ['control', 'serve', '--config', file, '--enforcer', 'none'], { env });
  try {
    const ready = await serve.waitForLog('ready', (l) => l.msg === 'control server ready');
    expect(ready).toMatchObject({ db: join(site, 'control.db'), enforcer: 'none' });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await fetch(`${ready.url as string}/v1/subscribers`)).status);
    expect(codes).toContain(429);
  } finally {
    expect(await serve.stop()).toBe(0);
  }
}, 60_000);

it('tapwatch --version prints the version of package.json', async () => {
  const p = new CliProcess('version', ['--version']);
  expect(await p.exited).toBe(0);
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
  expect(p.stdout).toBe(`tapwatch ${pkg.version}\n`);
});

it('the bin, run as `tapwatch` and `npx tapwatch` run it, starts node with the flags its shebang gives', () => {
  // What its shebang is for (collect's RSS held flat by a small young generation) holds only if the file is
  // executable after `npm run build` and `env -S` hands the flag to node; a preload reports what node got.
  const bin = join(import.meta.dirname, '..', 'dist', 'cli', 'tapwatch.js');
  const report = join(dir, 'exec-argv.mjs');
  writeFileSync(report, 'process.stderr.write(JSON.stringify(process.execArgv) + "\\n");\n');
  const run = spawnSync(bin, ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: `--import=${report}` } });
  expect(run.status, run.stderr).toBe(0);
  expect(JSON.parse(run.stderr.split('\n')[0])).toContain('--max-semi-space-size=4');
  expect(run.stdout).toMatch(/^tapwatch \d/);
});

// The data path reads top to bottom in the folder tree, and imports follow it: a stage may use what comes
// before it (its contracts, the decoder, the Kafka layer), never what comes after; production code never
// imports tests, benchmarks or the traffic generators; only kafka/ knows the Kafka client.

import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Production folders by layer: a file may import its own folder and folders of lower layers only. */
const LAYERS: Record<string, number> = {
  net: 0,
  contracts: 1,
  'gre-decap': 2, inventory: 2, kafka: 2,
  collector: 3, control: 3, ops: 3,
  analyzer: 4,
  responder: 5, indexer: 5,
  demo: 6,
  dashboards: 7,
  cli: 8,
};
/** Not production: they may import anything, and nothing in production may import them. */
const TOOLING = new Set(['test', 'bench', 'synth', 'scripts']);
const KAFKA_CLIENTS = ['@confluentinc/kafka-javascript', 'kafkajs', '@platformatic/kafka'];

/** `dynamic`: an import() expression, loaded only when the code runs it; `typeOnly`: erased when compiled. */
interface Import { file: string; from: string; spec: string; dynamic?: boolean; typeOnly?: boolean }

function imports(): Import[] {
  const files = execFileSync('git', ['ls-files', '*.ts'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
  const out: Import[] = [];
  for (const file of files) {
    if (file.endsWith('.test.ts') || file.endsWith('.d.ts')) continue;
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|\b(import)\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm)) {
      const spec = m[2];
      const from = spec.startsWith('.') ? normalize(join(dirname(file), spec)) : spec;
      const statement = text.slice(text.lastIndexOf('\n', m.index) + 1);
      out.push({ file, from, spec, dynamic: m[1] !== undefined, typeOnly: /^(import|export) type\b/.test(statement) });
    }
  }
  return out;
}

const top = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : '.');

/** Import rules broken by these imports, one line each. */
function violations(list: Import[]): string[] {
  const bad: string[] = [];
  for (const { file, from, spec } of list) {
    const src = top(file);
    if (TOOLING.has(src)) continue;
    if (KAFKA_CLIENTS.some((c) => spec === c || spec.startsWith(`${c}/`)) && src !== 'kafka') bad.push(`${file}: imports the Kafka client (${spec}); only kafka/ may`);
    if (!spec.startsWith('.')) continue;
    const dst = top(from);
    if (dst === src) continue;
    if (TOOLING.has(dst)) bad.push(`${file}: production code imports ${dst}/ (${spec})`);
    else if (LAYERS[src] === undefined) bad.push(`${file}: folder ${src}/ has no place in the data path (test/imports.test.ts LAYERS)`);
    else if (LAYERS[dst] === undefined || LAYERS[dst] >= LAYERS[src]) bad.push(`${file}: ${src}/ imports ${dst}/ (${spec}), which is not upstream of it`);
  }
  return bad;
}

/** Packages a command loads at start: everything reached from `entry` by static imports. */
function packagesAtStart(list: Import[], entry: string): Set<string> {
  const byFile = new Map<string, Import[]>();
  for (const i of list) byFile.set(i.file, [...(byFile.get(i.file) ?? []), i]);
  const seen = new Set([entry]);
  const packages = new Set<string>();
  for (const file of seen) {
    for (const i of byFile.get(file) ?? []) {
      if (i.dynamic || i.typeOnly) continue;
      if (!i.spec.startsWith('.')) packages.add(i.spec);
      else seen.add(i.from.replace(/\.js$/, '.ts'));
    }
  }
  return packages;
}

describe('imports', () => {
  it('follow the data path: upstream never imports downstream, production never imports test/, bench/, synth/ or scripts/, only kafka/ imports the Kafka client', () => {
    const list = imports();
    expect(list.length).toBeGreaterThan(200); // the scan read the tree
    expect(violations(list)).toEqual([]);
  });

  it('would catch each kind of breach', () => {
    expect(violations([
      { file: 'collector/x.ts', from: 'analyzer/features.js', spec: '../analyzer/features.js' },
      { file: 'analyzer/x.ts', from: 'test/helpers/records.js', spec: '../test/helpers/records.js' },
      { file: 'indexer/x.ts', from: '@confluentinc/kafka-javascript', spec: '@confluentinc/kafka-javascript' },
      { file: 'responder/x.ts', from: 'indexer/documents.js', spec: '../indexer/documents.js' },
      { file: 'newstage/x.ts', from: 'net/hash.js', spec: '../net/hash.js' },
      { file: 'analyzer/x.ts', from: 'collector/protocols.js', spec: '../collector/protocols.js' },
      { file: 'bench/x.ts', from: 'test/helpers/records.js', spec: '../test/helpers/records.js' },
    ]).map((l) => l.split(':')[0])).toEqual(['collector/x.ts', 'analyzer/x.ts', 'indexer/x.ts', 'responder/x.ts', 'newstage/x.ts']);
  });

  it('decap and collect start without the schema compiler or the YAML parser: they validate nothing unless given a config file (~0.3 s of start-up)', () => {
    const list = imports();
    for (const entry of ['cli/decap.ts', 'cli/collect.ts']) {
      const packages = [...packagesAtStart(list, entry)];
      expect(packages.length, entry).toBeGreaterThan(0); // the walk followed the tree (collect loads pino)
      expect(packages.filter((p) => /^(typebox|yaml)(\/|$)/.test(p)), entry).toEqual([]);
    }
    expect([...packagesAtStart(list, 'cli/config-file.ts')]).toContain('yaml'); // the walk would see them
  });
});

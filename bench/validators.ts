// How the contracts are validated, measured: TypeBox's compiler (what contracts/validate.ts uses) against
// Ajv on the same JSON Schema, over real collector records (a synthetic fleet mirror collected first).
//   node dist/bench/validators.js [--packets N]
// Prints one JSON line: records, compile time and records/s for each.

import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { InspectionRecordSchema } from '../contracts/inspection-record.js';
import { validator } from '../contracts/validate.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';

const at = process.argv.indexOf('--packets');
const packets = at > 0 ? Number(process.argv[at + 1]) : 200_000;
const dir = mkdtempSync(join(tmpdir(), 'tapwatch-validators-'));
try {
  const pcap = join(dir, 'fleet.pcap');
  const out = join(dir, 'records.ndjson');
  generateFleetMirror({ out: pcap, packets, devices: 2000, seed: 3 });
  execFileSync(process.execPath, [join(import.meta.dirname, '..', 'cli', 'tapwatch.js'), 'collect', '--pcap', pcap, '--out', out, '--log-level', 'warn']);
  const records: unknown[] = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

  const rate = (check: (r: unknown) => boolean): { recordsPerSecond: number; valid: number } => {
    let valid = 0;
    for (const r of records) valid += check(r) ? 1 : 0; // warm-up pass
    valid = 0;
    const t0 = performance.now();
    for (let k = 0; k < 10; k++) for (const r of records) valid += check(r) ? 1 : 0;
    return { recordsPerSecond: Math.round((10 * records.length) / ((performance.now() - t0) / 1000)), valid: valid / 10 };
  };

  let t = performance.now();
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats.default(ajv);
  const ajvCheck = ajv.compile(JSON.parse(JSON.stringify(InspectionRecordSchema)));
  const ajvCompileMs = performance.now() - t;
  const tb = validator(InspectionRecordSchema);
  t = performance.now();
  tb.check(records[0]);
  const typeboxCompileMs = performance.now() - t;
  console.log(JSON.stringify({
    records: records.length,
    typebox: { compileMs: +typeboxCompileMs.toFixed(1), ...rate((r) => tb.check(r)) },
    ajv: { compileMs: +ajvCompileMs.toFixed(1), ...rate((r) => ajvCheck(r)) },
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

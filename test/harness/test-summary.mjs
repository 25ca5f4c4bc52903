// Prints the closing line CI reads, "N passed, N failed", from test-results/summary.json (written by
// summary-reporter.ts), and exits 0 only when the run was wholly green. Counted as failures, each
// named on its own line first: a failed test; a test that was skipped, left pending or todo (no
// test may be skipped here, so one that did not run is a failure); a file that failed outside its
// tests (import, beforeAll, a worker that died); every unhandled error; and a vitest exit status
// that is not 0 when nothing above explains it. "0 passed" always exits non-zero.
//   node test/harness/test-summary.mjs [summary.json] [exit status of the test command]
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-results/summary.json';
const vitestStatus = Number(process.argv[3] ?? 0);
let summary;
try {
  summary = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log(`no test summary (${file}: ${err.message}): the tests did not run to the end (exit status ${vitestStatus})`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const failures = [];
let passed = 0;
for (const f of summary.files) {
  let failedTests = 0;
  for (const t of f.tests) {
    if (t.state === 'passed') passed++;
    else {
      failedTests++;
      failures.push(t.state === 'failed' ? `failed: ${f.file} > ${t.name}: ${t.error ?? ''}` : `did not run (${t.state}): ${f.file} > ${t.name}`);
    }
  }
  for (const e of f.errors) failures.push(`file error: ${f.file}: ${e}`);
  if (f.state !== 'passed' && failedTests === 0 && f.errors.length === 0) failures.push(`file ${f.state}: ${f.file} (its worker stopped before it finished?)`);
}
for (const e of summary.unhandled) failures.push(`unhandled error: ${e}`);
if (vitestStatus !== 0 && failures.length === 0) failures.push(`the test command exited with status ${vitestStatus}, and the report says why nowhere`);
if (passed === 0 && failures.length === 0) failures.push('no test ran');

for (const line of failures) console.log(line);
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length > 0 ? 1 : 0);

// Prints the closing line CI reads, "N passed, N failed", from vitest's JSON report, and exits
// non-zero when anything failed or the report is missing (a crash before vitest wrote it).
// A file that failed outside any test (a throwing beforeAll or import) counts as one failure:
// vitest marks its tests skipped, which would otherwise read as "0 failed".
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-results/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log(`test report ${file} unreadable: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const files = report.testResults ?? [];
const failedOutsideTests = files.filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'));
for (const f of failedOutsideTests) console.log(`failed outside its tests: ${f.name}: ${(f.message ?? '').split('\n')[0]}`);
const passed = report.numPassedTests ?? 0;
const failed = (report.numFailedTests ?? 0) + failedOutsideTests.length;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

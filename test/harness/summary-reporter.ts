// A vitest reporter that writes everything the closing "N passed, N failed" line is made from to
// test-results/summary.json: every test's state, every file's own errors (an import or a beforeAll
// that threw) and the unhandled errors of the run (a worker that died, a late throw). vitest's JSON
// report has none of the last two: a file whose worker was killed reads as "passed" there.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import type { Reporter, SerializedError, TestModule } from 'vitest/node';

export interface RunSummary {
  reason: string;
  unhandled: string[];
  files: { file: string; state: string; errors: string[]; tests: { name: string; state: string; error?: string }[] }[];
}

const firstLine = (e: { message?: string; name?: string } | undefined): string => `${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${(e?.message ?? String(e)).split('\n')[0]}`;

export default class SummaryReporter implements Reporter {
  constructor(private readonly options: { outputFile?: string } = {}) {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: string): void {
    const summary: RunSummary = {
      reason,
      unhandled: unhandled.map(firstLine),
      files: modules.map((m) => ({
        file: relative(process.cwd(), m.moduleId),
        state: m.state(),
        errors: m.errors().map(firstLine),
        tests: [...m.children.allTests()].map((t) => {
          const r = t.result();
          return { name: t.fullName, state: r.state, ...(r.state === 'failed' ? { error: firstLine(r.errors?.[0]) } : {}) };
        }),
      })),
    };
    const out = this.options.outputFile ?? 'test-results/summary.json';
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(summary, null, 1));
  }
}

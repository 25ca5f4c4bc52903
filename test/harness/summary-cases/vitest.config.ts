// The nested runs of summary.test.ts: one case file each, with the reporter .ci/run relies on.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ['*.case.ts'],
    reporters: [['../summary-reporter.ts', { outputFile: process.env.SUMMARY_OUT }]],
  },
});

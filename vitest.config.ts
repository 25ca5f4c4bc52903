import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['gre-decap/**/*.test.ts', 'collector/**/*.test.ts', 'analyzer/**/*.test.ts', 'synth/**/*.test.ts', 'cli/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // The JSON report is what .ci/run turns into its closing "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});

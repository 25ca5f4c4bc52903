import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // test-results/summary.json is what .ci/run turns into its closing "N passed, N failed" line
    // (test/harness/test-summary.mjs); vitest's own JSON report misses crashed workers and unhandled errors.
    reporters: ['default', ['./test/harness/summary-reporter.ts', { outputFile: 'test-results/summary.json' }]],
    // Kafka tests are a project of their own: vitest runs a project's globalSetup (which starts
    // a real broker from Maven Central) only when one of its files is selected.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // Every folder's tests: a test file in a new folder runs without anyone remembering to list it.
          include: ['**/*.test.ts'],
          exclude: [...configDefaults.exclude, '**/*.kafka.test.ts', '**/*.es.test.ts'],
        },
      },
      // Files one at a time: these tests stop and restart brokers and nodes and wait on consumer-group timing,
      // which two cores shared with another such test made flaky (an analyzer failover once missed its restore).
      { extends: true, test: { name: 'kafka', include: ['test/**/*.kafka.test.ts'], globalSetup: ['test/helpers/kafka-global-setup.ts'], fileParallelism: false } },
      // Elasticsearch likewise: a real node from Maven Central, started only when its tests run.
      { extends: true, test: { name: 'es', include: ['test/**/*.es.test.ts'], globalSetup: ['test/helpers/es-global-setup.ts'], fileParallelism: false } },
    ],
  },
});

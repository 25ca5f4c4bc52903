import { configDefaults, defineConfig } from 'vitest/config';

/** The 4.x broker the Kafka tests also run against (newest whose artifacts all resolve on Maven Central). */
const KAFKA4 = '4.4.0';

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
      // The same Kafka tests against both lines of brokers in use: 3.9 and 4.x.
      ...[['kafka', '3.9.2'], ['kafka4', KAFKA4]].map(([name, kafkaVersion]) => ({
        extends: true as const,
        test: { name, include: ['test/**/*.kafka.test.ts'], globalSetup: ['test/helpers/kafka-global-setup.ts'], fileParallelism: false, provide: { kafkaVersion } },
      })),
      // Elasticsearch likewise: a real node from Maven Central, started only when its tests run.
      { extends: true, test: { name: 'es', include: ['test/**/*.es.test.ts'], globalSetup: ['test/helpers/es-global-setup.ts'], fileParallelism: false } },
    ],
  },
});

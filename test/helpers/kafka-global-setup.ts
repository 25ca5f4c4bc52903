// vitest globalSetup for the `kafka` project (test/**/*.kafka.test.ts): one real broker shared by those files,
// handed to them as inject('kafkaBrokers'). vitest runs a project's globalSetup only when one of its files is
// selected, so runs without Kafka tests never start a JVM.
//   KAFKA_BROKERS=host:port  use that broker (it must answer) instead of starting one
//   KAFKA_VERSION=4.3.1      Kafka release to start instead of the project's (vitest.config.ts)
// A broker that cannot start fails the run; tests are never skipped for want of Kafka.
// Tests that stop or restart Kafka must start their own broker with startKafka(): this one serves every file.

import type { TestProject } from 'vitest/node';
import { startKafka, waitForKafka, type KafkaBroker } from '../../scripts/kafka-broker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** bootstrap servers of the shared broker, e.g. '127.0.0.1:9092' */
    kafkaBrokers: string;
    /** Kafka release of the project's brokers (vitest.config.ts gives one per Kafka project); tests that start their own use it too. */
    kafkaVersion: string;
  }
}

let broker: KafkaBroker | undefined;

export async function setup(project: TestProject): Promise<void> {
  const version = process.env.KAFKA_VERSION || project.getProvidedContext().kafkaVersion || undefined;
  const external = process.env.KAFKA_BROKERS;
  if (external) {
    await waitForKafka(external, { timeoutMs: 30_000 }).catch((err: Error) => {
      throw new Error(`KAFKA_BROKERS=${external} does not answer: ${err.message}`);
    });
    project.provide('kafkaBrokers', external);
    if (version) project.provide('kafkaVersion', version);
    return;
  }
  const t0 = Date.now();
  broker = await startKafka({ version });
  console.log(`Kafka ${broker.version} up at ${broker.brokers} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${broker.pid}, log ${broker.logFile})`);
  project.provide('kafkaBrokers', broker.brokers);
  project.provide('kafkaVersion', broker.version);
}

export async function teardown(): Promise<void> {
  await broker?.stop();
}

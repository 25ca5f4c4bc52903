// Reads a topic back from the beginning, for tests that check what really reached the broker.

import { Kafka, logLevel } from 'kafkajs';

export interface Consumed {
  key: string;
  value: string;
  partition: number;
}

/** Every message of `topic`, stopping once `expected` arrived or nothing new came for `idleMs`. */
export async function consumeAll(brokers: string, topic: string, opts: { expected?: number; idleMs?: number; timeoutMs?: number } = {}): Promise<Consumed[]> {
  const kafka = new Kafka({ clientId: 'tapwatch-test-reader', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `tapwatch-test-${topic}-${process.pid}-${Date.now()}` });
  const out: Consumed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let last = Date.now();
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        out.push({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', partition });
        last = Date.now();
      },
    });
    const started = Date.now();
    const idleMs = opts.idleMs ?? 5000;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      if (opts.expected !== undefined && out.length >= opts.expected && Date.now() - last > 1000) break;
      if (out.length > 0 && Date.now() - last > idleMs) break;
      if (Date.now() - started > timeoutMs) break;
    }
  } finally {
    await consumer.disconnect();
  }
  return out;
}

// Reads a topic from its beginning and keeps following it: how a service rebuilds its state from a
// log at start (the responder's ledger from tapwatch.actions, the analyzer's device checkpoints from
// its compacted topic) and then, if it wants, stays current with what others append. A consumer of a
// group of its own that commits nothing, so every start reads the whole topic.

import { endOffsets, type Consumer as KafkaConsumer, type Kafka, type KafkaMessage } from './client.js';

export interface TopicReader {
  /** Resolves once every partition was read up to the end it had when reading started; rejects after timeoutMs. */
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

export async function readTopic(
  kafka: Kafka,
  topic: string,
  onMessage: (message: KafkaMessage, partition: number) => void,
  opts: { group: string; timeoutMs?: number },
): Promise<TopicReader> {
  const ends = await endOffsets(kafka, topic);
  const remaining = new Map([...ends].filter(([, end]) => end > 0n));
  let done!: () => void;
  let fail!: (err: Error) => void;
  const caughtUp = new Promise<void>((resolve, reject) => ((done = resolve), (fail = reject)));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const timer = setTimeout(() => fail(new Error(`${topic} not read to its end within ${timeoutMs / 1000} s`)), timeoutMs);
  void caughtUp.then(() => clearTimeout(timer), () => clearTimeout(timer));
  const reader: KafkaConsumer = kafka.consumer({ kafkaJS: { groupId: opts.group, fromBeginning: true, autoCommit: false, allowAutoTopicCreation: false } });
  const check = (partition: number, offset: string): void => {
    const end = remaining.get(partition);
    if (end !== undefined && BigInt(offset) + 1n >= end) {
      remaining.delete(partition);
      if (remaining.size === 0) done();
    }
  };
  if (remaining.size === 0) done();
  try {
    await reader.connect();
    await reader.subscribe({ topics: [topic] });
    await reader.run({
      eachMessage: async ({ partition, message }) => {
        onMessage(message, partition);
        check(partition, message.offset);
      },
    });
  } catch (err) {
    fail(err as Error);
  }
  return {
    caughtUp,
    stop: async () => {
      clearTimeout(timer);
      await reader.disconnect().catch(() => undefined);
    },
  };
}

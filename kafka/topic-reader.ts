// Reads a topic from its beginning and keeps following it: how a service rebuilds its state from an
// event log at start (the responder's ledger, the analyzer's device checkpoints) and then, if it
// wants, stays current with what others append.

import type { Kafka, KafkaMessage } from 'kafkajs';

export interface TopicTail {
  /** Resolves once every partition has been read up to the end it had when the tail started. */
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Follows `topic` with a consumer group of its own that commits nothing, so every start reads the whole
 * topic. `caughtUp` rejects if the reader crashes or has not caught up within `timeoutMs`: a state
 * rebuilt from half a log must not be acted on. Messages keep going to onMessage after it.
 */
export async function tailTopic(
  kafka: Kafka,
  topic: string,
  onMessage: (message: KafkaMessage, partition: number) => void,
  opts: { group: string; timeoutMs?: number; onCrash?: (err: Error) => void },
): Promise<TopicTail> {
  const admin = kafka.admin();
  await admin.connect();
  let ends;
  try {
    ends = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const remaining = new Map(ends.filter((p) => p.high !== p.low).map((p) => [p.partition, BigInt(p.high)]));
  const reader = kafka.consumer({ groupId: opts.group });
  let done!: () => void;
  let fail!: (err: Error) => void;
  const caughtUp = new Promise<void>((resolve, reject) => ((done = resolve), (fail = reject)));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const timer = setTimeout(() => fail(new Error(`${topic} not read to its end within ${timeoutMs / 1000} s`)), timeoutMs);
  void caughtUp.then(() => clearTimeout(timer), () => clearTimeout(timer));
  if (remaining.size === 0) done();
  reader.on(reader.events.CRASH, (e) => {
    fail(e.payload.error);
    opts.onCrash?.(e.payload.error);
  });
  await reader.connect();
  await reader.subscribe({ topics: [topic], fromBeginning: true });
  await reader.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      onMessage(message, partition);
      const end = remaining.get(partition);
      if (end !== undefined && BigInt(message.offset) + 1n >= end) {
        remaining.delete(partition);
        if (remaining.size === 0) done();
      }
    },
  });
  return { caughtUp, stop: () => reader.disconnect() };
}

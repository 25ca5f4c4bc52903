// Creating tapwatch's topics: every service creates the ones it uses when they are missing, and in a
// fresh deployment several start at once and race to do it. Losing the race ("already exists", or a
// topic whose partitions have no leader yet in the metadata) is not a failure: the step is tried
// again until every topic is there with leaders, and only a broker that stays away is an error.

import type { Kafka } from 'kafkajs';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configEntries?: { name: string; value: string }[];
}

export interface EnsureTopicsOptions {
  attempts?: number;
  /** Told about each failed attempt before the next one. */
  onRetry?: (err: Error, attempt: number) => void;
}

/** Creates the missing topics and waits until each has a leader for every partition; returns the ones it created. */
export async function ensureTopics(kafka: Kafka, topics: readonly TopicSpec[], opts: EnsureTopicsOptions = {}): Promise<string[]> {
  const attempts = opts.attempts ?? 20;
  for (let attempt = 1; ; attempt++) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const have = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !have.has(t.topic));
      if (missing.length) await admin.createTopics({ topics: [...missing], waitForLeaders: true });
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
      const leaderless = meta.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0)).map((t) => t.name);
      if (leaderless.length) throw new Error(`no leader yet for ${leaderless.join(', ')}`);
      return missing.map((t) => t.topic);
    } catch (err) {
      if (attempt >= attempts) throw err;
      opts.onRetry?.(err as Error, attempt);
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(attempt, 5))));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

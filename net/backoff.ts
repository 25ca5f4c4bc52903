// One retry delay for everything that retries a network call (Kafka, Elasticsearch, the control API,
// webhooks): doubling from baseMs, capped at maxMs, so a service that lost its peer neither hammers
// it nor waits long once it is back.

export function backoffMs(attempt: number, o: { baseMs?: number; maxMs?: number } = {}): number {
  const base = o.baseMs ?? 250;
  const max = o.maxMs ?? 5000;
  return Math.min(max, base * 2 ** Math.min(Math.max(0, attempt), 20));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What a retry loop throws when the service it runs for was told to stop: not a failure. */
export class Stopped extends Error {
  constructor() {
    super('stopped');
  }
}

import { describe, expect, it } from 'vitest';
import { TopicRefused } from './topics.js';

// The client's createTopics aggregate, as @confluentinc/kafka-javascript 1.10 gives it: `retriable` is false on every inner error.
const refusal = (...types: string[]) => Object.assign(new Error('Topic creation errors'), { errors: types.map((type) => ({ type, retriable: false, message: `${type} happened` })) });

describe('TopicRefused.from: which refusals end a start', () => {
  it('a bad topic setting or a denied permission at once; a replication factor above the brokers only once it held a few attempts', () => {
    expect(TopicRefused.from(refusal('ERR_INVALID_CONFIG'), 1)?.message).toBe('the Kafka cluster refused to create a topic: ERR_INVALID_CONFIG happened (ERR_INVALID_CONFIG)');
    expect(TopicRefused.from(refusal('ERR_TOPIC_AUTHORIZATION_FAILED'), 1)?.code).toBe('TWQ0002');
    expect(TopicRefused.from(refusal('ERR_INVALID_REPLICATION_FACTOR'), 1)).toBeNull();
    expect(TopicRefused.from(refusal('ERR_INVALID_REPLICATION_FACTOR'), 5)).not.toBeNull();
  });

  it('never a timeout, a moving controller or anything it does not know, nor an error without per-topic reasons', () => {
    for (const t of ['ERR__TIMED_OUT', 'ERR_REQUEST_TIMED_OUT', 'ERR_NOT_CONTROLLER', 'ERR__TRANSPORT', 'ERR_SOMETHING_NEW']) expect(TopicRefused.from(refusal(t), 50), t).toBeNull();
    expect(TopicRefused.from(refusal('ERR_INVALID_CONFIG', 'ERR__TIMED_OUT'), 50)).toBeNull();
    expect(TopicRefused.from(new Error('connect ECONNREFUSED'), 50)).toBeNull();
  });
});

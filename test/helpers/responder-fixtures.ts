// Shared by the responder's tests: a ControlClient in memory (our own interface, not a stand-in for Kafka or
// Elasticsearch) and AnomalyEvents on a fixed clock.

import type { ControlClient, Subscriber, SubscriberAction } from '../../control/model.js';
import { EVENT_SCHEMA_ID, type AnomalyEvent } from '../../contracts/anomaly-event.js';

/** Our own ControlClient interface, in memory: subscribers, every call made, and the Idempotency-Key replay a real server does. */
export class MemoryControl implements ControlClient {
  readonly subscribers = new Map<string, Subscriber>();
  readonly calls: { call: string; imsi?: string; action?: SubscriberAction; key?: string }[] = [];
  private readonly byKey = new Map<string, Subscriber>();
  /** Thrown by act() (after the call is recorded) while set. */
  failure: Error | null = null;

  add(deviceId: string, over: Partial<Subscriber> = {}): Subscriber {
    const s: Subscriber = { imsi: imsiOf(deviceId), imei: null, ipAddress: null, status: 'active', speedClass: 's1.fast', groupId: 'meters', operatorId: 'OP1', tags: { name: deviceId }, createdTime: 0, lastModifiedTime: 0, ...over };
    this.subscribers.set(s.imsi, s);
    return s;
  }

  async getSubscriber(imsi: string): Promise<Subscriber | null> {
    this.calls.push({ call: 'get', imsi });
    const s = this.subscribers.get(imsi);
    return s ? { ...s } : null;
  }

  async listSubscribers(): Promise<Subscriber[]> {
    this.calls.push({ call: 'list' });
    return [...this.subscribers.values()];
  }

  async act(imsi: string, action: SubscriberAction, opts: { idempotencyKey?: string } = {}): Promise<Subscriber> {
    this.calls.push({ call: 'act', imsi, action, key: opts.idempotencyKey });
    if (this.failure) throw this.failure;
    const before = opts.idempotencyKey ? this.byKey.get(opts.idempotencyKey) : undefined;
    if (before) return before;
    const s = this.subscribers.get(imsi);
    if (!s) throw new Error(`404 no subscriber ${imsi}`);
    if (action.type === 'deactivate') s.status = 'inactive';
    else if (action.type === 'activate') s.status = 'active';
    else if (action.type === 'update_speed_class') s.speedClass = action.speedClass;
    else if (action.type === 'set_group') s.groupId = action.groupId;
    else s.groupId = null;
    if (opts.idempotencyKey) this.byKey.set(opts.idempotencyKey, { ...s });
    return { ...s };
  }

  acts(): SubscriberAction[] {
    return this.calls.filter((c) => c.call === 'act').map((c) => c.action!);
  }
}

/** A device's IMSI and IP, derived from its id (a hash: distinct for the few ids a test uses). */
const hash = (deviceId: string) => [...deviceId].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 65_536, 7);
export const imsiOf = (deviceId: string) => `4401030000${String(hash(deviceId)).padStart(5, '0')}`;
const ipOf = (deviceId: string) => `10.128.${hash(deviceId) >> 8}.${hash(deviceId) & 255}`;
export const T0 = Date.parse('2026-03-03T10:00:00.000Z');
export const at = (seconds: number) => new Date(T0 + seconds * 1000);

export function anomaly(device: string, over: Partial<AnomalyEvent> & { seconds?: number } = {}): AnomalyEvent {
  const { seconds = 0, ...rest } = over;
  const e: AnomalyEvent = {
    schema: EVENT_SCHEMA_ID,
    event_id: '',
    '@timestamp': at(seconds).toISOString(),
    interval_seconds: 300,
    device: { id: device, ip: ipOf(device), imsi: imsiOf(device), group: 'meters' },
    detector: 'evidence',
    basis: 'absolute',
    warmup: { complete: true, seconds: 86400, needed: 86400 },
    behavior: 'dns-tunnel',
    metric: 'distinct query names under one registered domain that look like data',
    comparison: 'greater-than-equals',
    observed: 38,
    threshold: 8,
    unit: 'in the last hour',
    baseline: { scope: 'static', statistic: 'value', value: 8 },
    score: 4.75,
    severity: 'high',
    alarm: 'in-alarm',
    datapoints: 1,
    summary: `Device ${device}: 38 distinct names under evil.example in the last hour.`,
    ...rest,
  };
  return { ...e, event_id: e.event_id || `${device}/${e.behavior}/${e['@timestamp']}/${e.alarm}` };
}

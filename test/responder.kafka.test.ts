// tapwatch respond's service with a real broker and the real control API (over HTTP, through
// SoracomClient): anomalies in, the policy's actions on the subscribers, one ActionEvent each on the
// actions topic, a TTL release on the wall clock, a malformed message skipped. Then a second responder
// in a fresh consumer group replays every anomaly from the beginning: its ledger, rebuilt from the
// actions topic, recognises each one, and neither the API nor the topic sees anything twice.

import { pino } from 'pino';
import { afterAll, expect, inject, it } from 'vitest';
import { actionEventErrors, type ActionEvent } from '../contracts/action-event.js';
import { defaultPolicy, type Policy } from '../responder/policy.js';
import { ResponderService } from '../responder/service.js';
import { SoracomClient } from '../control/client.js';
import { buildControlServer, type ControlServer } from '../control/server.js';
import { createKafka } from '../kafka/client.js';
import { Producer } from '../kafka/producer.js';
import { consumeAll } from './helpers/kafka-consume.js';
import { until as waitUntil } from './helpers/until.js';
import { anomaly, imsiOf } from './helpers/responder-fixtures.js';

const run = `${process.pid}-${Date.now()}`;
const topics = { anomaliesTopic: `tapwatch.anomalies.responder-${run}`, actionsTopic: `tapwatch.actions.responder-${run}` };
const services: ResponderService[] = [];
let server: ControlServer | undefined;
afterAll(async () => {
  for (const s of services) await s.stop().catch(() => undefined);
  await server?.close();
});

const until = (what: string, ok: () => boolean) =>
  waitUntil(what, () => ok() || undefined, { context: () => JSON.stringify(services.map((s) => ({ ...s.stats, ...s.responder.stats }))) });

it('acts through the control API, publishes an event per decision, releases on TTL, and replays without repeating', async () => {
  const brokers = inject('kafkaBrokers');
  server = await buildControlServer({ db: ':memory:' });
  const devices = ['m0', 'm1', 'm2', 'm3'];
  server.store.importDevices(devices.map((id, i) => ({ id, ip: `10.128.0.${i + 1}`, imsi: imsiOf(id), group: 'meters' })), { actor: 'local' });
  server.store.createGroup({ groupId: 'quarantine' }, { actor: 'local' });
  const key = server.store.createKey('analyzer', 'responder');
  const baseUrl = `${await server.app.listen({ port: 0, host: '127.0.0.1' })}/v1`;
  const sub = (id: string) => server!.store.getSubscriber(imsiOf(id))!;
  const actsAudited = () => server!.store.listAudit({ limit: 1000 }).items.filter((a) => a.targetType === 'subscriber' && a.action !== 'import').length;

  // A fleet of four: the default breaker (10%) would let one action through. The shipped rules never
  // block; this run asks for a block on critical to see every kind of call go through the service.
  const policy: Policy = {
    ...defaultPolicy(),
    quarantineGroupId: 'quarantine',
    breaker: { maxActionsPerMinute: 10, maxFleetPercent: 100 },
    rules: defaultPolicy().rules.map((r) => (r.name === 'medium' ? { ...r, releaseAfterSeconds: 2 } : r.name === 'critical' ? { ...r, action: 'block' as const } : r)),
  };
  const log = pino({ level: process.env.TW_DEBUG ? 'debug' : 'silent' }, pino.destination(2));
  const start = async (groupId: string) => {
    const s = new ResponderService({ brokers: [brokers], policy, client: new SoracomClient({ baseUrl, ...key }), log, groupId, releaseCheckMs: 200, ...topics });
    services.push(s);
    await s.start();
    return s;
  };

  const a = await start(`tapwatch-responder-${run}`);
  const producer = new Producer(createKafka({ brokers: [brokers], clientId: 'tapwatch-test', log: pino({ level: 'silent' }) }), pino({ level: 'silent' }));
  const anomalies = [
    anomaly('m0', { severity: 'critical' }),
    anomaly('m1', { severity: 'high' }),
    anomaly('m2', { severity: 'medium' }),
    anomaly('m3', { severity: 'low' }),
    { ...anomaly('gw', { severity: 'critical' }), device: { id: 'gw', ip: '10.128.0.99' } },
  ];
  await producer.send(topics.anomaliesTopic, [...anomalies.map((e) => ({ key: e.device.id, value: JSON.stringify(e) })), { key: 'm9', value: '{"not": "an anomaly"}' }]);
  await producer.close();

  // Five decisions, then the throttle's release two seconds (wall clock) after it.
  await until('the decisions and the release', () => a.stats.published >= 6 && a.stats.invalid === 1);
  expect(a.responder.stats.results).toMatchObject({ applied: 5, 'skipped-no-imsi': 1 });
  expect([sub('m0').status, sub('m1').groupId, sub('m2').speedClass, sub('m3').status]).toEqual(['inactive', 'quarantine', 's1.8xfast', 'active']);
  expect(actsAudited()).toBe(4); // block, redirect, throttle, release
  await a.stop();

  const events = (await consumeAll(brokers, topics.actionsTopic, { expected: 6 })).map((m) => ({ key: m.key, ev: JSON.parse(m.value) as ActionEvent }));
  expect(events.map(({ ev }) => actionEventErrors(ev))).toEqual(events.map(() => null));
  expect(events.every(({ key, ev }) => key === ev.device.id)).toBe(true);
  expect(events.map(({ ev }) => `${ev.device.id}:${ev.action}:${ev.result}`).sort()).toEqual(['gw:block:skipped-no-imsi', 'm0:block:applied', 'm1:redirect:applied', 'm2:release:applied', 'm2:throttle:applied', 'm3:notify:applied']);
  const release = events.find(({ ev }) => ev.action === 'release')!.ev;
  expect(release).toMatchObject({ speed_class: 's1.8xfast', previous: { status: 'active', speed_class: 's1.8xfast', group_id: 'meters' } });

  // A fresh consumer group reads every anomaly again; the rebuilt ledger knows them all.
  const b = await start(`tapwatch-responder-replay-${run}`);
  expect(b.stats.ledgerEvents).toBe(6);
  await until('the replay', () => b.stats.messages === anomalies.length + 1);
  expect(b.responder.stats.duplicates).toBe(anomalies.length);
  expect(b.stats.published).toBe(0);
  expect(actsAudited()).toBe(4);
  await b.stop();
  expect(await consumeAll(brokers, topics.actionsTopic)).toHaveLength(6);
}, 180_000);

// notify delivers (issue 11): to a real HTTP receiver on 127.0.0.1, signed with HMAC-SHA256, retried
// with backoff, with its own idempotency key, carrying the anomaly's evidence; and to a real UDP
// syslog receiver as an RFC 5424 message. A delivery that fails is recorded as failed, not lost.

import { createSocket } from 'node:dgram';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { actionId, type ActionEvent } from '../contracts/action-event.js';
import { anomaly, at, MemoryControl } from '../test/helpers/responder-fixtures.js';
import { notification, signature, SyslogNotifier, WebhookNotifier, type Notifier } from './notify.js';
import { defaultPolicy } from './policy.js';
import { createResponder } from './responder.js';

const SECRET = 'whsec-test';
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A webhook receiver that answers each request with the next status of `statuses` (then 200). */
async function receiver(statuses: number[] = []) {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/tapwatch`, got };
}

function respondWith(notifiers: Notifier[]) {
  const events: ActionEvent[] = [];
  const control = new MemoryControl();
  control.add('meter-1');
  const responder = createResponder({ policy: { ...defaultPolicy(), breaker: { maxActionsPerMinute: 100, maxFleetPercent: 100 } }, client: control, notifiers, publish: (ev) => void events.push(ev) });
  return { events, control, responder };
}

describe('the webhook', () => {
  it('POSTs the decision and the anomaly as JSON, signed, with its own idempotency key, retrying 5xx with backoff', async () => {
    const hook = await receiver([503, 502]);
    const { events, control, responder } = respondWith([new WebhookNotifier({ url: hook.url, secret: SECRET, backoffMs: 20 })]);
    const e = anomaly('meter-1', { severity: 'low' });
    const [ev] = await responder.handle(e, at(0));
    expect(ev).toMatchObject({ action: 'notify', result: 'applied' });
    expect(hook.got).toHaveLength(3); // two refusals, then delivered
    const { headers, body } = hook.got[2];
    expect(hook.got.map((g) => g.body)).toEqual([body, body, body]); // the same delivery each time
    expect(headers['content-type']).toBe('application/json');
    expect(headers['idempotency-key']).toBe(actionId('meter-1', ev.action_id, 'webhook'));
    expect(headers['idempotency-key']).not.toBe(ev.action_id);
    const expected = createHmac('sha256', SECRET).update(`${headers['x-tapwatch-timestamp']}.${body}`).digest('hex');
    expect(headers['x-tapwatch-signature']).toBe(`sha256=${expected}`);
    expect(JSON.parse(body)).toEqual({ schema: 'tapwatch.notification.v1', action_id: ev.action_id, '@timestamp': at(0).toISOString(), rule: 'low', device: e.device, summary: e.summary, anomaly: e });
    expect(events).toEqual([ev]);
    expect(control.calls).toEqual([]); // notify changes nothing
  });

  it('records a delivery that failed as failed, saying why; a 4xx is not retried', async () => {
    const hook = await receiver([401, 401, 401]);
    const { responder } = respondWith([new WebhookNotifier({ url: hook.url, secret: SECRET, backoffMs: 10 })]);
    const [ev] = await responder.handle(anomaly('meter-1', { severity: 'low' }), at(0));
    expect(ev).toMatchObject({ result: 'failed', error: { message: expect.stringMatching(/^webhook http:\/\/127\.0\.0\.1:\d+\/hooks\/tapwatch answered 401 \(not retried\)$/) } });
    expect(hook.got).toHaveLength(1);

    const nobody = await receiver();
    const url = nobody.url;
    for (const f of cleanup.splice(0)) await f(); // the receiver is gone: connection refused
    const down = respondWith([new WebhookNotifier({ url, secret: SECRET, retries: 2, backoffMs: 10 })]);
    const [lost] = await down.responder.handle(anomaly('meter-1', { severity: 'low' }), at(0));
    expect(lost.error?.message).toMatch(/after 3 attempts/);
  });

  it('needs a secret, and signs `${timestamp}.${body}`', () => {
    expect(() => new WebhookNotifier({ url: 'http://127.0.0.1:1/', secret: '' })).toThrow(/needs a secret/);
    expect(signature('k', '1700000000', '{}')).toBe(createHmac('sha256', 'k').update('1700000000.{}').digest('hex'));
    expect(new WebhookNotifier({ url: 'https://ops:pw@hooks.example/x?token=t', secret: 's' }).name).toBe('webhook https://ops:***@hooks.example/x?token=***');
  });
});

describe('syslog', () => {
  it('sends one RFC 5424 message over UDP: local0 at the anomaly\'s severity, the evidence as JSON', async () => {
    const sock = createSocket('udp4');
    const messages: string[] = [];
    sock.on('message', (m) => messages.push(m.toString('utf8')));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => sock.close(() => r())));
    const syslog = new SyslogNotifier(`127.0.0.1:${sock.address().port}`);
    cleanup.push(() => syslog.close());
    const { responder } = respondWith([syslog]);
    const e = anomaly('meter-1', { severity: 'low' });
    const [ev] = await responder.handle(e, at(0));
    expect(ev.result).toBe('applied');
    await expect.poll(() => messages.length).toBe(1);
    const m = /^<(\d+)>1 (\S+) (\S+) tapwatch (\d+) notify - (.*)$/s.exec(messages[0]);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(16 * 8 + 5); // local0.notice for a low anomaly
    expect(m![2]).toBe(at(0).toISOString());
    expect(JSON.parse(m![5])).toEqual(notification({ action_id: ev.action_id, at: at(0), rule: 'low', anomaly: e }));
    expect(() => new SyslogNotifier('nohost')).toThrow(/expected HOST:PORT/);
  });
});

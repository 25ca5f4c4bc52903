// Where a `notify` decision goes besides tapwatch.actions: a webhook and/or syslog, each carrying the
// decision (its action_id, the policy rule) and the whole AnomalyEvent behind it (the evidence: what
// was observed, against which threshold and baseline, and the summary a person reads).
//
// Webhook: a JSON POST signed with HMAC-SHA256 (the receiver checks it with the shared secret),
//   X-Tapwatch-Timestamp: unix seconds
//   X-Tapwatch-Signature: sha256=hex(HMAC(secret, `${timestamp}.${body}`))   (the timestamp lets a
//     receiver refuse an old request replayed)
//   Idempotency-Key: derived from the action_id, the same on every retry and after a restart, so a
//     receiver that saw a delivery whose answer was lost can drop the repeat
// retried with backoff (net/backoff.ts) on connection errors, timeouts, 429 and 5xx; a 4xx is the
// receiver refusing the request and is not retried.
//
// Syslog: one RFC 5424 message over UDP (best effort, as syslog over UDP is): facility local0,
// severity from the anomaly's, app tapwatch, msgid notify, the JSON payload as the message.

import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { actionId } from '../contracts/action-event.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import type { ErrorCode } from '../contracts/errors.js';
import { redactUrl, redactUrls } from '../control/redact.js';
import { backoffMs } from '../net/backoff.js';

export const NOTIFICATION_SCHEMA_ID = 'tapwatch.notification.v1';

/** What every channel delivers. */
export interface Notification {
  schema: typeof NOTIFICATION_SCHEMA_ID;
  /** The ActionEvent's action_id: the same decision on tapwatch.actions. */
  action_id: string;
  /** When it was decided. */
  '@timestamp': string;
  /** The policy rule that decided to notify. */
  rule: string;
  device: AnomalyEvent['device'];
  /** The anomaly's sentence, for a person reading the message. */
  summary: string;
  anomaly: AnomalyEvent;
}

export interface Notifier {
  /** For logs and the policy's description: 'webhook https://…' (secrets redacted), 'syslog host:port'. */
  readonly name: string;
  /** Resolves once delivered; throws NotifyError when it could not be. */
  deliver(n: Notification): Promise<void>;
  close?(): Promise<void>;
}

export class NotifyError extends Error {
  readonly code: ErrorCode = 'TWP0002';
}

export function notification(d: { action_id: string; at: Date; rule: string; anomaly: AnomalyEvent }): Notification {
  return { schema: NOTIFICATION_SCHEMA_ID, action_id: d.action_id, '@timestamp': d.at.toISOString(), rule: d.rule, device: d.anomaly.device, summary: d.anomaly.summary, anomaly: d.anomaly };
}

export interface WebhookOptions {
  url: string;
  /** The HMAC key the receiver shares. */
  secret: string;
  /** Retries after the first attempt. Default 4. */
  retries?: number;
  /** First retry delay, doubling (net/backoff.ts). Default 250 ms. */
  backoffMs?: number;
  /** Per attempt. Default 5 s. */
  timeoutMs?: number;
  /** Unix time for the signature; tests fix it. */
  now?: () => number;
}

export class WebhookNotifier implements Notifier {
  readonly name: string;

  constructor(private readonly o: WebhookOptions) {
    if (!o.secret) throw new NotifyError('a webhook needs a secret to sign with');
    new URL(o.url); // throws on a URL that is not one, at start rather than at the first alarm
    this.name = `webhook ${redactUrl(o.url)}`;
  }

  async deliver(n: Notification): Promise<void> {
    const body = JSON.stringify(n);
    const timestamp = String(Math.floor((this.o.now ?? Date.now)() / 1000));
    const headers = {
      'content-type': 'application/json',
      // Its own key, not the action's: the action_id is the control API's Idempotency-Key for the same decision.
      'idempotency-key': actionId(n.device.id, n.action_id, 'webhook'),
      'x-tapwatch-timestamp': timestamp,
      'x-tapwatch-signature': `sha256=${signature(this.o.secret, timestamp, body)}`,
    };
    const retries = this.o.retries ?? 4;
    for (let attempt = 0; ; attempt++) {
      let why: string;
      try {
        const res = await fetch(this.o.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000) });
        await res.arrayBuffer();
        if (res.ok) return;
        why = `answered ${res.status}`;
        if (res.status < 500 && res.status !== 429) throw new NotifyError(`${this.name} ${why} (not retried)`);
      } catch (err) {
        if (err instanceof NotifyError) throw err;
        why = redactUrls((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message);
      }
      if (attempt >= retries) throw new NotifyError(`${this.name} ${why} (after ${attempt + 1} attempts)`);
      await sleep(backoffMs(attempt, { baseMs: this.o.backoffMs ?? 250 }));
    }
  }
}

/** hex HMAC-SHA256 of `${timestamp}.${body}`: what X-Tapwatch-Signature carries after 'sha256='. */
export function signature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

const SYSLOG_SEVERITY: Record<AnomalyEvent['severity'], number> = { critical: 2, high: 3, medium: 4, low: 5 };
const LOCAL0 = 16;
/** RFC 5426 asks receivers for at least 480 bytes and recommends 2048; a larger datagram may be cut. */
const MAX_SYSLOG_BYTES = 8192;

export class SyslogNotifier implements Notifier {
  readonly name: string;
  private readonly socket;
  private readonly host: string;
  private readonly port: number;

  constructor(target: string) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(target);
    if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) throw new NotifyError(`syslog: expected HOST:PORT, got '${target}'`);
    this.host = m[1] ?? m[2];
    this.port = Number(m[3]);
    this.name = `syslog ${target}`;
    this.socket = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
    this.socket.unref();
  }

  async deliver(n: Notification): Promise<void> {
    const pri = LOCAL0 * 8 + SYSLOG_SEVERITY[n.anomaly.severity];
    const header = `<${pri}>1 ${n['@timestamp']} ${hostname() || '-'} tapwatch ${process.pid} notify - `;
    const message = Buffer.from(header + JSON.stringify(n));
    await new Promise<void>((resolve, reject) =>
      this.socket.send(message.subarray(0, MAX_SYSLOG_BYTES), this.port, this.host, (err) => (err ? reject(new NotifyError(`${this.name}: ${err.message}`)) : resolve())),
    );
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

// A client for a SORACOM-compatible API: this server, a second instance of it, or SORACOM itself.
// It logs in on first use and again when a token is refused (expired), retries what can be retried
// (connection errors, timeouts, 5xx, 429 after its Retry-After) with exponential backoff, and sends
// every action with an Idempotency-Key, so a retry after a lost reply does not act twice. What it
// receives is checked against the API's schemas (contracts/control-api.ts) before anyone uses it: a
// proxy's page or another API's shape is an error saying what is wrong, not a Subscriber. URLs in
// its errors have their secrets stripped (they end up in logs and /healthz).

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { authResponseValidator, errorBodyValidator, subscriberListValidator, subscriberValidator, type AuthResponse, type Subscriber } from '../contracts/control-api.js';
import type { Validator } from '../contracts/validate.js';
import { backoffMs } from '../net/backoff.js';
import type { ControlClient, SubscriberAction } from './model.js';
import { redactUrl, redactUrls } from './redact.js';

export class ControlApiError extends Error {
  /** `status` 0 and code TWX0002 when no HTTP answer came at all. */
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ControlApiError';
  }
}

export interface SoracomClientOptions {
  /** The API root as SORACOM documents it (https://g.api.soracom.io/v1); a bare origin gets /v1 added. */
  baseUrl: string;
  authKeyId: string;
  authKey: string;
  /** Retries after the first attempt. Default 4. */
  retries?: number;
  /** First backoff; doubled each retry, with jitter, up to 10 s. Default 200 ms. */
  backoffMs?: number;
  /** Per attempt. Default 10 s. */
  timeoutMs?: number;
}


const MAX_BACKOFF_MS = 10_000;
const PAGE = 1000;

export class SoracomClient implements ControlClient {
  private readonly base: string;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private session: Promise<AuthResponse> | null = null;

  constructor(private readonly opts: SoracomClientOptions) {
    const url = new URL(opts.baseUrl);
    this.base = (url.pathname === '/' ? `${url.origin}/v1` : url.href).replace(/\/+$/, '');
    this.retries = opts.retries ?? 4;
    this.backoffMs = opts.backoffMs ?? 200;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async getSubscriber(imsi: string): Promise<Subscriber | null> {
    try {
      return (await this.call('GET', `/subscribers/${encodeURIComponent(imsi)}`, subscriberValidator)).body;
    } catch (err) {
      if (err instanceof ControlApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** Every subscriber, following x-soracom-next-key. */
  async listSubscribers(): Promise<Subscriber[]> {
    const all: Subscriber[] = [];
    let next: string | null = null;
    do {
      const query: string = `?limit=${PAGE}${next === null ? '' : `&last_evaluated_key=${encodeURIComponent(next)}`}`;
      const res = await this.call('GET', `/subscribers${query}`, subscriberListValidator);
      all.push(...res.body);
      next = res.headers.get('x-soracom-next-key');
    } while (next !== null);
    return all;
  }

  /** An Idempotency-Key is made up when none is given: retries within this call stay one action. */
  async act(imsi: string, action: SubscriberAction, opts: { idempotencyKey?: string; reason?: string } = {}): Promise<Subscriber> {
    const headers: Record<string, string> = { 'idempotency-key': opts.idempotencyKey ?? randomUUID() };
    // Header values are Latin-1: the server decodes this.
    if (opts.reason) headers['x-tapwatch-reason'] = encodeURIComponent(opts.reason);
    const body = action.type === 'update_speed_class' ? { speedClass: action.speedClass } : action.type === 'set_group' ? { groupId: action.groupId } : undefined;
    return (await this.call('POST', `/subscribers/${encodeURIComponent(imsi)}/${action.type}`, subscriberValidator, body, headers)).body;
  }

  /** An authenticated call; a refused token is renewed once. */
  private async call<T>(method: string, path: string, expect: Validator<T>, body?: unknown, headers: Record<string, string> = {}): Promise<{ body: T; headers: Headers }> {
    for (let renewed = false; ; renewed = true) {
      const login = this.login();
      const session = await login;
      try {
        return await this.request(method, path, expect, body, { ...headers, 'x-soracom-api-key': session.apiKey, 'x-soracom-token': session.token });
      } catch (err) {
        if (renewed || !(err instanceof ControlApiError) || err.status !== 401) throw err;
        // Only the first caller to see the refusal drops the session; the others then share its new login.
        if (this.session === login) this.session = null;
      }
    }
  }

  private login(): Promise<AuthResponse> {
    if (!this.session) {
      const pending = this.request('POST', '/auth', authResponseValidator, { authKeyId: this.opts.authKeyId, authKey: this.opts.authKey }).then((r) => r.body);
      this.session = pending;
      pending.catch(() => {
        if (this.session === pending) this.session = null;
      });
    }
    return this.session;
  }

  private async request<T>(method: string, path: string, expect: Validator<T>, body: unknown, headers: Record<string, string> = {}): Promise<{ body: T; headers: Headers }> {
    const url = `${this.base}${path}`;
    const what = `${method} ${redactUrl(url)}`;
    const init = {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (err) {
        const cause = redactUrls((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message);
        if (attempt >= this.retries) throw new ControlApiError(0, 'TWX0002', `${what}: ${cause} (after ${attempt + 1} attempts)`);
        await sleep(this.backoff(attempt));
        continue;
      }
      const text = await res.text();
      if (res.ok) return { body: parsed(text, expect, what, res.status), headers: res.headers };
      if ((res.status >= 500 || res.status === 429) && attempt < this.retries) {
        const retryAfter = Number(res.headers.get('retry-after'));
        await sleep(retryAfter > 0 ? Math.min(retryAfter * 1000, MAX_BACKOFF_MS) : this.backoff(attempt));
        continue;
      }
      throw errorFrom(res.status, text, what);
    }
  }

  /** net/backoff.ts's delay, spread over its second half so that clients retrying together do not stay together. */
  private backoff(attempt: number): number {
    const ms = backoffMs(attempt, { baseMs: this.backoffMs, maxMs: MAX_BACKOFF_MS });
    return ms / 2 + Math.random() * (ms / 2);
  }
}

/** The body of a 2xx answer, checked against what the API promises. */
function parsed<T>(text: string, expect: Validator<T>, what: string, status: number): T {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ControlApiError(status, 'TWX0004', `${what}: the answer is not JSON: ${text.slice(0, 200)}`);
  }
  const problems = expect.problems(body, { max: 3 });
  if (problems.length > 0) throw new ControlApiError(status, 'TWX0004', `${what}: the answer is not what the API promises: ${problems.join('; ')}`);
  return body as T;
}

function errorFrom(status: number, text: string, what: string): ControlApiError {
  try {
    const body: unknown = JSON.parse(text);
    if (errorBodyValidator.check(body)) return new ControlApiError(status, body.code, `${what}: ${status} ${body.code}: ${body.message}`);
  } catch {
    // Not a SORACOM error body (a proxy's HTML page, say): report the text as it is.
  }
  return new ControlApiError(status, 'TWX0003', `${what}: ${status} ${text.slice(0, 200)}`);
}

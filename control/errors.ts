// The API's error codes, one table: every error the server sends is `{code, message}` as SORACOM's
// are, with a code from here (documented in control/README.md). SORACOM's own codes are three
// letters and four digits; ours keep that shape under a TW prefix so they never collide with them.

import type { ApiErrorBody } from './model.js';

export const ERRORS = {
  TWA0001: { status: 401, message: 'Missing X-Soracom-API-Key or X-Soracom-Token' },
  TWA0002: { status: 401, message: 'Invalid or expired API key or token' },
  TWA0003: { status: 401, message: 'Invalid authKeyId or authKey' },
  TWA0004: { status: 403, message: 'This key is not allowed to do that' },
  TWA0005: { status: 429, message: 'Too many requests' },
  TWS0001: { status: 404, message: 'No such subscriber' },
  TWS0002: { status: 400, message: 'No such group' },
  TWG0001: { status: 404, message: 'No such group' },
  TWG0002: { status: 409, message: 'A group with this groupId exists' },
  TWG0003: { status: 409, message: 'The group still has subscribers' },
  TWK0001: { status: 404, message: 'No such auth key' },
  TWR0001: { status: 400, message: 'Invalid request' },
  TWR0002: { status: 413, message: 'Request body too large' },
  TWR0003: { status: 415, message: 'Unsupported Content-Type' },
  TWR0004: { status: 404, message: 'No such route' },
  TWR0005: { status: 422, message: 'Idempotency-Key was used for a different request' },
  TWI0001: { status: 400, message: 'Invalid device registry' },
  TWX0001: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;
export type ErrorCode = keyof typeof ERRORS;

/** Thrown by the store and the routes; the error handler turns it into the reply. */
export class ApiError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message: string = ERRORS[code].message) {
    super(message);
    this.status = ERRORS[code].status;
  }

  body(): ApiErrorBody {
    return { code: this.code, message: this.message };
  }
}

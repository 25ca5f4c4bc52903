// The API's errors: every error the server sends is `{code, message}` as SORACOM's are, with a code
// from contracts/errors.ts (the one table of tapwatch's codes; documented in control/README.md).

import { ERROR_CODES, type ApiErrorCode } from '../contracts/errors.js';
import type { ApiErrorBody } from './model.js';

export type ErrorCode = ApiErrorCode;

/** Thrown by the store and the routes; the error handler turns it into the reply. */
export class ApiError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message: string = ERROR_CODES[code].message) {
    super(message);
    this.status = ERROR_CODES[code].status;
  }

  body(): ApiErrorBody {
    return { code: this.code, message: this.message };
  }
}

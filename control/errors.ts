// The API's errors: every error the server sends is `{code, message}` as SORACOM's are, with a code
// from contracts/errors.ts (the one table of tapwatch's codes; documented in control/README.md).
// The storage and the inventory throw domain errors; this is the one place that turns them into
// HTTP statuses and codes.

import type { ErrorBody } from '../contracts/control-api.js';
import { ERROR_CODES, type ApiErrorCode } from '../contracts/errors.js';
import { InventoryError } from '../inventory/inventory.js';
import { StoreError, type StoreErrorKind } from './store/errors.js';

export type ErrorCode = ApiErrorCode;

/** Thrown by the routes; the error handler turns it into the reply. */
export class ApiError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message: string = ERROR_CODES[code].message) {
    super(message);
    this.status = ERROR_CODES[code].status;
  }

  body(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

/** What each refusal of the store is in the API. */
const STORE_ERRORS: Record<StoreErrorKind, ErrorCode | null> = {
  'subscriber-not-found': 'TWS0001',
  'target-group-not-found': 'TWS0002',
  'group-not-found': 'TWG0001',
  'group-exists': 'TWG0002',
  'group-not-empty': 'TWG0003',
  'key-not-found': 'TWK0001',
  'idempotency-key-reused': 'TWR0005',
  'invalid-registry': 'TWI0001',
  'invalid-configuration': 'TWR0001',
  // Not something a request can cause: the server has its database open.
  'database-missing': null,
};

/** The API error for a domain error, or null when `err` is not one (an internal error). */
export function apiErrorOf(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreError) {
    const code = STORE_ERRORS[err.kind];
    return code ? new ApiError(code, err.message) : null;
  }
  if (err instanceof InventoryError) return new ApiError('TWI0001', err.message);
  return null;
}

// What the store refuses, as domain facts: it knows nothing of HTTP. The route layer maps each kind
// to an API error code and status (control/errors.ts), the CLI prints the message.

import type { ErrorCode } from '../../contracts/errors.js';

export type StoreErrorKind =
  | 'subscriber-not-found'
  /** set_group names a group that does not exist. */
  | 'target-group-not-found'
  | 'group-not-found'
  | 'group-exists'
  | 'group-not-empty'
  | 'key-not-found'
  /** An Idempotency-Key seen before with a different request. */
  | 'idempotency-key-reused'
  | 'invalid-registry'
  /** A value the store refuses to keep (a redirect gateway that is no address, or cannot be a next hop). */
  | 'invalid-configuration'
  | 'database-missing';

export class StoreError extends Error {
  /** Set for the kinds an operator meets outside the API (the CLI prints it). */
  readonly code: ErrorCode | undefined;
  constructor(readonly kind: StoreErrorKind, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = kind === 'database-missing' ? 'TWB0002' : kind === 'invalid-registry' ? 'TWI0001' : undefined;
  }
}

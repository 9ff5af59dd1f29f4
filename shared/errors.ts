/**
 * Reasons the server attaches to errors as `error.data.reason`, next to tRPC's own `code`, so a client can
 * tell one BAD_REQUEST from another without parsing messages.
 */
export const errorReasons = {
  /** The input failed its zod schema; `error.data.issues` lists every problem with its path. */
  invalidInput: 'invalid_input',
  /** A `lastEventId`, `after` or `before` cursor that is not a cursor (`shared/cursor.ts`), or that this store never issued. */
  invalidCursor: 'invalid_cursor',
  /**
   * More events in one call than it may carry: a `publishBatch` past `limits.batchSize`, or a request past the
   * publish burst, which no wait would admit (PAYLOAD_TOO_LARGE; docs/security.md).
   */
  batchTooLarge: 'batch_too_large',
  /** A query for an entity (e.g. a workflow) the store has never seen. */
  notFound: 'not_found',
  /** No token, or one the server does not know (UNAUTHORIZED). */
  unauthorized: 'unauthorized',
  /** The token expired while its stream was open (UNAUTHORIZED): reconnect with a fresh one; resume from the cursor. */
  tokenExpired: 'token_expired',
  /** The token was removed or changed while its stream was open (UNAUTHORIZED): reconnect with a valid one. */
  tokenRevoked: 'token_revoked',
  /** A known token whose role does not allow this (FORBIDDEN): e.g. a viewer publishing. */
  forbidden: 'forbidden',
  /**
   * The publisher (its token, or its address without tokens) published faster than its rate limit
   * (TOO_MANY_REQUESTS): nothing was stored; retry after the wait the error states (`data.retryAfterMs`, or
   * HTTP's `Retry-After`), which the Publishers wait out.
   */
  rateLimited: 'rate_limited',
  /** The connection already holds the most subscriptions allowed (TOO_MANY_REQUESTS). */
  tooManySubscriptions: 'too_many_subscriptions',
  /** The store (PostgreSQL) cannot be reached (SERVICE_UNAVAILABLE): nothing was stored; retry with the same keys. */
  storeUnavailable: 'store_unavailable',
  /**
   * An `ingest` whose `after` key is not stored (PRECONDITION_FAILED): the batch ahead of it was not stored, and
   * nothing of this one was; send that batch first.
   */
  outOfOrder: 'out_of_order',
} as const;

export type ErrorReason = (typeof errorReasons)[keyof typeof errorReasons];

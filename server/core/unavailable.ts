/**
 * The store's database cannot be reached: part of the store contract (server/core/store.ts). A store throws it
 * for any operation that failed because the connection was lost or refused (the PostgreSQL store), or the file
 * could not be read or written in time (the SQLite store), as opposed to a query the database itself refused.
 * The core relies on it: a stream whose store read throws it retries with backoff instead of ending, and the
 * transports answer it as a retryable SERVICE_UNAVAILABLE (503 on /ingest) instead of an internal error. Which
 * engine errors count is the stores' business (server/store/connection-errors.ts).
 */
import { TRPCError } from '@trpc/server';
import { errorReasons } from '@switchboard/shared';
import { ReasonedError } from './errors.js';

/**
 * SERVICE_UNAVAILABLE with reason `store_unavailable`: retryable. For a write, the outcome may be unknown (the
 * connection dropped during COMMIT), which is why publishers retry under the same idempotency keys: a write that
 * did commit returns its original events, one that did not is stored then.
 */
export class StoreUnavailableError extends TRPCError {
  constructor(what: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const message = `the store is unavailable (${what}: ${detail}); retry with the same idempotency keys`;
    super({ code: 'SERVICE_UNAVAILABLE', message, cause: new ReasonedError(errorReasons.storeUnavailable, message) });
    this.name = 'StoreUnavailableError';
  }
}

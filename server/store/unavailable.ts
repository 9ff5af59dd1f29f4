/**
 * The store's database cannot be reached. Thrown by a networked store (PostgreSQL) for any operation that failed
 * because the connection was lost or refused, as opposed to a query the database itself refused.
 */
import { TRPCError } from '@trpc/server';
import { errorReasons } from '@switchboard/shared';
import { ReasonedError } from '../core/errors.js';

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

/**
 * True for a lost or refused connection: no SQLSTATE at all (a socket error, "Connection terminated"), class 08
 * (connection exception) or 57P0x (the server is shutting down, or `pg_terminate_backend` ended this backend).
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return true;
  if (code.startsWith('08') || code.startsWith('57P')) return true;
  // Node's own socket errors carry codes like ECONNREFUSED and ECONNRESET.
  return code.startsWith('E');
}

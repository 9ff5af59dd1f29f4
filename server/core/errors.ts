import type { ErrorReason } from '@switchboard/shared';

/**
 * An error that knows which `error.data.reason` clients should see. Thrown as the `cause` of a TRPCError (or
 * on its own where tRPC wraps it); the error formatter copies the reason into the response.
 */
export class ReasonedError extends Error {
  constructor(
    readonly reason: ErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ReasonedError';
  }
}

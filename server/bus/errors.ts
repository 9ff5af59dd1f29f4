/** A bus's engine (Redis, or PostgreSQL for NOTIFY) cannot be reached at start-up; the message is one line. */
export class BusOpenError extends Error {
  override name = 'BusOpenError';
}

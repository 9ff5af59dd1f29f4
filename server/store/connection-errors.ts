/**
 * Which of an engine's errors mean the database is away (and become a `StoreUnavailableError`, the contract's
 * server/core/unavailable.ts) rather than a query it refused. Engine knowledge, so it stays beside the stores.
 */

/** Node's socket errors: the peer refused, reset or never answered, or the network had no way to it. */
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * What node-postgres throws, with no code, when the connection is gone or never came: the socket closed under a
 * query, the pool timed out connecting, or a client broken by an earlier connection error was used.
 */
const pgConnectionMessages = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
  /^Query read timeout/,
];

/**
 * True for a lost or refused connection, and only for that: PostgreSQL's class 08 (connection exception) and
 * 57P01-57P03 (the server is shutting down, `pg_terminate_backend` ended this backend, or it cannot accept
 * connections yet), a socket error, node-postgres's own connection errors, and SQLite's SQLITE_BUSY (another
 * process held the file past the busy timeout) and SQLITE_IOERR (the file could not be read or written). Each
 * is worth retrying as it stands. Anything else, a plain Error above all, is a bug or a query the database
 * refused: retrying cannot help, and it says nothing about the database being away.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return pgConnectionMessages.some((pattern) => pattern.test(error.message));
  return (
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    socketCodes.has(code) ||
    code.startsWith('SQLITE_BUSY') ||
    code.startsWith('SQLITE_IOERR')
  );
}

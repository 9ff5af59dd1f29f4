/**
 * The command line's own errors, each mapped to an exit code by `run()`.
 */
import { TRPCClientError } from '@trpc/client';
import { exitCodes } from './io.js';

/** Thrown when the command line itself is wrong (unknown command or flag, a value that cannot be parsed): exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';

  constructor(
    message: string,
    /** The flags themselves were refused (an unknown one, one without its value): the command's help lists them. */
    readonly flags = false,
  ) {
    super(message);
  }
}

/** Thrown when the hub did not answer within `--connect-timeout` (or the connection was lost with `--no-retry`): exit 1. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

/**
 * Thrown when SIGINT or SIGTERM stopped a command before it finished its work (`emit`, `history`, `status`, or
 * any command still connecting): exit 128 + the signal's number, as a shell reports a process a signal ended.
 */
export class StoppedError extends Error {
  override name = 'StoppedError';
  constructor(
    message: string,
    readonly signalName: string,
  ) {
    super(message);
  }
}

const signalNumbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/** The exit code for an error that reached `run()`. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return exitCodes.usage;
  if (error instanceof StoppedError) return 128 + (signalNumbers[error.signalName] ?? 0);
  return exitCodes.failed;
}

/** A server-side refusal, or any other failure, as one readable line (validation issues are already one line each). */
export function describeError(error: unknown): string {
  if (error instanceof TRPCClientError) {
    const code = (error.data as { code?: string } | undefined)?.code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The command line's own errors, each mapped to an exit code by `run()`.
 */
import { TRPCClientError } from '@trpc/client';

/** Thrown when the command line itself is wrong (unknown command or flag, a value that cannot be parsed): exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A server-side refusal, or any other failure, as one readable line (validation issues are already one line each). */
export function describeError(error: unknown): string {
  if (error instanceof TRPCClientError) {
    const code = (error.data as { code?: string } | undefined)?.code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

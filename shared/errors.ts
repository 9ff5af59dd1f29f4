/**
 * Reasons the server attaches to errors as `error.data.reason`, next to tRPC's own `code`, so a client can
 * tell one BAD_REQUEST from another without parsing messages.
 */
export const errorReasons = {
  /** The input failed its zod schema; `error.data.issues` lists every problem with its path. */
  invalidInput: 'invalid_input',
  /** A `lastEventId` or `after` cursor that is not a decimal event id. */
  invalidCursor: 'invalid_cursor',
  /** A `publishBatch` with more events than `limits.batchSize`. */
  batchTooLarge: 'batch_too_large',
  /** A query for an entity (e.g. a workflow) the store has never seen. */
  notFound: 'not_found',
} as const;

export type ErrorReason = (typeof errorReasons)[keyof typeof errorReasons];

/**
 * Size limits of the contract. Both ends read them: the server rejects what exceeds them, a client can check
 * before sending. Each error that enforces one names it.
 */
export const limits = {
  /** Characters in an id (agent, workflow, step, task), an idempotency key or a correlation id. */
  idLength: 128,
  /** Characters in a name, a type label, a title or a one-line summary. */
  nameLength: 256,
  /** Characters in a message, a description or a text block. */
  textLength: 16_384,
  /** Bytes of an event's `data` as JSON. */
  dataBytes: 65_536,
  /** Steps declared by one `workflow.started`. */
  stepsPerWorkflow: 1_000,
  /** Events in one `publishBatch` call. */
  batchSize: 1_000,
  /** Filter values (topics, types, agent ids, steps) in one subscription or history query. */
  filterValues: 100,
  /** Events in one `history` page. */
  historyPage: 1_000,
} as const;

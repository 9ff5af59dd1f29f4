/**
 * The tables, described once for both dialects: an append-only event log (the source of truth) and current-state
 * tables kept in step with it inside the append transaction. drizzle/schema.ts (SQLite) and drizzle/pg-schema.ts
 * (PostgreSQL) lend the column builders that differ between the two (`ColumnKinds`) and their index and table
 * functions; names, nullability, defaults and indexes are the same in both and are written only here. Every
 * migration of either dialect is generated from the table built on this description.
 */
import { sql, type Column, type ColumnBuilder, type SQL } from 'drizzle-orm';

type Builder = ColumnBuilder;

/** The kinds of column whose builder differs between the dialects. */
export interface ColumnKinds<
  Seq extends Builder,
  Int extends Builder,
  Long extends Builder,
  At extends Builder,
  Text extends Builder,
  Status extends Builder,
  Phase extends Builder,
> {
  /** The events' primary key: the global sequence and resume cursor, never handed out twice. */
  seq: (name: string) => Seq;
  /** A small integer. */
  int: (name: string) => Int;
  /** A 64-bit integer read as a number: an event id elsewhere, epoch milliseconds, a counter. */
  long: (name: string) => Long;
  /** A time read as a `Date`, to the millisecond. */
  at: (name: string) => At;
  text: (name: string) => Text;
  /** Text holding a `WorkflowStatus` (`workflowStatusValues` of `@switchboard/shared`). */
  workflowStatus: (name: string) => Status;
  /** Text holding a `TddPhase` (`tddPhaseValues` of `@switchboard/shared`). */
  tddPhase: (name: string) => Phase;
}

/**
 * `.default(value)` on a builder whose type is still a parameter here, which TypeScript cannot check a value
 * against; each dialect's table checks the column it gets.
 */
function withDefault<T extends Builder>(column: T, value: string | number) {
  return column.default(value as never);
}

/** The columns of every table, built with one dialect's kinds. */
export function columnsOf<
  Seq extends Builder,
  Int extends Builder,
  Long extends Builder,
  At extends Builder,
  Text extends Builder,
  Status extends Builder,
  Phase extends Builder,
>(k: ColumnKinds<Seq, Int, Long, At, Text, Status, Phase>) {
  return {
    /**
     * Every event ever accepted, in commit order. The *_id columns copy fields out of `data` so that
     * subscription filters are index lookups.
     */
    events: {
      id: k.seq('id'),
      type: k.text('type').notNull(),
      topic: k.text('topic').notNull(),
      timestamp: k.at('timestamp').notNull(),
      key: k.text('key'),
      /** Whose key it is (the publishing token's identity; '' without tokens): keys are unique per owner. */
      keyOwner: withDefault(k.text('key_owner').notNull(), ''),
      source: k.text('source'),
      correlationId: k.text('correlation_id'),
      agentId: k.text('agent_id'),
      stepId: k.text('step_id'),
      /** The validated `data` object as JSON text: read back exactly as written. */
      data: k.text('data').notNull(),
      /** When the server stored it, epoch ms (`timestamp` is the producer's); retention by age goes by this. */
      receivedAt: withDefault(k.long('received_at').notNull(), 0),
    },
    /** Store-wide values that must survive restarts (the retention watermark; on PostgreSQL also the head). */
    storeMeta: {
      key: k.text('key').primaryKey(),
      value: k.long('value').notNull(),
    },
    /**
     * The log's epoch: one row, written when the store is first opened on this database and never changed, so a
     * cursor can say which log its id belongs to (shared/cursor.ts). A new database gets a new one.
     */
    logEpoch: {
      id: k.int('id').primaryKey(),
      epoch: k.text('epoch').notNull(),
      createdAt: k.at('created_at').notNull(),
    },
    /** One row per agent: its latest `agent.status` event (the snapshot `agentStatus` starts with). */
    agents: {
      agentId: k.text('agent_id').primaryKey(),
      agentType: k.text('agent_type').notNull(),
      status: k.text('status').notNull(),
      statusEventId: k.long('status_event_id').notNull(),
      /** Latest agent.* event of any type. */
      lastEventId: k.long('last_event_id').notNull(),
      updatedAt: k.at('updated_at').notNull(),
      /**
       * When the hub last heard of the agent, by the storing node's clock (epoch ms): any event naming it, or a
       * heartbeat. Presence goes by this (server/core/presence.ts), never by a producer's timestamp.
       */
      seenAt: withDefault(k.long('seen_at').notNull(), 0),
    },
    /** One row per workflow, created by its first event of any type. */
    workflows: {
      workflowId: k.text('workflow_id').primaryKey(),
      workflowType: k.text('workflow_type'),
      status: k.workflowStatus('status').notNull(),
      currentStepId: k.text('current_step_id'),
      /** The agent named by its latest step start or block that names one: whose presence the workflow shows. */
      agentId: k.text('agent_id'),
      startedAt: k.at('started_at'),
      finishedAt: k.at('finished_at'),
      /** Latest lifecycle event (started, step_*, completed, failed): the snapshot `workflowEvents` starts with. */
      lifecycleEventId: k.long('lifecycle_event_id'),
      lastEventId: k.long('last_event_id').notNull(),
      updatedAt: k.at('updated_at').notNull(),
    },
    /** One row per TDD task: its latest `tdd.phase_changed` event (the snapshot `tddPhase` starts with). */
    tddTasks: {
      taskId: k.text('task_id').primaryKey(),
      agentId: k.text('agent_id').notNull(),
      phase: k.tddPhase('phase'),
      phaseEventId: k.long('phase_event_id'),
      lastEventId: k.long('last_event_id').notNull(),
      updatedAt: k.at('updated_at').notNull(),
    },
    /**
     * Usage totals (`usage.recorded` events summed) per agent, per workflow and per model (`scope`), added to
     * inside the append transaction. Kept beside the log, so retention never lowers a total. Cost is in
     * millionths of a dollar.
     */
    usageTotals: {
      scope: k.text('scope').notNull(),
      id: k.text('id').notNull(),
      inputTokens: k.long('input_tokens').notNull(),
      outputTokens: k.long('output_tokens').notNull(),
      cacheReadTokens: k.long('cache_read_tokens').notNull(),
      cacheCreationTokens: k.long('cache_creation_tokens').notNull(),
      costMicros: k.long('cost_micros').notNull(),
      requests: k.long('requests').notNull(),
      /** The newest event counted. */
      lastEventId: k.long('last_event_id').notNull(),
      updatedAt: k.at('updated_at').notNull(),
    },
  };
}

/**
 * An index: its name, whether it is unique, its columns (by their names in the column map), and for a partial
 * index the one column whose non-null rows it holds.
 */
interface IndexOf<Column extends string> {
  name: string;
  unique?: true;
  on: readonly [Column, ...Column[]];
  whereNotNull?: Column;
}

/** Every index of the tables that have one. */
export const indexes = {
  // Every index is written on every insert, so the log keeps only those its reads need (docs/performance-history.md):
  // the keys, and topic and type, which subscriptions and history select by. A filter by agent or step reads forward
  // from its cursor by id (a stream's replay is a range of ids) and is checked on each row.
  events: [
    // Unique per owner across the whole store: the same key published twice (or on two nodes) stores one event.
    // Events without a key (most) take no entry at all.
    { name: 'events_owner_key_unique', unique: true, on: ['keyOwner', 'key'], whereNotNull: 'key' },
    { name: 'events_topic_id', on: ['topic', 'id'] },
    { name: 'events_type_id', on: ['type', 'id'] },
  ],
  workflows: [{ name: 'workflows_status', on: ['status', 'lastEventId'] }],
  tddTasks: [{ name: 'tdd_tasks_agent', on: ['agentId'] }],
  usageTotals: [{ name: 'usage_totals_recent', on: ['scope', 'lastEventId'] }],
} as const satisfies { [Table in keyof Tables]?: readonly IndexOf<keyof Tables[Table] & string>[] };

type Tables = ReturnType<typeof columnsOf>;

/** The check that keeps `log_epoch` to its one row: its name and condition, for the dialect's `check`. */
export function logEpochOneRow(id: Column): [name: string, condition: SQL] {
  return ['log_epoch_one_row', sql`${id} = 1`];
}

/** One dialect's index functions. */
interface IndexFunctions<Column, Index> {
  index: (name: string) => { on: (...columns: [Column, ...Column[]]) => Index & { where: (condition: SQL) => Index } };
  uniqueIndex: (name: string) => {
    on: (...columns: [Column, ...Column[]]) => Index & { where: (condition: SQL) => Index };
  };
}

/**
 * The indexes of a table, made with one dialect's index functions from the table's extra-config columns:
 * `(t) => indexesOf(indexes.events, t, dialectIndexes)`.
 */
export function indexesOf<Name extends string, Column, Index>(
  list: readonly IndexOf<Name>[],
  columns: Record<Name, Column>,
  make: IndexFunctions<Column, Index>,
): Index[] {
  return list.map(({ name, unique, on, whereNotNull }) => {
    const [first, ...rest] = on;
    const made = (unique ? make.uniqueIndex : make.index)(name).on(columns[first], ...rest.map((c) => columns[c]));
    return whereNotNull === undefined ? made : made.where(sql`${columns[whereNotNull]} IS NOT NULL`);
  });
}

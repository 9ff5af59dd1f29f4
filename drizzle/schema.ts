/**
 * The SQLite schema: an append-only event log (the source of truth) and current-state tables kept in step with
 * it inside the append transaction. Migrations in drizzle/migrations are generated from this file by
 * `npm run db:generate` and applied at start-up.
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { workflowStatusValues } from '../shared/events.js';

/**
 * Every event ever accepted, in commit order. `id` is the global sequence and the resume cursor; AUTOINCREMENT
 * guarantees an id is never handed out twice, even after retention deletes the newest rows.
 * The *_id columns copy fields out of `data` so that subscription filters are index lookups.
 */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    type: text('type').notNull(),
    topic: text('topic').notNull(),
    timestamp: integer('timestamp', { mode: 'timestamp_ms' }).notNull(),
    key: text('key'),
    /** Whose key it is (the publishing token's identity; '' without tokens): keys are unique per owner. */
    keyOwner: text('key_owner').notNull().default(''),
    source: text('source'),
    correlationId: text('correlation_id'),
    agentId: text('agent_id'),
    workflowId: text('workflow_id'),
    stepId: text('step_id'),
    taskId: text('task_id'),
    /** The validated `data` object as JSON. */
    data: text('data').notNull(),
    /** When the server stored it (`timestamp` is the producer's); retention by age goes by this. */
    receivedAt: integer('received_at').notNull().default(0),
  },
  (t) => [
    uniqueIndex('events_owner_key_unique').on(t.keyOwner, t.key),
    index('events_topic_id').on(t.topic, t.id),
    index('events_type_id').on(t.type, t.id),
    index('events_agent_id').on(t.agentId, t.id),
    index('events_step_id').on(t.stepId, t.id),
  ],
);

/** Store-wide values that must survive restarts. */
export const storeMeta = sqliteTable('store_meta', {
  key: text('key').primaryKey(),
  value: integer('value').notNull(),
});

/**
 * The log's epoch: one row, written when the store is first opened on this file and never changed, so a cursor
 * can say which log its id belongs to (shared/cursor.ts). A new file gets a new one.
 */
export const logEpoch = sqliteTable(
  'log_epoch',
  {
    id: integer('id').primaryKey(),
    epoch: text('epoch').notNull(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [check('log_epoch_one_row', sql`${t.id} = 1`)],
);

/** One row per agent: its latest `agent.status` event (the snapshot `agentStatus` starts with). */
export const agents = sqliteTable('agents', {
  agentId: text('agent_id').primaryKey(),
  agentType: text('agent_type').notNull(),
  status: text('status').notNull(),
  statusEventId: integer('status_event_id').notNull(),
  /** Latest agent.* event of any type. */
  lastEventId: integer('last_event_id').notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

/** One row per workflow, created by its first event of any type. */
export const workflows = sqliteTable(
  'workflows',
  {
    workflowId: text('workflow_id').primaryKey(),
    workflowType: text('workflow_type'),
    status: text('status', { enum: workflowStatusValues }).notNull(),
    currentStepId: text('current_step_id'),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
    /** Latest lifecycle event (started, step_*, completed, failed): the snapshot `workflowEvents` starts with. */
    lifecycleEventId: integer('lifecycle_event_id'),
    lastEventId: integer('last_event_id').notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('workflows_status').on(t.status, t.lastEventId)],
);

/** One row per TDD task: its latest `tdd.phase_changed` event (the snapshot `tddPhase` starts with). */
export const tddTasks = sqliteTable(
  'tdd_tasks',
  {
    taskId: text('task_id').primaryKey(),
    agentId: text('agent_id').notNull(),
    phase: text('phase', { enum: ['red', 'green', 'refactor'] }),
    phaseEventId: integer('phase_event_id'),
    lastEventId: integer('last_event_id').notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('tdd_tasks_agent').on(t.agentId)],
);

/**
 * Usage totals (`usage.recorded` events summed) per agent, per workflow and per model, added to inside the
 * append transaction. Kept beside the log, so retention never lowers a total. Cost is in millionths of a dollar.
 */
export const usageTotals = sqliteTable(
  'usage_totals',
  {
    scope: text('scope', { enum: ['agent', 'workflow', 'model'] }).notNull(),
    id: text('id').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    cacheReadTokens: integer('cache_read_tokens').notNull(),
    cacheCreationTokens: integer('cache_creation_tokens').notNull(),
    costMicros: integer('cost_micros').notNull(),
    requests: integer('requests').notNull(),
    /** The newest event counted. */
    lastEventId: integer('last_event_id').notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.id] }), index('usage_totals_recent').on(t.scope, t.lastEventId)],
);

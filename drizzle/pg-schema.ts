/**
 * The PostgreSQL schema, mirroring drizzle/schema.ts column for column (same names, same meaning), for nodes
 * that share one database. Migrations in drizzle/pg-migrations are generated from this file by
 * `npm run db:generate:pg` and applied at start-up under an advisory lock.
 *
 * Ids are not a sequence: a PostgreSQL sequence hands out values that a rolled-back transaction never uses
 * (holes) and that commit out of order. The store takes them from the `head` row of `store_meta`, locked inside
 * the append transaction, so ids are contiguous and become visible in the order they were assigned.
 */
import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { workflowStatusValues } from '../shared/events.js';

const id = (name: string) => bigint(name, { mode: 'number' });
const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

/** Every event ever accepted, in commit order; `id` is the global sequence and the resume cursor. */
export const events = pgTable(
  'events',
  {
    id: id('id').primaryKey(),
    type: text('type').notNull(),
    topic: text('topic').notNull(),
    timestamp: at('timestamp').notNull(),
    key: text('key'),
    /** Whose key it is (the publishing token's identity; '' without tokens): keys are unique per owner. */
    keyOwner: text('key_owner').notNull().default(''),
    source: text('source'),
    correlationId: text('correlation_id'),
    agentId: text('agent_id'),
    workflowId: text('workflow_id'),
    stepId: text('step_id'),
    taskId: text('task_id'),
    /** The validated `data` object as JSON text: read back exactly as written, as on SQLite. */
    data: text('data').notNull(),
    /** When the server stored it, epoch ms; retention by age goes by this. */
    receivedAt: bigint('received_at', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    // Unique across the cluster per owner: the same key published on two nodes at once stores one event.
    uniqueIndex('events_owner_key_unique').on(t.keyOwner, t.key),
    index('events_topic_id').on(t.topic, t.id),
    index('events_type_id').on(t.type, t.id),
    index('events_agent_id').on(t.agentId, t.id),
    index('events_step_id').on(t.stepId, t.id),
  ],
);

/** Store-wide values: `head` (the last id handed out, the row appends lock) and the retention watermark. */
export const storeMeta = pgTable('store_meta', {
  key: text('key').primaryKey(),
  value: bigint('value', { mode: 'number' }).notNull(),
});

/**
 * The log's epoch: one row, written when the store is first opened on this schema and never changed, so a
 * cursor can say which log its id belongs to (shared/cursor.ts). A recreated schema gets a new one.
 */
export const logEpoch = pgTable(
  'log_epoch',
  {
    id: integer('id').primaryKey(),
    epoch: text('epoch').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [check('log_epoch_one_row', sql`${t.id} = 1`)],
);

export const agents = pgTable('agents', {
  agentId: text('agent_id').primaryKey(),
  agentType: text('agent_type').notNull(),
  status: text('status').notNull(),
  statusEventId: id('status_event_id').notNull(),
  lastEventId: id('last_event_id').notNull(),
  updatedAt: at('updated_at').notNull(),
});

export const workflows = pgTable(
  'workflows',
  {
    workflowId: text('workflow_id').primaryKey(),
    workflowType: text('workflow_type'),
    status: text('status', { enum: workflowStatusValues }).notNull(),
    currentStepId: text('current_step_id'),
    startedAt: at('started_at'),
    finishedAt: at('finished_at'),
    lifecycleEventId: id('lifecycle_event_id'),
    lastEventId: id('last_event_id').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [index('workflows_status').on(t.status, t.lastEventId)],
);

export const tddTasks = pgTable(
  'tdd_tasks',
  {
    taskId: text('task_id').primaryKey(),
    agentId: text('agent_id').notNull(),
    phase: text('phase', { enum: ['red', 'green', 'refactor'] }),
    phaseEventId: id('phase_event_id'),
    lastEventId: id('last_event_id').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [index('tdd_tasks_agent').on(t.agentId)],
);

/** Usage totals per agent, per workflow and per model, as in drizzle/schema.ts. */
export const usageTotals = pgTable(
  'usage_totals',
  {
    scope: text('scope', { enum: ['agent', 'workflow', 'model'] }).notNull(),
    id: text('id').notNull(),
    inputTokens: id('input_tokens').notNull(),
    outputTokens: id('output_tokens').notNull(),
    cacheReadTokens: id('cache_read_tokens').notNull(),
    cacheCreationTokens: id('cache_creation_tokens').notNull(),
    costMicros: id('cost_micros').notNull(),
    requests: id('requests').notNull(),
    lastEventId: id('last_event_id').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.id] }), index('usage_totals_recent').on(t.scope, t.lastEventId)],
);

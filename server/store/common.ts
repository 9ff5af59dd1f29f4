/**
 * What the SQLite and the PostgreSQL store share, written once: which columns make an envelope, where each
 * snapshot's rows come from, an `EventFilter` as SQL, a workflow row as `WorkflowState`, and retention (its rule
 * and its statements). Each store keeps only what really differs between the dialects: how a topic pattern is
 * matched (GLOB, LIKE), how a commit is written (prepared statements, an unnest insert), how ids are assigned and
 * appends serialized, and placeholders (`?`, `$1`).
 */
import { and, asc, desc, eq, gt, inArray, lt, or, type Column, type SQL } from 'drizzle-orm';
import { entityTopic, type ValidEvent } from '@switchboard/shared';
import { envelopeOfRow, storedEnvelope, type EnvelopeRow } from '../core/envelope.js';
import { compileFilter, refsOf, type EventFilter, type EventRefs } from '../core/filter.js';
import type { EventRange, RetentionPolicy, Snapshot, WorkflowState } from '../core/store.js';

type EnvelopeColumn = keyof EnvelopeRow;

/**
 * One event's columns as both stores insert them, in this order (the id is the store's to add): times as epoch
 * ms, `data` as the validated object's JSON text.
 */
export type EventInsert = [
  type: string,
  topic: string,
  timestamp: number,
  key: string | null,
  keyOwner: string,
  source: string | null,
  correlationId: string | null,
  agentId: string | null,
  stepId: string | null,
  data: string,
  receivedAt: number,
];

/** `EventInsert` for a validated event, and the ids its data refers to (the state and touches use them). */
export function eventInsert(
  event: ValidEvent,
  keyOwner: string,
  topic: string,
  timestamp: Date,
  receivedAt: number,
): { columns: EventInsert; refs: EventRefs } {
  const refs = refsOf(event);
  const columns: EventInsert = [
    event.type,
    topic,
    timestamp.getTime(),
    event.key ?? null,
    keyOwner,
    event.source ?? null,
    event.correlationId ?? null,
    refs.agentId,
    refs.stepId,
    JSON.stringify(event.data),
    receivedAt,
  ];
  return { columns, refs };
}

/** The columns an envelope is made of (the *_id copies, the key's owner and received_at stay in the database). */
export function envelopeColumnsOf<Events extends Record<EnvelopeColumn, Column>>(
  events: Events,
): Pick<Events, EnvelopeColumn> {
  // In `StoredRow`'s order: rows read as arrays are taken apart by position.
  return {
    id: events.id,
    type: events.type,
    topic: events.topic,
    timestamp: events.timestamp,
    key: events.key,
    source: events.source,
    correlationId: events.correlationId,
    data: events.data,
  };
}

/**
 * A row of `envelopeColumns` read as an array (a Drizzle-built statement run by the driver itself, without
 * Drizzle's mapping of each row): the values in that order. SQLite gives the timestamp in epoch ms, pg bigint
 * ids as strings.
 */
export type StoredRow = [
  id: number | string,
  type: string,
  topic: string,
  timestamp: Date | number,
  key: string | null,
  source: string | null,
  correlationId: string | null,
  data: string,
];

/** The envelope of a `StoredRow` (its order is the one `envelopeColumnsOf` below lists the columns in). */
export function envelopeOfStoredRow([id, type, topic, timestamp, key, source, correlationId, data]: StoredRow) {
  const at = typeof timestamp === 'number' ? new Date(timestamp) : timestamp;
  return storedEnvelope(Number(id), type, topic, at, key, source, correlationId, data);
}

/** The same columns as the SELECT list of a statement written in SQL, each read under its envelope name. */
export function envelopeSelectList(columns: Record<EnvelopeColumn, Column>): string {
  return Object.entries(columns)
    .map(([name, column]) => (column.name === name ? name : `${column.name} AS "${name}"`))
    .join(', ');
}

/** Which state table holds the snapshot of each kind, and its column pointing at the entity's latest event. */
export function snapshotSourcesOf<
  Agents extends { statusEventId: Column },
  Workflows extends { lifecycleEventId: Column },
  TddTasks extends { phaseEventId: Column },
>(tables: { agents: Agents; workflows: Workflows; tddTasks: TddTasks }) {
  return {
    agents: { table: tables.agents, eventId: tables.agents.statusEventId },
    workflows: { table: tables.workflows, eventId: tables.workflows.lifecycleEventId },
    tddTasks: { table: tables.tddTasks, eventId: tables.tddTasks.phaseEventId },
  } as const;
}

/** A snapshot from its rows read in id order and the head read with them (in one consistent read). */
export function snapshotOf(rows: readonly EnvelopeRow[], filter: EventFilter, headId: number): Snapshot {
  const matches = compileFilter(filter);
  return { items: rows.map(envelopeOfRow).filter(matches), headId };
}

/** The filter of the `tddTasks` query: one agent's tasks, one task, or all. */
export function tddTasksFilter({ agentId, taskId }: { agentId?: string | undefined; taskId?: string | undefined }) {
  return {
    agentIds: agentId === undefined ? undefined : [agentId],
    topics: taskId === undefined ? undefined : [entityTopic('tdd', taskId)],
  } satisfies EventFilter;
}

/**
 * An `EventFilter` as a WHERE condition on the events table. `matchPattern` is the dialect's: the condition that
 * `topic` matches a pattern of our grammar (`*` its only wildcard, everything else literal).
 */
export function whereOfFilter(
  events: Record<'type' | 'topic' | 'agentId' | 'stepId', Column>,
  matchPattern: (pattern: string) => SQL,
): (filter: EventFilter) => SQL | undefined {
  const anyTopic = (patterns: readonly string[]) =>
    or(...patterns.map((p) => (p.includes('*') ? matchPattern(p) : eq(events.topic, p))));
  return (filter) =>
    and(
      filter.types && inArray(events.type, [...filter.types]),
      filter.topics && anyTopic(filter.topics),
      filter.scope && anyTopic(filter.scope),
      filter.agentIds && inArray(events.agentId, [...filter.agentIds]),
      filter.stepIds && inArray(events.stepId, [...filter.stepIds]),
    );
}

/**
 * A range read's WHERE and ORDER BY on the events table's `id`, with `where` (the filter's condition). Without
 * `before` there is no upper bound at all rather than a huge one: PostgreSQL, not yet knowing a fresh table's
 * size, answered `id < 2^53` by scanning the whole range and sorting it, where `id > after` alone walks the key
 * index.
 */
export function rangeClauses(id: Column, { after, before, order }: EventRange, where: SQL | undefined) {
  return {
    where: and(gt(id, after), before === undefined ? undefined : lt(id, before), where),
    orderBy: order === 'asc' ? asc(id) : desc(id),
  };
}

/** A `workflows` row as either schema reads it: the state, with the last event's id still a number. */
type WorkflowRead = Omit<WorkflowState, 'lastEventId'> & { lastEventId: number };

export function toWorkflowState(row: WorkflowRead): WorkflowState {
  return {
    workflowId: row.workflowId,
    workflowType: row.workflowType,
    status: row.status,
    currentStepId: row.currentStepId,
    agentId: row.agentId,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    updatedAt: row.updatedAt,
    lastEventId: String(row.lastEventId),
  };
}

// ── Retention ──

/** A dialect's placeholder for the n-th parameter (from 1). */
type Placeholder = (n: number) => string;

/** The retention statements in a dialect's placeholders; the watermark is a row of `store_meta`. */
export function retentionStatements(p: Placeholder) {
  return {
    readWatermark: "SELECT value FROM store_meta WHERE key = 'retention_watermark'",
    writeWatermark: `INSERT INTO store_meta (key, value) VALUES ('retention_watermark', ${p(1)})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    /**
     * What the rule needs to know, parameters from `retentionFactsParams`: the first event received at or after a
     * time (the one after the newest old enough to go by age) and the newest beyond the row limit (the
     * (maxRows+1)-th newest).
     */
    facts: `SELECT (SELECT id FROM events WHERE received_at >= ${p(1)} ORDER BY id LIMIT 1) AS "firstYoungId",
      (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ${p(2)}) AS "beyondRowsId"`,
    /**
     * One chunk of the oldest events above the watermark and up to the cutoff (parameters: watermark, cutoff,
     * chunk size). Events that hold an entity's current state are kept, so snapshots stay complete.
     */
    deleteOld: `DELETE FROM events WHERE id IN (
        SELECT id FROM events
        WHERE id > ${p(1)} AND id <= ${p(2)}
          AND id NOT IN (SELECT status_event_id FROM agents)
          AND id NOT IN (SELECT lifecycle_event_id FROM workflows WHERE lifecycle_event_id IS NOT NULL)
          AND id NOT IN (SELECT phase_event_id FROM tdd_tasks WHERE phase_event_id IS NOT NULL)
        ORDER BY id LIMIT ${p(3)})
      RETURNING id`,
  };
}

/**
 * The parameters of the `facts` statement. A limit that is off asks what costs nothing (the first event of all;
 * the newest, at offset 0), and the rule ignores the answer.
 */
export function retentionFactsParams(policy: RetentionPolicy): [since: number, offset: number] {
  return [policy.maxAgeMs > 0 ? policy.now - policy.maxAgeMs : 0, policy.maxRows];
}

/**
 * The retention rule: a pass may delete up to the newest event old enough to go by age (every event up to the
 * head, when none is young enough to stay) or the newest beyond the row limit, whichever reaches further.
 */
export function retentionCutoff(
  policy: RetentionPolicy,
  facts: { firstYoungId: number | null; beyondRowsId: number | null; head: number },
): number {
  let cutoff = 0;
  if (policy.maxAgeMs > 0) cutoff = facts.firstYoungId === null ? facts.head : facts.firstYoungId - 1;
  if (policy.maxRows > 0) cutoff = Math.max(cutoff, facts.beyondRowsId ?? 0);
  return cutoff;
}

/**
 * The outcome of one chunk deleted up to `cutoff`. A full chunk may have stopped short of the cutoff: the
 * watermark moves only as far as was really swept, and another pass follows.
 */
export function sweptTo(
  deletedIds: readonly number[],
  cutoff: number,
  limit: number,
): { deleted: number; watermark: number; more: boolean } {
  const more = deletedIds.length === limit;
  return { deleted: deletedIds.length, watermark: more ? Math.max(...deletedIds) : cutoff, more };
}

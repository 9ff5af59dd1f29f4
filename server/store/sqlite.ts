/**
 * The embedded store: SQLite through Drizzle. better-sqlite3 is synchronous, so an append and the reads that
 * follow it never interleave inside this process; the promises only honour the `EventStore` interface.
 */
import { and, asc, desc, eq, gt, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import { agents, events, tddTasks, workflows } from '../../drizzle/schema.js';
import {
  builtinCatalogue,
  type Catalogue,
  type EnvelopeOf,
  type EventEnvelope,
  type ValidEvent,
} from '@switchboard/shared';
import type { Db } from './sqlite-db.js';
import { compileFilter, refsOf, type EventFilter } from '../core/filter.js';
import type {
  AppendResult,
  EventStore,
  GroupOutcome,
  RetentionPolicy,
  Snapshot,
  SnapshotKind,
  WorkflowState,
} from './types.js';

/** The columns an envelope is made of (the *_id copies and received_at stay in the database). */
const envelopeColumns = {
  id: events.id,
  type: events.type,
  topic: events.topic,
  timestamp: events.timestamp,
  key: events.key,
  source: events.source,
  correlationId: events.correlationId,
  data: events.data,
};
type EventRow = Pick<
  typeof events.$inferSelect,
  'id' | 'type' | 'topic' | 'timestamp' | 'key' | 'source' | 'correlationId' | 'data'
>;
type EventInsert = Omit<typeof events.$inferInsert, 'id' | 'timestamp' | 'receivedAt'> & {
  timestamp: number;
  receivedAt: number;
};
/** The latest `agent.*` event per agent within one commit: applied once per agent, not once per event. */
type Touches = Map<string, { id: number; at: number }>;

/**
 * Rows were validated against the contract when they were written, so reading them back as envelopes is the
 * one place a cast is honest.
 */
function toEnvelope(row: EventRow): EventEnvelope {
  const envelope: Record<string, unknown> = {
    id: String(row.id),
    type: row.type,
    topic: row.topic,
    timestamp: row.timestamp,
    data: JSON.parse(row.data) as unknown,
  };
  if (row.key !== null) envelope.key = row.key;
  if (row.source !== null) envelope.source = row.source;
  if (row.correlationId !== null) envelope.correlationId = row.correlationId;
  return envelope as unknown as EventEnvelope;
}

/** `*` is the only wildcard of our grammar; GLOB's own `?` and `[` must match themselves. */
function toGlob(pattern: string): string {
  return pattern.replace(/[?[]/g, (c) => `[${c}]`);
}

function whereOf(filter: EventFilter): SQL | undefined {
  const topicConditions = filter.topics?.map((p) =>
    p.includes('*') ? sql`${events.topic} GLOB ${toGlob(p)}` : eq(events.topic, p),
  );
  return and(
    filter.types && inArray(events.type, [...filter.types]),
    topicConditions && or(...topicConditions),
    filter.agentIds && inArray(events.agentId, [...filter.agentIds]),
    filter.stepIds && inArray(events.stepId, [...filter.stepIds]),
  );
}

/** Which state table holds the snapshot of each kind, and the column pointing at its latest event. */
const snapshotSources = {
  agents: { table: agents, eventId: agents.statusEventId },
  workflows: { table: workflows, eventId: workflows.lifecycleEventId },
  tddTasks: { table: tddTasks, eventId: tddTasks.phaseEventId },
} as const;

/** Runs a synchronous read or write now, as a promise: a throw becomes a rejection, as callers of a store expect. */
function now<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(fn());
  });
}

/** `catalogue` derives each event's topic; events of custom families are stored like the built-in ones. */
export function createSqliteStore(db: Db, catalogue: Pick<Catalogue, 'topicOf'> = builtinCatalogue): EventStore {
  const { topicOf } = catalogue;
  const sqlite = db.$client;
  const p = (name: string) => sql.placeholder(name);

  // A plain prepared statement, run for every stored event: Drizzle's mapping around it, and `RETURNING id`
  // (which nearly doubled the insert's cost), are left out; the new id is the statement's lastInsertRowid.
  // `timestamp` is epoch ms, as the schema's timestamp_ms mode stores it.
  const insertEvent = sqlite.prepare<EventInsert>(`
    INSERT INTO events (type, topic, timestamp, key, source, correlation_id, agent_id, workflow_id, step_id, task_id,
                        data, received_at)
    VALUES (:type, :topic, :timestamp, :key, :source, :correlationId, :agentId, :workflowId, :stepId, :taskId,
            :data, :receivedAt)`);
  const selectByKey = db
    .select()
    .from(events)
    .where(eq(events.key, p('key')))
    .prepare();
  const storedTypesStatement = sqlite.prepare<[], { type: string }>('SELECT DISTINCT type FROM events');
  const headStatement = sqlite.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events'");

  const upsertAgentStatus = db
    .insert(agents)
    .values({
      agentId: p('agentId'),
      agentType: p('agentType'),
      status: p('status'),
      statusEventId: p('id'),
      lastEventId: p('id'),
      updatedAt: p('at'),
    })
    .onConflictDoUpdate({
      target: agents.agentId,
      set: {
        agentType: sql`excluded.agent_type`,
        status: sql`excluded.status`,
        statusEventId: sql`excluded.status_event_id`,
        lastEventId: sql`excluded.last_event_id`,
        updatedAt: sql`excluded.updated_at`,
      },
    })
    .prepare();
  const touchAgent = sqlite.prepare<{ agentId: string; id: number; at: number }>(
    // Applied at the end of a commit, possibly after a newer agent.status of the same commit: never move back.
    'UPDATE agents SET last_event_id = :id, updated_at = :at WHERE agent_id = :agentId AND last_event_id < :id',
  );

  /** A workflow row appears with its first event of any type; lifecycle events then move its state. */
  const upsertWorkflow = sqlite.prepare<{
    workflowId: string;
    workflowType: string | null;
    status: string | null;
    stepId: string | null;
    setStep: number;
    started: number;
    finished: number;
    lifecycle: number;
    id: number;
    at: number;
  }>(`
    INSERT INTO workflows (workflow_id, workflow_type, status, current_step_id, started_at, finished_at,
                           lifecycle_event_id, last_event_id, updated_at)
    VALUES (:workflowId, :workflowType, coalesce(:status, 'running'), CASE WHEN :setStep THEN :stepId END,
            CASE WHEN :started THEN :at END, CASE WHEN :finished THEN :at END,
            CASE WHEN :lifecycle THEN :id END, :id, :at)
    ON CONFLICT (workflow_id) DO UPDATE SET
      workflow_type = coalesce(excluded.workflow_type, workflow_type),
      status = coalesce(:status, status),
      current_step_id = CASE WHEN :setStep THEN excluded.current_step_id ELSE current_step_id END,
      started_at = coalesce(excluded.started_at, started_at),
      finished_at = CASE WHEN :started THEN NULL ELSE coalesce(excluded.finished_at, finished_at) END,
      lifecycle_event_id = coalesce(excluded.lifecycle_event_id, lifecycle_event_id),
      last_event_id = excluded.last_event_id,
      updated_at = excluded.updated_at`);

  const upsertTddTask = sqlite.prepare<{
    taskId: string;
    agentId: string;
    phase: string | null;
    id: number;
    at: number;
  }>(`
    INSERT INTO tdd_tasks (task_id, agent_id, phase, phase_event_id, last_event_id, updated_at)
    VALUES (:taskId, :agentId, :phase, CASE WHEN :phase IS NOT NULL THEN :id END, :id, :at)
    ON CONFLICT (task_id) DO UPDATE SET
      agent_id = excluded.agent_id,
      phase = coalesce(excluded.phase, phase),
      phase_event_id = coalesce(excluded.phase_event_id, phase_event_id),
      last_event_id = excluded.last_event_id,
      updated_at = excluded.updated_at`);

  // Drizzle statements take the Date (the column maps it); the hand-written ones take epoch milliseconds.
  function updateState(event: ValidEvent, id: number, timestamp: Date, touches: Touches): void {
    const at = timestamp.getTime();
    switch (event.type) {
      case 'agent.status':
        upsertAgentStatus.run({ ...event.data, id, at: timestamp });
        return;
      case 'agent.task_update':
      case 'agent.log':
      case 'agent.metric':
      case 'agent.error':
        touches.set(event.data.agentId, { id, at });
        return;
      case 'workflow.started':
      case 'workflow.step_started':
      case 'workflow.step_completed':
      case 'workflow.completed':
      case 'workflow.failed':
      case 'workflow.block': {
        const row = {
          workflowId: event.data.workflowId,
          workflowType: null as string | null,
          status: null as string | null,
          stepId: null as string | null,
          setStep: 0,
          started: 0,
          finished: 0,
          lifecycle: 1,
          id,
          at,
        };
        if (event.type === 'workflow.started') {
          Object.assign(row, { workflowType: event.data.workflowType, status: 'running', setStep: 1, started: 1 });
        } else if (event.type === 'workflow.step_started') {
          Object.assign(row, { status: 'running', stepId: event.data.stepId, setStep: 1 });
        } else if (event.type === 'workflow.step_completed') {
          Object.assign(row, { stepId: event.data.nextStep ?? null, setStep: 1 });
        } else if (event.type === 'workflow.completed') {
          Object.assign(row, { status: 'completed', setStep: 1, finished: 1 });
        } else if (event.type === 'workflow.failed') {
          Object.assign(row, { status: 'failed', finished: 1 });
        } else {
          row.lifecycle = 0;
        }
        upsertWorkflow.run(row);
        return;
      }
      case 'tdd.phase_changed':
        upsertTddTask.run({
          taskId: event.data.taskId,
          agentId: event.data.agentId,
          phase: event.data.currentPhase,
          id,
          at,
        });
        return;
      case 'tdd.test_result':
      case 'tdd.coverage_update':
        upsertTddTask.run({ taskId: event.data.taskId, agentId: event.data.agentId, phase: null, id, at });
        return;
      case 'system.notification':
      case 'system.alert':
        return;
    }
  }

  function appendOne(event: ValidEvent, now: Date, touches: Touches): { envelope: EventEnvelope; stored: boolean } {
    if (event.key !== undefined) {
      const [existing] = selectByKey.all({ key: event.key });
      if (existing) return { envelope: toEnvelope(existing), stored: false };
    }
    const timestamp = event.timestamp ?? now;
    const topic = topicOf(event);
    const { lastInsertRowid } = insertEvent.run({
      type: event.type,
      topic,
      timestamp: timestamp.getTime(),
      key: event.key ?? null,
      source: event.source ?? null,
      correlationId: event.correlationId ?? null,
      data: JSON.stringify(event.data),
      receivedAt: now.getTime(),
      ...refsOf(event),
    });
    const id = Number(lastInsertRowid);
    updateState(event, id, timestamp, touches);
    const envelope: Record<string, unknown> = {
      id: String(id),
      type: event.type,
      topic,
      timestamp,
      data: event.data,
    };
    if (event.key !== undefined) envelope.key = event.key;
    if (event.source !== undefined) envelope.source = event.source;
    if (event.correlationId !== undefined) envelope.correlationId = event.correlationId;
    return { envelope: envelope as unknown as EventEnvelope, stored: true };
  }

  function appendBatch(input: readonly ValidEvent[], touches: Touches): AppendResult {
    const now = new Date();
    const result: AppendResult = { envelopes: [], stored: [] };
    for (const event of input) {
      const { envelope, stored } = appendOne(event, now, touches);
      result.envelopes.push(envelope);
      if (stored) result.stored.push(envelope);
    }
    return result;
  }

  function applyTouches(touches: Touches): void {
    for (const [agentId, { id, at }] of touches) touchAgent.run({ agentId, id, at });
  }

  // better-sqlite3 rolls the whole transaction back if the function throws: a failed batch stores nothing.
  const appendAll = sqlite.transaction((input: readonly ValidEvent[]): AppendResult => {
    const touches: Touches = new Map();
    const result = appendBatch(input, touches);
    applyTouches(touches);
    return result;
  });

  // Inside a group, each batch is a nested transaction, which better-sqlite3 makes a savepoint: a batch that
  // throws is rolled back to it (its touches with it), and the rest still commit.
  const appendSavepoint = sqlite.transaction(appendBatch);

  // One commit (one fsync under `full`) for many batches, each in its own savepoint.
  const appendGroupIsolated = sqlite.transaction((batches: readonly (readonly ValidEvent[])[]): GroupOutcome[] => {
    const touches: Touches = new Map();
    const outcomes = batches.map((batch): GroupOutcome => {
      const batchTouches: Touches = new Map();
      try {
        const result = appendSavepoint(batch, batchTouches);
        for (const [agentId, touch] of batchTouches) touches.set(agentId, touch);
        return { ok: true, result };
      } catch (error) {
        return { ok: false, error };
      }
    });
    applyTouches(touches);
    return outcomes;
  });

  // The same group without a savepoint per batch (they cost a fifth of a small group's time). Batches arrive
  // validated, so one failing is rare (an I/O fault, a constraint); then nothing of this attempt is kept (the
  // transaction rolls back, ids included) and the group is done again with savepoints, refusing that batch alone.
  const appendGroupTogether = sqlite.transaction((batches: readonly (readonly ValidEvent[])[]): GroupOutcome[] => {
    const touches: Touches = new Map();
    const outcomes = batches.map((batch): GroupOutcome => ({ ok: true, result: appendBatch(batch, touches) }));
    applyTouches(touches);
    return outcomes;
  });

  function appendGroup(batches: readonly (readonly ValidEvent[])[]): GroupOutcome[] {
    try {
      return appendGroupTogether(batches);
    } catch {
      return appendGroupIsolated(batches);
    }
  }

  const headId = () => headStatement.get()?.seq ?? 0;

  // ── Retention ──
  const watermarkKey = 'retention_watermark';
  const readWatermark = sqlite.prepare<[], { value: number }>(
    `SELECT value FROM store_meta WHERE key = '${watermarkKey}'`,
  );
  const writeWatermark = sqlite.prepare<[number]>(
    `INSERT INTO store_meta (key, value) VALUES ('${watermarkKey}', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  );
  const watermark = () => readWatermark.get()?.value ?? 0;
  /** The newest id old enough to go by age: the one before the first event received after the cutoff. */
  const firstYoungId = sqlite.prepare<[number], { id: number }>(
    'SELECT id FROM events WHERE received_at >= ? ORDER BY id LIMIT 1',
  );
  /** The newest id beyond the row limit: the (maxRows+1)-th newest. */
  const beyondRowsId = sqlite.prepare<[number], { id: number }>(
    'SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?',
  );
  // Events that hold an entity's current state are kept, so snapshots stay complete after retention.
  const deleteOld = sqlite.prepare<[number, number, number], { id: number }>(`
    DELETE FROM events WHERE id IN (
      SELECT id FROM events
      WHERE id > ? AND id <= ?
        AND id NOT IN (SELECT status_event_id FROM agents)
        AND id NOT IN (SELECT lifecycle_event_id FROM workflows WHERE lifecycle_event_id IS NOT NULL)
        AND id NOT IN (SELECT phase_event_id FROM tdd_tasks WHERE phase_event_id IS NOT NULL)
      ORDER BY id LIMIT ?)
    RETURNING id`);
  const prune = sqlite.transaction((policy: RetentionPolicy) => {
    const from = watermark();
    let cutoff = 0;
    if (policy.maxAgeMs > 0) {
      const young = firstYoungId.get(policy.now - policy.maxAgeMs);
      cutoff = young ? young.id - 1 : headId();
    }
    if (policy.maxRows > 0) cutoff = Math.max(cutoff, beyondRowsId.get(policy.maxRows)?.id ?? 0);
    if (cutoff <= from) return { deleted: 0, watermark: from, more: false };
    const deleted = deleteOld.all(from, cutoff, policy.limit);
    // A full chunk may have stopped short of the cutoff: the watermark moves only as far as was really swept.
    const more = deleted.length === policy.limit;
    const reached = more ? Math.max(...deleted.map((d) => d.id)) : cutoff;
    writeWatermark.run(reached);
    return { deleted: deleted.length, watermark: reached, more };
  });
  const pageCount = sqlite.prepare<[], { n: number }>(
    'SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()',
  );

  function readRange(
    { after, before, order }: { after: number; before: number; order: 'asc' | 'desc' },
    filter: EventFilter,
    limit: number,
  ): EventEnvelope[] {
    return db
      .select(envelopeColumns)
      .from(events)
      .where(and(gt(events.id, after), lt(events.id, before), whereOf(filter)))
      .orderBy(order === 'asc' ? asc(events.id) : desc(events.id))
      .limit(limit)
      .all()
      .map(toEnvelope);
  }

  // Reading the state rows and the head in one synchronous call makes the pair consistent.
  const snapshot = sqlite.transaction((kind: SnapshotKind, filter: EventFilter): Snapshot => {
    const source = snapshotSources[kind];
    const rows = db
      .select({ event: events })
      .from(source.table)
      .innerJoin(events, eq(events.id, source.eventId))
      .where(whereOf(filter))
      .orderBy(asc(events.id))
      .all();
    const matches = compileFilter(filter);
    return { items: rows.map((r) => toEnvelope(r.event)).filter(matches), headId: headId() };
  });

  function toWorkflowState(row: typeof workflows.$inferSelect): WorkflowState {
    return {
      workflowId: row.workflowId,
      workflowType: row.workflowType,
      status: row.status,
      currentStepId: row.currentStepId,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      updatedAt: row.updatedAt,
      lastEventId: String(row.lastEventId),
    };
  }

  return {
    append: (input) => now(() => appendAll(input)),
    appendGroup: (batches) => now(() => appendGroup(batches)),
    readAfter: (after, filter, limit) =>
      now(() => readRange({ after, before: Number.MAX_SAFE_INTEGER, order: 'asc' }, filter, limit)),
    readRange: (range, filter, limit) => now(() => readRange(range, filter, limit)),
    headId: () => now(headId),
    storedTypes: () => now(() => storedTypesStatement.all().map((r) => r.type)),
    snapshot: (kind, filter) => now(() => snapshot(kind, filter)),
    agents: (agentIds) => now(() => snapshot('agents', { agentIds }).items as EnvelopeOf<'agent.status'>[]),
    tddTasks: ({ agentId, taskId }) =>
      now(
        () =>
          snapshot('tddTasks', {
            agentIds: agentId === undefined ? undefined : [agentId],
            topics: taskId === undefined ? undefined : [`tdd:${taskId}`],
          }).items as EnvelopeOf<'tdd.phase_changed'>[],
      ),
    workflow: (workflowId) =>
      now(() => {
        const row = db.select().from(workflows).where(eq(workflows.workflowId, workflowId)).get();
        return row && toWorkflowState(row);
      }),
    workflows: ({ status, limit }) =>
      now(() =>
        db
          .select()
          .from(workflows)
          .where(status && eq(workflows.status, status))
          .orderBy(desc(workflows.lastEventId))
          .limit(limit)
          .all()
          .map(toWorkflowState),
      ),
    sizeBytes: () => now(() => pageCount.get()?.n ?? 0),
    retentionWatermark: () => now(watermark),
    prune: (policy) => now(() => prune(policy)),
    close: () =>
      now(() => {
        sqlite.close();
      }),
  };
}

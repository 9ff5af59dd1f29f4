/**
 * The embedded store: SQLite through Drizzle and better-sqlite3. better-sqlite3 is synchronous, so an append and
 * the reads that follow it never interleave inside this process; the promises only honour `EventStore`.
 *
 * Read top to bottom: the statements (prepared once), the append path (group commit, with a savepoint per batch
 * only when a group fails), the reads, retention. What an event does to current state is decided in
 * `server/core/state.ts`; this file only writes the rows it computes.
 */
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { and, asc, desc, eq, inArray, lte, ne, sql } from 'drizzle-orm';
import { agents, events, tddTasks, workflows } from '../../drizzle/schema.js';
import {
  builtinCatalogue,
  type Catalogue,
  type EnvelopeOf,
  type EventEnvelope,
  type UsageReport,
  type ValidEvent,
} from '@switchboard/shared';
import { envelopeOfEvent, envelopeOfRow, type EnvelopeRow } from '../core/envelope.js';
import {
  envelopeColumnsOf,
  eventInsert,
  type EventInsert,
  envelopeOfStoredRow,
  envelopeSelectList,
  type StoredRow,
  retentionCutoff,
  retentionFactsParams,
  retentionStatements,
  snapshotOf,
  snapshotSourcesOf,
  sweptTo,
  tddTasksFilter,
  toWorkflowState,
  rangeClauses,
  whereOfFilter,
} from './common.js';
import { AgentTouches, stateChangeOf, type AgentRow, type StateChange } from '../core/state.js';
import { isStillSilent } from '../core/presence.js';
import { walToSync, type Db } from './sqlite-db.js';
import { WalSync, WalSyncError, type Fsync } from './sqlite-wal-sync.js';
import { Checkpointer } from './sqlite-checkpointer.js';
import { SqliteUsage } from './sqlite-usage.js';
import { StoreUnavailableError } from '../core/unavailable.js';
import { OutOfOrderError } from '../core/order.js';
import { isConnectionError } from './connection-errors.js';
import type { EventFilter } from '../core/filter.js';
import type {
  EventRange,
  AgentPresenceRow,
  AppendBatch,
  AppendResult,
  EventStore,
  GroupOutcome,
  OnGroupRetry,
  RetentionPolicy,
  Snapshot,
  SnapshotKind,
  WorkflowState,
  WorkflowsFilter,
} from '../core/store.js';
import type { UsageQuery } from '../core/usage.js';

type Batches = readonly AppendBatch[];

const envelopeColumns = envelopeColumnsOf(events);
const snapshotSources = snapshotSourcesOf({ agents, workflows, tddTasks });

/** `*` is the only wildcard of our grammar; GLOB's own `?` and `[` must match themselves. */
function toGlob(pattern: string): string {
  return pattern.replace(/[?[]/g, (c) => `[${c}]`);
}

const whereOf = whereOfFilter(events, (pattern) => sql`${events.topic} GLOB ${toGlob(pattern)}`);

type Flags<T> = { [K in keyof T]: number };

/**
 * Every statement the store runs more than once, prepared once. Hot ones are plain better-sqlite3 statements:
 * Drizzle's mapping around them, and `RETURNING id` (which nearly doubled the insert's cost), are left out; the
 * new id is the insert's lastInsertRowid. Times are epoch ms, as the schema's timestamp_ms mode stores them.
 */
function prepareStatements(sqlite: Database.Database) {
  const retention = retentionStatements(() => '?');
  return {
    insertEvent: sqlite.prepare<EventInsert>(`
      INSERT INTO events (type, topic, timestamp, key, key_owner, source, correlation_id, agent_id, step_id, data,
                          received_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    selectByKey: sqlite.prepare<[string, string], EnvelopeRow & { timestamp: number }>(
      `SELECT ${envelopeSelectList(envelopeColumns)} FROM events WHERE key_owner = ? AND key = ?`,
    ),
    head: sqlite.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events'"),
    storedTypes: sqlite.prepare<[], { type: string }>('SELECT DISTINCT type FROM events'),
    upsertAgent: sqlite.prepare<AgentRow>(`
      INSERT INTO agents (agent_id, agent_type, status, status_event_id, last_event_id, updated_at)
      VALUES (:agentId, :agentType, :status, :statusEventId, :lastEventId, :updatedAt)
      ON CONFLICT (agent_id) DO UPDATE SET agent_type = excluded.agent_type, status = excluded.status,
        status_event_id = excluded.status_event_id, last_event_id = excluded.last_event_id,
        updated_at = excluded.updated_at`),
    // Applied at the end of a commit, possibly after a newer agent.status of the same commit: never move back.
    touchAgent: sqlite.prepare<{ agentId: string; id: number; at: number; seenAt: number }>(`
      UPDATE agents SET last_event_id = MAX(last_event_id, :id),
        updated_at = CASE WHEN :id > last_event_id THEN :at ELSE updated_at END, seen_at = MAX(seen_at, :seenAt)
      WHERE agent_id = :agentId`),
    agentSeen: sqlite.prepare<[string], { status: string; seenAt: number }>(
      'SELECT status, seen_at AS seenAt FROM agents WHERE agent_id = ?',
    ),
    heartbeat: sqlite.prepare<[number, string], { agentId: string; status: string }>(
      'UPDATE agents SET seen_at = MAX(seen_at, ?) WHERE agent_id = ? RETURNING agent_id AS agentId, status',
    ),
    upsertWorkflow: sqlite.prepare<
      Extract<StateChange, { kind: 'workflow' }>['row'] &
        Flags<{ [K in keyof Extract<StateChange, { kind: 'workflow' }>['set'] as `set_${K}`]: boolean }>
    >(`
      INSERT INTO workflows (workflow_id, workflow_type, status, current_step_id, agent_id, started_at, finished_at,
                             lifecycle_event_id, last_event_id, updated_at)
      VALUES (:workflowId, :workflowType, :status, :currentStepId, :agentId, :startedAt, :finishedAt,
              :lifecycleEventId, :lastEventId, :updatedAt)
      ON CONFLICT (workflow_id) DO UPDATE SET
        workflow_type = CASE WHEN :set_workflowType THEN excluded.workflow_type ELSE workflow_type END,
        status = CASE WHEN :set_status THEN excluded.status ELSE status END,
        current_step_id = CASE WHEN :set_currentStepId THEN excluded.current_step_id ELSE current_step_id END,
        agent_id = CASE WHEN :set_agentId THEN excluded.agent_id ELSE agent_id END,
        started_at = CASE WHEN :set_startedAt THEN excluded.started_at ELSE started_at END,
        finished_at = CASE WHEN :set_finishedAt THEN excluded.finished_at ELSE finished_at END,
        lifecycle_event_id = CASE WHEN :set_lifecycleEventId THEN excluded.lifecycle_event_id
                                  ELSE lifecycle_event_id END,
        last_event_id = excluded.last_event_id,
        updated_at = excluded.updated_at`),
    upsertTddTask: sqlite.prepare<
      Extract<StateChange, { kind: 'tddTask' }>['row'] & { set_phase: number; set_phaseEventId: number }
    >(`
      INSERT INTO tdd_tasks (task_id, agent_id, phase, phase_event_id, last_event_id, updated_at)
      VALUES (:taskId, :agentId, :phase, :phaseEventId, :lastEventId, :updatedAt)
      ON CONFLICT (task_id) DO UPDATE SET
        agent_id = excluded.agent_id,
        phase = CASE WHEN :set_phase THEN excluded.phase ELSE phase END,
        phase_event_id = CASE WHEN :set_phaseEventId THEN excluded.phase_event_id ELSE phase_event_id END,
        last_event_id = excluded.last_event_id,
        updated_at = excluded.updated_at`),
    readWatermark: sqlite.prepare<[], { value: number }>(retention.readWatermark),
    writeWatermark: sqlite.prepare<[number]>(retention.writeWatermark),
    retentionFacts: sqlite.prepare<[number, number], { firstYoungId: number | null; beyondRowsId: number | null }>(
      retention.facts,
    ),
    deleteOld: sqlite.prepare<[number, number, number], { id: number }>(retention.deleteOld),
    sizeBytes: sqlite.prepare<[], { n: number }>(
      'SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()',
    ),
  };
}

/** Range reads prepared once per statement text (a filter's shape); at most `max`, then they start over. */
class ReadStatements {
  private readonly statements = new Map<string, Database.Statement<unknown[], StoredRow>>();

  constructor(
    private readonly sqlite: Database.Database,
    private readonly max = 64,
  ) {}

  prepared(text: string): Database.Statement<unknown[], StoredRow> {
    let statement = this.statements.get(text);
    if (!statement) {
      if (this.statements.size >= this.max) this.statements.clear();
      // Rows as arrays, in the order of `envelopeColumns` (Drizzle selects them so, under their column names).
      statement = this.sqlite.prepare<unknown[], StoredRow>(text).raw(true);
      this.statements.set(text, statement);
    }
    return statement;
  }
}

class SqliteStore implements EventStore {
  private readonly sqlite: Database.Database;
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly usageTotals: SqliteUsage;
  private readonly logEpoch: string;
  private readonly reads: ReadStatements;
  /** WAL checkpoints in a worker thread; none for an in-memory database. */
  private readonly checkpoints: Checkpointer | undefined;
  /** Every statement runs through it: writes are answered once on disk, reads see only what is (durability full). */
  private readonly wal: WalSync;

  constructor(
    private readonly db: Db,
    /** Derives each event's topic; events of custom families are stored like the built-in ones. */
    private readonly catalogue: Pick<Catalogue, 'topicOf'>,
    fsync?: Fsync,
    private readonly onRetry?: OnGroupRetry,
  ) {
    this.sqlite = db.$client;
    this.wal = new WalSync(walToSync(this.sqlite), fsync);
    this.reads = new ReadStatements(this.sqlite);
    this.checkpoints = this.sqlite.memory
      ? undefined
      : new Checkpointer(this.sqlite, resolve(this.sqlite.name), undefined, (message) => {
          process.emitWarning(message, 'CheckpointWarning');
        });
    this.statements = prepareStatements(this.sqlite);
    this.usageTotals = new SqliteUsage(this.sqlite);
    // Written by openDatabase when the file was first opened; it never changes.
    const row = this.sqlite.prepare<[], { epoch: string }>('SELECT epoch FROM log_epoch WHERE id = 1').get();
    if (!row) throw new Error('the log_epoch row is missing: open the database with openDatabase');
    this.logEpoch = row.epoch;
  }

  epoch(): string {
    return this.logEpoch;
  }

  // ── Append ──

  append(input: readonly ValidEvent[], keyOwner = ''): Promise<AppendResult> {
    return this.write(() => this.appendAlone({ events: input, keyOwner }));
  }

  appendGroup(batches: Batches, receivedAt = new Date()): Promise<GroupOutcome[]> {
    return this.write(() => {
      // Batches arrive validated, so one failing is rare (an I/O fault, a constraint). The group first goes
      // without a savepoint per batch (they cost a fifth of a small group's time); if any batch throws, nothing
      // of that attempt is kept (the transaction rolls back, ids included) and the group is done again with
      // savepoints, refusing that batch alone.
      try {
        return this.appendGroupTogether(batches, receivedAt);
      } catch (error) {
        // The file locked by another process past the busy timeout, or unwritable: no batch is at fault, and
        // redoing the group cannot help now; a publisher retrying later (same keys) can.
        if (isConnectionError(error)) throw new StoreUnavailableError('append', error);
        this.onRetry?.(error);
        return this.appendGroupIsolated(batches, receivedAt);
      }
    });
  }

  // better-sqlite3 rolls the whole transaction back if the function throws: a failed batch stores nothing.
  private appendAlone(input: AppendBatch): AppendResult {
    return this.inTransaction(() => {
      const touches = new AgentTouches();
      const result = this.appendBatch(input, touches, new Date());
      this.applyTouches(touches);
      return result;
    });
  }

  private appendGroupTogether(batches: Batches, receivedAt: Date): GroupOutcome[] {
    return this.inTransaction(() => {
      const touches = new AgentTouches();
      const outcomes = batches.map((batch): GroupOutcome => ({
        ok: true,
        result: this.appendBatch(batch, touches, receivedAt),
      }));
      this.applyTouches(touches);
      return outcomes;
    });
  }

  // Inside a transaction, a nested one is a savepoint: a batch that throws is rolled back to it (its touches
  // with it), and the rest still commit.
  private appendSavepoint(
    batch: AppendBatch,
    touches: AgentTouches,
    receivedAt: Date,
    committed: AgentTouches,
  ): AppendResult {
    return this.inTransaction(() => this.appendBatch(batch, touches, receivedAt, committed));
  }

  private appendGroupIsolated(batches: Batches, receivedAt: Date): GroupOutcome[] {
    return this.inTransaction(() => {
      const touches = new AgentTouches();
      const outcomes = batches.map((batch): GroupOutcome => {
        const batchTouches = new AgentTouches();
        try {
          // Earlier batches' touches count for a condition: they are part of this commit.
          const result = this.appendSavepoint(batch, batchTouches, receivedAt, touches);
          touches.merge(batchTouches);
          return { ok: true, result };
        } catch (error) {
          return { ok: false, error };
        }
      });
      this.applyTouches(touches);
      return outcomes;
    });
  }

  /** `committed`: the touches of the commit so far, which a presence condition counts (`touches` by default). */
  private appendBatch(
    { events: input, keyOwner, ifSilent, after }: AppendBatch,
    touches: AgentTouches,
    receivedAt: Date,
    committed = touches,
  ): AppendResult {
    const result: AppendResult = { envelopes: [], stored: [] };
    // Thrown before anything is written: the group goes again with savepoints and refuses this batch alone.
    if (after !== undefined && !this.statements.selectByKey.get(keyOwner, after)) throw new OutOfOrderError(after);
    if (ifSilent && !isStillSilent(this.statements.agentSeen.get(ifSilent.agentId), ifSilent, committed)) return result;
    for (const event of input) {
      const envelope = this.insert(event, keyOwner, receivedAt, touches, ifSilent === undefined);
      if (envelope === undefined) {
        // The key was stored before (or earlier in this batch): the event stored under it answers.
        const existing = event.key === undefined ? undefined : this.statements.selectByKey.get(keyOwner, event.key);
        if (!existing) throw new Error(`key "${String(event.key)}" is taken but no event holds it`);
        result.envelopes.push(envelopeOfRow({ ...existing, timestamp: new Date(existing.timestamp) }));
        continue;
      }
      result.envelopes.push(envelope);
      result.stored.push(envelope);
    }
    return result;
  }

  /**
   * Stores one event and its state change; undefined, storing nothing, when its key is taken. The unique index on
   * the owner's keys is the check: a key looked up first would be looked up twice, since the insert checks it
   * anyway. A refused insert is rolled back alone and takes no id (ids stay contiguous).
   * `heard`: the event is a sign of life of the agent it names (all but the presence sweep's own).
   */
  private insert(
    event: ValidEvent,
    keyOwner: string,
    receivedAt: Date,
    touches: AgentTouches,
    heard: boolean,
  ): EventEnvelope | undefined {
    const timestamp = event.timestamp ?? receivedAt;
    const topic = this.catalogue.topicOf(event);
    const { columns, refs } = eventInsert(event, keyOwner, topic, timestamp, receivedAt.getTime());
    let lastInsertRowid: number | bigint;
    try {
      // Bound by position (binding by name cost a third of the statement's time).
      ({ lastInsertRowid } = this.statements.insertEvent.run(...columns));
    } catch (error) {
      // The one unique index of events that input can meet is (key_owner, key).
      if (event.key !== undefined && (error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        return undefined;
      throw error;
    }
    const id = Number(lastInsertRowid);
    const change = stateChangeOf(event, id, timestamp.getTime());
    if (change) this.applyChange(change, touches);
    if (refs.agentId !== null) touches.seen(refs.agentId, heard ? receivedAt.getTime() : 0);
    // With the text its data was written as: a write's answer splices it (server/transports/ws/protocol.ts).
    return envelopeOfEvent(event, id, topic, timestamp, columns[9]);
  }

  private applyChange(change: StateChange, touches: AgentTouches): void {
    const { statements } = this;
    switch (change.kind) {
      case 'agent':
        statements.upsertAgent.run(change.row);
        return;
      case 'agentTouch':
        touches.add(change.agentId, change.id, change.at);
        return;
      case 'usage':
        touches.addUsage(change);
        return;
      case 'workflow': {
        // A literal with every parameter (no spread): better-sqlite3 binds it a few times faster.
        const { row, set } = change;
        statements.upsertWorkflow.run({
          workflowId: row.workflowId,
          workflowType: row.workflowType,
          status: row.status,
          currentStepId: row.currentStepId,
          agentId: row.agentId,
          startedAt: row.startedAt,
          finishedAt: row.finishedAt,
          lifecycleEventId: row.lifecycleEventId,
          lastEventId: row.lastEventId,
          updatedAt: row.updatedAt,
          set_workflowType: +set.workflowType,
          set_status: +set.status,
          set_currentStepId: +set.currentStepId,
          set_agentId: +set.agentId,
          set_startedAt: +set.startedAt,
          set_finishedAt: +set.finishedAt,
          set_lifecycleEventId: +set.lifecycleEventId,
        });
        return;
      }
      case 'tddTask': {
        const { row, set } = change;
        statements.upsertTddTask.run({
          taskId: row.taskId,
          agentId: row.agentId,
          phase: row.phase,
          phaseEventId: row.phaseEventId,
          lastEventId: row.lastEventId,
          updatedAt: row.updatedAt,
          set_phase: +set.phase,
          set_phaseEventId: +set.phaseEventId,
        });
        return;
      }
    }
  }

  private applyTouches(touches: AgentTouches): void {
    for (const [agentId, { id, at, seenAt }] of touches.entries()) {
      this.statements.touchAgent.run({ agentId, id, at, seenAt });
    }
    this.usageTotals.add(touches.usageRows());
  }

  heartbeat(agentIds: readonly string[], at: number): Promise<{ agentId: string; status: string }[]> {
    return this.write(() =>
      this.inTransaction(() => agentIds.flatMap((agentId) => this.statements.heartbeat.all(at, agentId))),
    );
  }

  // ── Reads ──

  readAfter(after: number, filter: EventFilter, limit: number): Promise<EventEnvelope[]> {
    return this.wal.read(() => this.readRangeNow({ after, order: 'asc' }, filter, limit));
  }

  readRange(range: EventRange, filter: EventFilter, limit: number): Promise<EventEnvelope[]> {
    return this.wal.read(() => this.readRangeNow(range, filter, limit));
  }

  private readRangeNow(range: EventRange, filter: EventFilter, limit: number): EventEnvelope[] {
    // Drizzle writes the statement (filters vary); better-sqlite3 runs it, prepared once per distinct text, and
    // its rows become envelopes here: Drizzle's own mapping of each row cost as much as the read.
    const { where, orderBy } = rangeClauses(events.id, range, whereOf(filter));
    const query = this.db.select(envelopeColumns).from(events).where(where).orderBy(orderBy).limit(limit).toSQL();
    return this.reads
      .prepared(query.sql)
      .all(...query.params)
      .map(envelopeOfStoredRow);
  }

  headId(): Promise<number> {
    return this.wal.read(() => this.head());
  }

  storedTypes(): Promise<string[]> {
    return this.wal.read(() => this.statements.storedTypes.all().map((row) => row.type));
  }

  private head(): number {
    return this.statements.head.get()?.seq ?? 0;
  }

  snapshot(kind: SnapshotKind, filter: EventFilter): Promise<Snapshot> {
    return this.wal.read(() => this.snapshotNow(kind, filter));
  }

  // Reading the state rows and the head in one transaction makes the pair consistent.
  private snapshotNow(kind: SnapshotKind, filter: EventFilter): Snapshot {
    return this.inTransaction(() => {
      const source = snapshotSources[kind];
      const rows = this.db
        .select(envelopeColumns)
        .from(source.table)
        .innerJoin(events, eq(events.id, source.eventId))
        .where(whereOf(filter))
        .orderBy(asc(events.id))
        .all();
      return snapshotOf(rows, filter, this.head());
    });
  }

  agents(agentIds?: readonly string[]): Promise<EnvelopeOf<'agent.status'>[]> {
    return this.wal.read(() => this.snapshotNow('agents', { agentIds }).items as EnvelopeOf<'agent.status'>[]);
  }

  presence({ agentIds, seenBefore }: { agentIds?: readonly string[] | undefined; seenBefore?: number | undefined }) {
    return this.wal.read(() =>
      this.db
        .select({ ...envelopeColumns, seenAt: agents.seenAt })
        .from(agents)
        .innerJoin(events, eq(events.id, agents.statusEventId))
        .where(
          and(
            agentIds && inArray(agents.agentId, [...agentIds]),
            seenBefore === undefined ? undefined : and(ne(agents.status, 'offline'), lte(agents.seenAt, seenBefore)),
          ),
        )
        .orderBy(asc(agents.agentId))
        .all()
        .map(({ seenAt, ...row }): AgentPresenceRow => ({
          status: envelopeOfRow(row) as EnvelopeOf<'agent.status'>,
          seenAt,
        })),
    );
  }

  tddTasks(query: Parameters<EventStore['tddTasks']>[0]) {
    return this.wal.read(
      () => this.snapshotNow('tddTasks', tddTasksFilter(query)).items as EnvelopeOf<'tdd.phase_changed'>[],
    );
  }

  workflow(workflowId: string): Promise<WorkflowState | undefined> {
    return this.wal.read(() => {
      const row = this.db.select().from(workflows).where(eq(workflows.workflowId, workflowId)).get();
      return row && toWorkflowState(row);
    });
  }

  workflows({ status, workflowType, limit }: WorkflowsFilter) {
    return this.wal.read(() =>
      this.db
        .select()
        .from(workflows)
        .where(
          and(
            status === undefined ? undefined : eq(workflows.status, status),
            workflowType === undefined ? undefined : eq(workflows.workflowType, workflowType),
          ),
        )
        .orderBy(desc(workflows.lastEventId))
        .limit(limit)
        .all()
        .map(toWorkflowState),
    );
  }

  usage(query: UsageQuery): Promise<UsageReport> {
    return this.wal.read(() => this.inTransaction(() => this.usageTotals.read(query, this.head())));
  }

  sizeBytes(): Promise<number> {
    return this.wal.read(() => this.statements.sizeBytes.get()?.n ?? 0);
  }

  // ── Retention ──

  retentionWatermark(): Promise<number> {
    return this.wal.read(() => this.watermark());
  }

  private watermark(): number {
    return this.statements.readWatermark.get()?.value ?? 0;
  }

  prune(policy: RetentionPolicy): Promise<{ deleted: number; watermark: number; more: boolean }> {
    return this.write(() => this.pruneNow(policy));
  }

  private pruneNow(policy: RetentionPolicy) {
    return this.inTransaction(() => {
      const { statements } = this;
      const from = this.watermark();
      const facts = statements.retentionFacts.get(...retentionFactsParams(policy));
      const cutoff = retentionCutoff(policy, {
        firstYoungId: facts?.firstYoungId ?? null,
        beyondRowsId: facts?.beyondRowsId ?? null,
        head: this.head(),
      });
      if (cutoff <= from) return { deleted: 0, watermark: from, more: false };
      const deleted = statements.deleteOld.all(from, cutoff, policy.limit);
      const swept = sweptTo(
        deleted.map((d) => d.id),
        cutoff,
        policy.limit,
      );
      statements.writeWatermark.run(swept.watermark);
      return swept;
    });
  }

  async close(): Promise<void> {
    await this.checkpoints?.close();
    await this.wal.close();
    this.sqlite.close();
  }

  /** A write, answered once it is on disk; a WAL that could not be synced makes the store unavailable for writes. */
  private write<T>(commit: () => T): Promise<T> {
    const committed = () => {
      const result = commit();
      this.checkpoints?.committed();
      return result;
    };
    return this.wal.write(committed).catch((error: unknown) => {
      throw error instanceof WalSyncError ? new StoreUnavailableError('write', error) : error;
    });
  }

  /**
   * Runs `fn` in a better-sqlite3 transaction, or in a savepoint when one is open: a throw rolls it back (ids
   * included) and propagates. Called once per commit, never per event.
   */
  private inTransaction<R>(fn: () => R): R {
    return this.sqlite.transaction(fn)();
  }
}

/**
 * `catalogue` derives each event's topic; events of custom families are stored like the built-in ones. `fsync`
 * replaces the WAL's flush to disk (durability `full`), for tests that inject a slow or failing disk. `onRetry`
 * hears of every group commit done again batch by batch.
 */
export function createSqliteStore(
  db: Db,
  catalogue: Pick<Catalogue, 'topicOf'> = builtinCatalogue,
  options: { fsync?: Fsync; onRetry?: OnGroupRetry } = {},
): EventStore {
  return new SqliteStore(db, catalogue, options.fsync, options.onRetry);
}

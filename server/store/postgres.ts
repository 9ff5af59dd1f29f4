/**
 * The cluster store: PostgreSQL through Drizzle and node-postgres, shared by every node.
 *
 * One global order: an append transaction first locks the `head` row of `store_meta` (`SELECT … FOR UPDATE`)
 * and takes the next ids from it, so appends from all nodes serialize on that row, ids are contiguous (a failed
 * transaction leaves the counter as it was), and a transaction holding larger ids commits after every one
 * holding smaller ids: ids become visible in the order they were assigned. Each node's group commit takes the
 * lock once for the whole group. Idempotency keys are looked up under the same lock, so a key published on two
 * nodes at once is stored once (the unique index stays as the last guard).
 *
 * Read top to bottom: the append path (group, batches; the statements are in postgres-writes.ts), the reads,
 * retention, errors. What an
 * event does to current state is decided in `server/core/state.ts`; this file only writes the rows it computes.
 */
import { and, asc, desc, eq, gt, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type pg from 'pg';
import { agents, events, tddTasks, workflows } from '../../drizzle/pg-schema.js';
import {
  builtinCatalogue,
  entityTopic,
  type Catalogue,
  type EnvelopeOf,
  type EventEnvelope,
  type ValidEvent,
} from '@switchboard/shared';
import { envelopeOfEvent, envelopeOfRow, type EnvelopeRow } from '../core/envelope.js';
import { FoldedChanges, stateChangeOf } from '../core/state.js';
import { compileFilter, type EventFilter } from '../core/filter.js';
import type { PgDb } from './postgres-open.js';
import { EventColumns, writeRows, writeTouches } from './postgres-writes.js';
import type {
  AppendBatch,
  AppendResult,
  EventStore,
  GroupOutcome,
  RetentionPolicy,
  Snapshot,
  SnapshotKind,
  WorkflowState,
  WorkflowsFilter,
} from '../core/store.js';
import { StoreUnavailableError } from '../core/unavailable.js';
import { isConnectionError } from './connection-errors.js';

type Batches = readonly AppendBatch[];

/** Envelopes by owner, then key: what a group already holds under each idempotency key. */
class KeyIndex {
  private readonly owners = new Map<string, Map<string, EventEnvelope>>();
  get(owner: string, key: string): EventEnvelope | undefined {
    return this.owners.get(owner)?.get(key);
  }
  set(owner: string, key: string, envelope: EventEnvelope): void {
    const keys = this.owners.get(owner) ?? new Map<string, EventEnvelope>();
    this.owners.set(owner, keys);
    keys.set(key, envelope);
  }
  delete(owner: string, key: string): void {
    this.owners.get(owner)?.delete(key);
  }
}

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

const snapshotSources = {
  agents: { table: agents, eventId: agents.statusEventId },
  workflows: { table: workflows, eventId: workflows.lifecycleEventId },
  tddTasks: { table: tddTasks, eventId: tddTasks.phaseEventId },
} as const;

/** `*` is the only wildcard of our grammar; LIKE's own `%`, `_` and the escape character match themselves. */
function toLike(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

/** The topic matches one of the patterns. */
function anyTopic(patterns: readonly string[]): SQL | undefined {
  return or(
    ...patterns.map((p) =>
      p.includes('*') ? sql`${events.topic} LIKE ${toLike(p)} ESCAPE '\\'` : eq(events.topic, p),
    ),
  );
}

function whereOf(filter: EventFilter): SQL | undefined {
  return and(
    filter.types && inArray(events.type, [...filter.types]),
    filter.topics && anyTopic(filter.topics),
    filter.scope && anyTopic(filter.scope),
    filter.agentIds && inArray(events.agentId, [...filter.agentIds]),
    filter.stepIds && inArray(events.stepId, [...filter.stepIds]),
  );
}

/** One batch prepared for writing: its outcome, and the rows and changes it was added to. */
interface PreparedBatch {
  result: AppendResult;
  rows: EventColumns;
  changes: FoldedChanges;
  /** Keys this batch stores, forgotten again if it is rolled back. */
  newKeys: string[];
}

export interface PostgresStoreOptions {
  /** Told of every operation that failed because PostgreSQL was unreachable, and of every one that succeeded. */
  onHealth?: ((ok: boolean) => void) | undefined;
  /** Derives each event's topic; events of custom families are stored like the built-in ones. */
  catalogue?: Pick<Catalogue, 'topicOf'> | undefined;
}

class PostgresStore implements EventStore {
  private readonly pool: pg.Pool;

  constructor(
    private readonly db: PgDb,
    private readonly options: PostgresStoreOptions,
  ) {
    this.pool = db.$client;
  }

  // ── Append ──

  async append(input: readonly ValidEvent[], keyOwner = ''): Promise<AppendResult> {
    const [outcome] = await this.appendGroup([{ events: input, keyOwner }]);
    if (!outcome) throw new Error('append produced no outcome');
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  async appendGroup(batches: Batches): Promise<GroupOutcome[]> {
    // As on SQLite: the whole group in one go; if a batch fails, redo the group with a savepoint per batch so
    // that batch alone is refused. Nothing of the first attempt is kept (its transaction rolled back).
    try {
      return await this.transaction('append', (client) => this.writeGroup(client, batches, false));
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      return this.transaction('append', (client) => this.writeGroup(client, batches, true));
    }
  }

  private async writeGroup(client: pg.PoolClient, batches: Batches, isolated: boolean): Promise<GroupOutcome[]> {
    // The lock every append in the cluster waits on, held until COMMIT.
    const head = await client.query<{ value: string }>("SELECT value FROM store_meta WHERE key = 'head' FOR UPDATE");
    let next = Number(head.rows[0]?.value ?? 0);
    const known = await this.existingKeys(client, batches);
    const receivedAt = new Date();
    const all = new FoldedChanges();
    const rows = new EventColumns();
    const outcomes: GroupOutcome[] = [];
    for (const batch of batches) {
      const before = next;
      if (!isolated) {
        // Together: every batch adds to the group's rows and changes, written once below.
        const prepared = this.prepareBatch(batch, () => ++next, known, receivedAt, { rows, changes: all });
        outcomes.push({ ok: true, result: prepared.result });
        continue;
      }
      // Preparing is inside the savepoint's try too: a bug there (a topic rule that throws) refuses this batch
      // alone. Only a lost connection fails the group, since the transaction is gone with it.
      const newKeys: string[] = [];
      await client.query('SAVEPOINT batch');
      try {
        const prepared = this.prepareBatch(batch, () => ++next, known, receivedAt, {
          rows: new EventColumns(),
          changes: new FoldedChanges(),
          newKeys,
        });
        await writeRows(client, prepared.rows, prepared.changes);
        await client.query('RELEASE SAVEPOINT batch');
        all.touches.merge(prepared.changes.touches);
        outcomes.push({ ok: true, result: prepared.result });
      } catch (error) {
        if (isConnectionError(error)) throw error;
        await client.query('ROLLBACK TO SAVEPOINT batch');
        next = before;
        for (const key of newKeys) known.delete(batch.keyOwner, key);
        outcomes.push({ ok: false, error });
      }
    }
    if (!isolated) await writeRows(client, rows, all);
    await writeTouches(client, all);
    await client.query("UPDATE store_meta SET value = $1 WHERE key = 'head'", [next]);
    return outcomes;
  }

  /** The envelopes already stored under any key of the group (read under the head lock, so none can race in). */
  private async existingKeys(client: pg.PoolClient, batches: Batches): Promise<KeyIndex> {
    const owners: string[] = [];
    const keys: string[] = [];
    for (const { events, keyOwner } of batches) {
      for (const event of events) {
        if (event.key === undefined) continue;
        owners.push(keyOwner);
        keys.push(event.key);
      }
    }
    const known = new KeyIndex();
    if (keys.length === 0) return known;
    const found = await client.query<EnvelopeRow & { id: string; keyOwner: string }>(
      `SELECT id, type, topic, timestamp, key, key_owner AS "keyOwner", source, correlation_id AS "correlationId", data
       FROM events WHERE (key_owner, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [owners, keys],
    );
    for (const { keyOwner, ...row } of found.rows) {
      if (row.key !== null) known.set(keyOwner, row.key, envelopeOfRow({ ...row, id: Number(row.id) }));
    }
    return known;
  }

  private prepareBatch(
    { events: batch, keyOwner }: AppendBatch,
    nextId: () => number,
    known: KeyIndex,
    receivedAt: Date,
    into: { rows: EventColumns; changes: FoldedChanges; newKeys?: string[] },
  ): PreparedBatch {
    const prepared: PreparedBatch = { result: { envelopes: [], stored: [] }, newKeys: [], ...into };
    for (const event of batch) {
      const repeated = event.key === undefined ? undefined : known.get(keyOwner, event.key);
      if (repeated) {
        prepared.result.envelopes.push(repeated);
        continue;
      }
      const id = nextId();
      const timestamp = event.timestamp ?? receivedAt;
      const topic = (this.options.catalogue ?? builtinCatalogue).topicOf(event);
      prepared.rows.push(event, keyOwner, id, topic, timestamp, receivedAt.getTime());
      const change = stateChangeOf(event, id, timestamp.getTime());
      if (change) prepared.changes.add(change);
      const envelope = envelopeOfEvent(event, id, topic, timestamp);
      if (event.key !== undefined) {
        known.set(keyOwner, event.key, envelope);
        prepared.newKeys.push(event.key);
      }
      prepared.result.envelopes.push(envelope);
      prepared.result.stored.push(envelope);
    }
    return prepared;
  }

  // ── Reads ──

  readAfter(after: number, filter: EventFilter, limit: number): Promise<EventEnvelope[]> {
    return this.readRange({ after, before: Number.MAX_SAFE_INTEGER, order: 'asc' }, filter, limit);
  }

  async readRange(
    { after, before, order }: { after: number; before: number; order: 'asc' | 'desc' },
    filter: EventFilter,
    limit: number,
  ): Promise<EventEnvelope[]> {
    const rows = await this.guard('read', () =>
      this.db
        .select(envelopeColumns)
        .from(events)
        .where(and(gt(events.id, after), lt(events.id, before), whereOf(filter)))
        .orderBy(order === 'asc' ? asc(events.id) : desc(events.id))
        .limit(limit),
    );
    return rows.map(envelopeOfRow);
  }

  async storedTypes(): Promise<string[]> {
    const result = await this.guard('read', () =>
      this.pool.query<{ type: string }>('SELECT DISTINCT type FROM events'),
    );
    return result.rows.map((row) => row.type);
  }

  epoch(): string {
    return this.db.epoch;
  }

  async headId(): Promise<number> {
    const result = await this.guard('read', () =>
      this.pool.query<{ value: string }>("SELECT value FROM store_meta WHERE key = 'head'"),
    );
    return Number(result.rows[0]?.value ?? 0);
  }

  /** State rows and head from one REPEATABLE READ snapshot, so the pair is consistent. */
  async snapshot(kind: SnapshotKind, filter: EventFilter): Promise<Snapshot> {
    const source = snapshotSources[kind];
    const { rows, head } = await this.guard('read', () =>
      this.db.transaction(
        async (tx) => {
          const rows = await tx
            .select(envelopeColumns)
            .from(source.table)
            .innerJoin(events, eq(events.id, source.eventId))
            .where(whereOf(filter))
            .orderBy(asc(events.id));
          const head = await tx.execute<{ value: string }>(sql`SELECT value FROM store_meta WHERE key = 'head'`);
          return { rows, head: Number(head.rows[0]?.value ?? 0) };
        },
        { isolationLevel: 'repeatable read', accessMode: 'read only' },
      ),
    );
    const matches = compileFilter(filter);
    return { items: rows.map(envelopeOfRow).filter(matches), headId: head };
  }

  async agents(agentIds?: readonly string[]): Promise<EnvelopeOf<'agent.status'>[]> {
    return (await this.snapshot('agents', { agentIds })).items as EnvelopeOf<'agent.status'>[];
  }

  async tddTasks({ agentId, taskId }: { agentId?: string | undefined; taskId?: string | undefined }) {
    const { items } = await this.snapshot('tddTasks', {
      agentIds: agentId === undefined ? undefined : [agentId],
      topics: taskId === undefined ? undefined : [entityTopic('tdd', taskId)],
    });
    return items as EnvelopeOf<'tdd.phase_changed'>[];
  }

  async workflow(workflowId: string): Promise<WorkflowState | undefined> {
    const [row] = await this.guard('read', () =>
      this.db.select().from(workflows).where(eq(workflows.workflowId, workflowId)),
    );
    return row && toWorkflowState(row);
  }

  async workflows({ status, workflowType, limit }: WorkflowsFilter) {
    const rows = await this.guard('read', () =>
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
        .limit(limit),
    );
    return rows.map(toWorkflowState);
  }

  async sizeBytes(): Promise<number> {
    const result = await this.guard('read', () =>
      this.pool.query<{ n: string | null }>(
        `SELECT sum(pg_total_relation_size(c.oid)) AS n FROM pg_class c
         JOIN pg_namespace ns ON ns.oid = c.relnamespace
         WHERE ns.nspname = current_schema() AND c.relkind = 'r'`,
      ),
    );
    return Number(result.rows[0]?.n ?? 0);
  }

  // ── Retention ──

  async retentionWatermark(): Promise<number> {
    const result = await this.guard('read', () =>
      this.pool.query<{ value: string }>("SELECT value FROM store_meta WHERE key = 'retention_watermark'"),
    );
    return Number(result.rows[0]?.value ?? 0);
  }

  prune(policy: RetentionPolicy): Promise<{ deleted: number; watermark: number; more: boolean }> {
    return this.transaction('retention', async (client) => {
      const value = async (text: string, params: unknown[]) =>
        (await client.query<{ v: string | null }>(text, params)).rows[0]?.v ?? null;
      // Every node runs retention; one at a time sweeps, the others find nothing left to do.
      const locked = await value("SELECT pg_try_advisory_xact_lock(hashtext('switchboard.retention')) AS v", []);
      const from = Number(
        (await value("SELECT value AS v FROM store_meta WHERE key = 'retention_watermark'", [])) ?? 0,
      );
      if (String(locked) !== 'true') return { deleted: 0, watermark: from, more: false };
      let cutoff = 0;
      if (policy.maxAgeMs > 0) {
        const young = await value('SELECT id AS v FROM events WHERE received_at >= $1 ORDER BY id LIMIT 1', [
          policy.now - policy.maxAgeMs,
        ]);
        const head = await value("SELECT value AS v FROM store_meta WHERE key = 'head'", []);
        cutoff = young !== null ? Number(young) - 1 : Number(head ?? 0);
      }
      if (policy.maxRows > 0) {
        const beyond = await value('SELECT id AS v FROM events ORDER BY id DESC LIMIT 1 OFFSET $1', [policy.maxRows]);
        cutoff = Math.max(cutoff, Number(beyond ?? 0));
      }
      if (cutoff <= from) return { deleted: 0, watermark: from, more: false };
      // Events that hold an entity's current state are kept, so snapshots stay complete after retention.
      const deleted = await client.query<{ id: string }>(
        `DELETE FROM events WHERE id IN (
           SELECT id FROM events
           WHERE id > $1 AND id <= $2
             AND id NOT IN (SELECT status_event_id FROM agents)
             AND id NOT IN (SELECT lifecycle_event_id FROM workflows WHERE lifecycle_event_id IS NOT NULL)
             AND id NOT IN (SELECT phase_event_id FROM tdd_tasks WHERE phase_event_id IS NOT NULL)
           ORDER BY id LIMIT $3)
         RETURNING id`,
        [from, cutoff, policy.limit],
      );
      // A full chunk may have stopped short of the cutoff: the watermark moves only as far as was really swept.
      const more = deleted.rows.length === policy.limit;
      const reached = more ? Math.max(...deleted.rows.map((d) => Number(d.id))) : cutoff;
      await client.query(
        `INSERT INTO store_meta (key, value) VALUES ('retention_watermark', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
        [reached],
      );
      return { deleted: deleted.rows.length, watermark: reached, more };
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  // ── Errors ──

  /** Runs `fn` in a transaction on one pooled connection; a lost connection becomes `StoreUnavailableError`. */
  private async transaction<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.guard(what, () => this.pool.connect());
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken = isConnectionError(error);
      if (broken) this.options.onHealth?.(false);
      else {
        await client.query('ROLLBACK').catch(() => {
          // The connection died after the error: the transaction is gone with it; the pool must not reuse it.
          broken = true;
        });
      }
      throw broken ? new StoreUnavailableError(what, error) : error;
    } finally {
      // A connection that failed is closed rather than returned to the pool.
      client.release(broken);
    }
  }

  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      this.options.onHealth?.(true);
      return result;
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      this.options.onHealth?.(false);
      throw new StoreUnavailableError(what, error);
    }
  }
}

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

export function createPostgresStore(db: PgDb, options: PostgresStoreOptions = {}): EventStore {
  return new PostgresStore(db, options);
}

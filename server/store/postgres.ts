/**
 * The cluster store: PostgreSQL through Drizzle and node-postgres, shared by every node.
 *
 * One global order: an append transaction first locks the `head` row of `store_meta` (`SELECT … FOR UPDATE`, or the
 * `UPDATE` that advances it) and takes the next ids from it, so appends from all nodes serialize on that row, ids
 * are contiguous (a failed transaction leaves the counter as it was), and a transaction holding larger ids commits
 * after every one holding smaller ids: ids become visible in the order they were assigned. Each node's group commit
 * takes the lock once for the whole group. Idempotency keys are looked up under the same lock, so a key published on
 * two nodes at once is stored once (the unique index stays as the last guard).
 *
 * The head row is held for as long as a commit takes, so a commit makes as few round trips as it can: the
 * connections are pipelined (postgres-open.ts). A group with nothing to read under the lock (no idempotency key,
 * no `after`, no presence condition) is one round trip, and the lock is held only while PostgreSQL runs it; any
 * other is two, one to begin, lock and read under the lock, one to write everything and commit.
 *
 * Read top to bottom: the append path (group, batches; the statements are in postgres-writes.ts), the reads,
 * retention, errors. What an event does to current state is decided in `server/core/state.ts`; this file only
 * writes the rows it computes.
 */
import { and, asc, desc, eq, inArray, lte, ne, sql } from 'drizzle-orm';
import type pg from 'pg';
import { agents, events, tddTasks, workflows } from '../../drizzle/pg-schema.js';
import {
  builtinCatalogue,
  type Catalogue,
  type EnvelopeOf,
  type EventEnvelope,
  type UsageReport,
  type ValidEvent,
} from '@switchboard/shared';
import { envelopeOfEvent, envelopeOfRow, type EnvelopeRow } from '../core/envelope.js';
import { FoldedChanges, stateChangeOf } from '../core/state.js';
import { isStillSilent } from '../core/presence.js';
import type { EventFilter } from '../core/filter.js';
import {
  envelopeColumnsOf,
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
import type { PgDb } from './postgres-open.js';
import { EventRows, prepared, sendRows, sendTouches, settled, together } from './postgres-writes.js';
import { readUsage } from './postgres-usage.js';
import type { UsageQuery } from '../core/usage.js';
import type {
  EventRange,
  AgentPresenceRow,
  AppendBatch,
  AppendResult,
  EventStore,
  GroupOutcome,
  OnGroupRetry,
  PreparedCommit,
  RetentionPolicy,
  SilenceCondition,
  Snapshot,
  SnapshotKind,
  WorkflowState,
  WorkflowsFilter,
} from '../core/store.js';
import { StoreUnavailableError } from '../core/unavailable.js';
import { OutOfOrderError } from '../core/order.js';
import { isConnectionError } from './connection-errors.js';

type Batches = readonly AppendBatch[];

/** A group made ready for `writeAtOnce`: ids numbered 1…`numbered` until the head names their shift. */
interface AtOnce {
  outcomes: GroupOutcome[];
  numbered: number;
  /** The insert statements' parameters (EventRows.params). */
  params: unknown[][];
  changes: FoldedChanges;
}

/** A group whose commit must read under the head lock first: keys to look up, an order to keep, a presence rule. */
const readsUnderLock = (batches: Batches) =>
  batches.some(
    (batch) =>
      batch.ifSilent !== undefined || batch.after !== undefined || batch.events.some((e) => e.key !== undefined),
  );

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

const envelopeColumns = envelopeColumnsOf(events);
/**
 * The same columns for rows read as arrays, the timestamp as epoch milliseconds: `pg` would parse its text form
 * in JavaScript (`postgres-date`) for every row of a replay. Stored from a JS Date, it is a whole number of ms.
 */
const rangeColumns = {
  ...envelopeColumns,
  timestamp: sql<number>`(extract(epoch from ${events.timestamp}) * 1000)::float8`,
};
const snapshotSources = snapshotSourcesOf({ agents, workflows, tddTasks });
const retention = retentionStatements((n) => `$${n}`);
/** The last id handed out. */
const readHead = "SELECT value FROM store_meta WHERE key = 'head'";
/** The lock every append in the cluster waits on, held until COMMIT: the last id handed out. */
const lockHead = `${readHead} FOR UPDATE`;
const writeHead = prepared('write-head', "UPDATE store_meta SET value = $1 WHERE key = 'head'");
/** Takes the lock and `$1` ids at once: the head's new value is the last of them. */
const advanceHead = prepared(
  'advance-head',
  "UPDATE store_meta SET value = value + $1 WHERE key = 'head' RETURNING value",
);

/** A transaction that failed ends at COMMIT as a rollback; `settled` has thrown that failure already. */
function committed(sent: readonly unknown[]): void {
  if ((sent.at(-1) as pg.QueryResult | undefined)?.command !== 'COMMIT') throw new Error('the commit was rolled back');
}

/** `*` is the only wildcard of our grammar; LIKE's own `%`, `_` and the escape character match themselves. */
function toLike(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

const whereOf = whereOfFilter(events, (pattern) => sql`${events.topic} LIKE ${toLike(pattern)} ESCAPE '\\'`);

/** One batch prepared for writing: its outcome, and the rows and changes it was added to. */
interface PreparedBatch {
  result: AppendResult;
  rows: EventRows;
  changes: FoldedChanges;
  /** Keys this batch stores, forgotten again if it is rolled back. */
  newKeys: string[];
}

export interface PostgresStoreOptions {
  /** Told of every operation that failed because PostgreSQL was unreachable, and of every one that succeeded. */
  onHealth?: ((ok: boolean) => void) | undefined;
  /** Derives each event's topic; events of custom families are stored like the built-in ones. */
  catalogue?: Pick<Catalogue, 'topicOf'> | undefined;
  /** Hears of every group commit done again batch by batch. */
  onRetry?: OnGroupRetry | undefined;
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

  async appendGroup(batches: Batches, receivedAt = new Date()): Promise<GroupOutcome[]> {
    return readsUnderLock(batches)
      ? this.appendGroupWith(batches, receivedAt, (client) => this.writeTogether(client, batches, receivedAt))
      : this.appendGroupWith(batches, receivedAt, (client) =>
          this.writeAtOnce(client, this.prepareAtOnce(batches, receivedAt)),
        );
  }

  prepareGroup(batches: Batches, receivedAt: Date): PreparedCommit | undefined {
    if (readsUnderLock(batches)) return undefined;
    const atOnce = this.prepareAtOnce(batches, receivedAt);
    return (onOrdered) =>
      this.appendGroupWith(batches, receivedAt, (client) => this.writeAtOnce(client, atOnce, onOrdered));
  }

  /** `write` on a pooled connection, and if a batch fails, the group again with a savepoint per batch. */
  private async appendGroupWith(
    batches: Batches,
    receivedAt: Date,
    write: (client: pg.PoolClient) => Promise<GroupOutcome[]>,
  ): Promise<GroupOutcome[]> {
    // As on SQLite: the whole group in one go; if a batch fails, redo the group with a savepoint per batch so
    // that batch alone is refused. Nothing of the first attempt is kept (its transaction rolled back).
    try {
      return await this.onConnection('append', write);
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      this.options.onRetry?.(error);
      return this.transaction('append', (client) => this.writeIsolated(client, batches, receivedAt));
    }
  }

  /**
   * What `writeAtOnce` sends, made before it has a connection: the envelopes with ids numbered from 0, the rows
   * and their statements' parameters, the group's folded state changes.
   */
  private prepareAtOnce(batches: Batches, receivedAt: Date): AtOnce {
    let next = 0;
    const changes = new FoldedChanges();
    const rows = new EventRows();
    const none = new KeyIndex();
    const outcomes = batches.map((batch): GroupOutcome => ({
      ok: true,
      result: this.prepareBatch(batch, () => ++next, none, receivedAt, { rows, changes }).result,
    }));
    return { outcomes, numbered: next, params: rows.params(next), changes };
  }

  /**
   * A group with nothing to read under the head lock (no idempotency key, no `after`, no presence condition) as
   * one transaction in one round trip: its ids numbered from 0, the head advanced by their count first (which
   * takes the lock), every statement shifting the ids by the head it found (postgres-writes.ts `shift`), and the
   * envelopes renumbered by the head the reply names. The lock is held only while PostgreSQL runs the statements.
   * `onOrdered` hears the head as soon as the lock is taken (`prepareGroup`).
   */
  private async writeAtOnce(
    client: pg.PoolClient,
    { outcomes, numbered: next, params, changes }: AtOnce,
    onOrdered?: (lastId: number) => void,
  ): Promise<GroupOutcome[]> {
    const sent = await settled<unknown>(
      together(client, () => [
        client.query('BEGIN'),
        client.query<{ value: string }>(advanceHead([next])).then((locked) => {
          const head = Number(locked.rows[0]?.value);
          if (Number.isSafeInteger(head)) onOrdered?.(head);
          return locked;
        }),
        ...sendRows(client, params, changes, next),
        ...sendTouches(client, changes, next),
        client.query('COMMIT'),
      ]),
    );
    committed(sent);
    if (next === 0) return outcomes;
    // Without a head row every shifted id is NULL and the insert fails before COMMIT: a group that stored events
    // always has its head here.
    const head = Number((sent[1] as pg.QueryResult<{ value: string }>).rows[0]?.value);
    if (!Number.isSafeInteger(head)) throw new Error('the head row did not answer its new value');
    // The envelopes were made here and are seen by no one yet: numbered from 0 until the head was known.
    const shift = head - next;
    for (const outcome of outcomes) {
      if (outcome.ok) for (const envelope of outcome.result.stored) envelope.id = String(Number(envelope.id) + shift);
    }
    return outcomes;
  }

  /**
   * The whole group as one transaction in two round trips (the connection is pipelined, postgres-open.ts): the
   * first opens it, takes the head lock and reads what must be read under it; the second writes everything and
   * commits. Any failure rolls all of it back.
   */
  private async writeTogether(client: pg.PoolClient, batches: Batches, receivedAt: Date): Promise<GroupOutcome[]> {
    // The lock every append in the cluster waits on, held until COMMIT; the keys and presence conditions are
    // read after it is taken (the server runs the statements in the order they were sent).
    const { begun, head, keys, silences } = together(client, () => ({
      begun: client.query('BEGIN'),
      head: client.query<{ value: string }>(lockHead),
      keys: this.existingKeys(client, batches),
      silences: batches.map((batch) =>
        batch.ifSilent ? this.silentRow(client, batch.ifSilent) : Promise.resolve(undefined),
      ),
    }));
    await settled<unknown>([begun, head, keys, ...silences]);
    let next = Number((await head).rows[0]?.value ?? 0);
    const known = await keys;
    const all = new FoldedChanges();
    const rows = new EventRows();
    const outcomes: GroupOutcome[] = [];
    for (const [i, batch] of batches.entries()) {
      if (batch.ifSilent && !isStillSilent(await silences[i], batch.ifSilent, all.touches)) {
        outcomes.push({ ok: true, result: { envelopes: [], stored: [] } });
        continue;
      }
      // Refused before it adds a row, so the rest of the group commits as it is.
      if (batch.after !== undefined && !known.get(batch.keyOwner, batch.after)) {
        outcomes.push({ ok: false, error: new OutOfOrderError(batch.after) });
        continue;
      }
      const prepared = this.prepareBatch(batch, () => ++next, known, receivedAt, { rows, changes: all });
      outcomes.push({ ok: true, result: prepared.result });
    }
    // The head first: the statements after it shift the ids by it (none here: they were numbered from it).
    const sent = await settled<unknown>(
      together(client, () => [
        client.query(writeHead([next])),
        ...sendRows(client, rows.params(next), all, next),
        ...sendTouches(client, all, next),
        client.query('COMMIT'),
      ]),
    );
    committed(sent);
    return outcomes;
  }

  /** The group again after a failure, one savepoint per batch: a batch that fails is refused alone. */
  private async writeIsolated(client: pg.PoolClient, batches: Batches, receivedAt: Date): Promise<GroupOutcome[]> {
    const head = await client.query<{ value: string }>(lockHead);
    let next = Number(head.rows[0]?.value ?? 0);
    const known = await this.existingKeys(client, batches);
    const all = new FoldedChanges();
    const outcomes: GroupOutcome[] = [];
    for (const batch of batches) {
      const before = next;
      if (batch.ifSilent && !isStillSilent(await this.silentRow(client, batch.ifSilent), batch.ifSilent, all.touches)) {
        outcomes.push({ ok: true, result: { envelopes: [], stored: [] } });
        continue;
      }
      // `known` holds the keys of the batches before it that are kept (a refused one's are taken out again).
      if (batch.after !== undefined && !known.get(batch.keyOwner, batch.after)) {
        outcomes.push({ ok: false, error: new OutOfOrderError(batch.after) });
        continue;
      }
      // Preparing is inside the savepoint's try too: a bug there (a topic rule that throws) refuses this batch
      // alone. Only a lost connection fails the group, since the transaction is gone with it.
      const newKeys: string[] = [];
      await client.query('SAVEPOINT batch');
      try {
        const prepared = this.prepareBatch(batch, () => ++next, known, receivedAt, {
          rows: new EventRows(),
          changes: new FoldedChanges(),
          newKeys,
        });
        // The head moves with each batch kept: rolling the batch back puts it back too.
        await settled([
          client.query(writeHead([next])),
          ...sendRows(client, prepared.rows.params(next), prepared.changes, next),
        ]);
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
    // The head is at `next` already: the last batch kept wrote it, or none did and it is as read.
    await settled(sendTouches(client, all, next));
    return outcomes;
  }

  /**
   * The agent a presence condition names, read under the head lock (no append can change it meanwhile) and with
   * its row locked (a heartbeat that got there first has committed; one that comes later waits for us). The
   * condition is then decided with the commit's earlier touches (`isStillSilent`).
   */
  private async silentRow(
    client: pg.PoolClient,
    condition: SilenceCondition,
  ): Promise<{ status: string; seenAt: number } | undefined> {
    const found = await client.query<{ status: string; seenAt: string }>(
      'SELECT status, seen_at AS "seenAt" FROM agents WHERE agent_id = $1 FOR UPDATE',
      [condition.agentId],
    );
    const row = found.rows[0];
    return row && { status: row.status, seenAt: Number(row.seenAt) };
  }

  /**
   * The envelopes already stored under any key of the group, or any key a batch must follow (read under the head
   * lock, so none can race in).
   */
  private async existingKeys(client: pg.PoolClient, batches: Batches): Promise<KeyIndex> {
    const owners: string[] = [];
    const keys: string[] = [];
    for (const { events, keyOwner, after } of batches) {
      if (after !== undefined) {
        owners.push(keyOwner);
        keys.push(after);
      }
      for (const event of events) {
        if (event.key === undefined) continue;
        owners.push(keyOwner);
        keys.push(event.key);
      }
    }
    const known = new KeyIndex();
    if (keys.length === 0) return known;
    const found = await client.query<EnvelopeRow & { id: string; keyOwner: string }>(
      `SELECT ${envelopeSelectList(envelopeColumns)}, key_owner AS "keyOwner"
       FROM events WHERE key IS NOT NULL AND (key_owner, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [owners, keys],
    );
    for (const { keyOwner, ...row } of found.rows) {
      if (row.key !== null) known.set(keyOwner, row.key, envelopeOfRow({ ...row, id: Number(row.id) }));
    }
    return known;
  }

  private prepareBatch(
    { events: batch, keyOwner, ifSilent }: AppendBatch,
    nextId: () => number,
    known: KeyIndex,
    receivedAt: Date,
    into: { rows: EventRows; changes: FoldedChanges; newKeys?: string[] },
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
      const { refs, data } = prepared.rows.push(event, keyOwner, id, topic, timestamp, receivedAt.getTime());
      const change = stateChangeOf(event, id, timestamp.getTime());
      if (change) prepared.changes.add(change);
      // The presence sweep's own offline event is no sign of life: the agent keeps its last-seen time.
      if (refs.agentId !== null) prepared.changes.touches.seen(refs.agentId, ifSilent ? 0 : receivedAt.getTime());
      // With its data as written: the bus between nodes sends that text (server/bus/wire.ts).
      const envelope = envelopeOfEvent(event, id, topic, timestamp, data);
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
    return this.readRange({ after, order: 'asc' }, filter, limit);
  }

  async readRange(range: EventRange, filter: EventFilter, limit: number): Promise<EventEnvelope[]> {
    // Drizzle writes the statement; pg runs it with rows as arrays in `rangeColumns`' order, which become
    // envelopes here (Drizzle's mapping of each row cost as much as pg's own parse of it).
    const { where, orderBy } = rangeClauses(events.id, range, whereOf(filter));
    const query = this.db.select(rangeColumns).from(events).where(where).orderBy(orderBy).limit(limit).toSQL();
    const result = await this.guard('read', () =>
      this.pool.query<StoredRow>({ text: query.sql, values: query.params, rowMode: 'array' }),
    );
    return result.rows.map(envelopeOfStoredRow);
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
    const result = await this.guard('read', () => this.pool.query<{ value: string }>(readHead));
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
          const head = await tx.execute<{ value: string }>(sql.raw(readHead));
          return { rows, head: Number(head.rows[0]?.value ?? 0) };
        },
        { isolationLevel: 'repeatable read', accessMode: 'read only' },
      ),
    );
    return snapshotOf(rows, filter, head);
  }

  async agents(agentIds?: readonly string[]): Promise<EnvelopeOf<'agent.status'>[]> {
    return (await this.snapshot('agents', { agentIds })).items as EnvelopeOf<'agent.status'>[];
  }

  async presence({
    agentIds,
    seenBefore,
  }: {
    agentIds?: readonly string[] | undefined;
    seenBefore?: number | undefined;
  }): Promise<AgentPresenceRow[]> {
    const rows = await this.guard('read', () =>
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
        .orderBy(asc(agents.agentId)),
    );
    return rows.map(({ seenAt, ...row }) => ({
      status: envelopeOfRow(row) as EnvelopeOf<'agent.status'>,
      seenAt,
    }));
  }

  /** One statement per agent, each its own transaction: it holds one agent row at a time, so it never deadlocks. */
  async heartbeat(agentIds: readonly string[], at: number): Promise<{ agentId: string; status: string }[]> {
    const answers = await Promise.all(
      agentIds.map((agentId) =>
        this.guard('heartbeat', () =>
          this.pool.query<{ agentId: string; status: string }>(
            'UPDATE agents SET seen_at = GREATEST(seen_at, $2) WHERE agent_id = $1 RETURNING agent_id AS "agentId", status',
            [agentId, at],
          ),
        ),
      ),
    );
    return answers.flatMap((answer) => answer.rows);
  }

  async tddTasks(query: Parameters<EventStore['tddTasks']>[0]) {
    return (await this.snapshot('tddTasks', tddTasksFilter(query))).items as EnvelopeOf<'tdd.phase_changed'>[];
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

  /** Totals and head from one REPEATABLE READ snapshot, so the pair is consistent. */
  usage(query: UsageQuery): Promise<UsageReport> {
    return this.transaction('read', async (client) => {
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const head = await client.query<{ value: string }>("SELECT value FROM store_meta WHERE key = 'head'");
      return readUsage(client, query, Number(head.rows[0]?.value ?? 0));
    });
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
    const result = await this.guard('read', () => this.pool.query<{ value: string }>(retention.readWatermark));
    return Number(result.rows[0]?.value ?? 0);
  }

  prune(policy: RetentionPolicy): Promise<{ deleted: number; watermark: number; more: boolean }> {
    return this.transaction('retention', async (client) => {
      const first = async <Row extends pg.QueryResultRow>(text: string, params: unknown[] = []) =>
        (await client.query<Row>(text, params)).rows[0];
      // Every node runs retention; one at a time sweeps, the others find nothing left to do.
      const lock = await first<{ locked: boolean }>(
        "SELECT pg_try_advisory_xact_lock(hashtext('switchboard.retention')) AS locked",
      );
      const from = Number((await first<{ value: string }>(retention.readWatermark))?.value ?? 0);
      if (lock?.locked !== true) return { deleted: 0, watermark: from, more: false };
      const facts = await first<{ firstYoungId: string | null; beyondRowsId: string | null }>(
        retention.facts,
        retentionFactsParams(policy),
      );
      const head = await first<{ value: string }>(readHead);
      const cutoff = retentionCutoff(policy, {
        firstYoungId: numberOrNull(facts?.firstYoungId),
        beyondRowsId: numberOrNull(facts?.beyondRowsId),
        head: Number(head?.value ?? 0),
      });
      if (cutoff <= from) return { deleted: 0, watermark: from, more: false };
      const deleted = await client.query<{ id: string }>(retention.deleteOld, [from, cutoff, policy.limit]);
      const swept = sweptTo(
        deleted.rows.map((d) => Number(d.id)),
        cutoff,
        policy.limit,
      );
      await client.query(retention.writeWatermark, [swept.watermark]);
      return swept;
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  // ── Errors ──

  /** Runs `fn` in a transaction on one pooled connection; a lost connection becomes `StoreUnavailableError`. */
  private transaction<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.onConnection(what, async (client) => {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    });
  }

  /**
   * Runs `fn` on one pooled connection, which opens and commits its own transaction; if it throws, whatever
   * transaction it left open is rolled back. A lost connection becomes `StoreUnavailableError`.
   */
  private async onConnection<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.guard(what, () => this.pool.connect());
    let broken = false;
    try {
      return await fn(client);
    } catch (error) {
      broken = isConnectionError(error);
      if (broken) this.options.onHealth?.(false);
      else {
        // (Outside a transaction, one that ended at a failed COMMIT, this is a warning and nothing more.)
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

/** A bigint column as node-postgres returns it (a string), as a number. */
function numberOrNull(value: string | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

export function createPostgresStore(db: PgDb, options: PostgresStoreOptions = {}): EventStore {
  return new PostgresStore(db, options);
}

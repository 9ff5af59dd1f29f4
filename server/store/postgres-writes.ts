/**
 * How the PostgreSQL store writes one commit: the events as JSON texts of about `runChars` each, one statement
 * per text, then the state changes (folded to one per entity) and the agents' touches. The statements apply
 * `StateChange`s mechanically: an upsert whose update sets exactly the columns the change marks.
 */
import type pg from 'pg';
import type { ValidEvent } from '@switchboard/shared';
import type { FoldedChanges } from '../core/state.js';
import type { EventRefs } from '../core/filter.js';
import { eventInsert } from './common.js';
import { sendUsage, usageUpsert } from './postgres-usage.js';
import { inRuns } from '../core/text-runs.js';

/**
 * The shift a statement adds to every id it writes, as SQL: the head row's value in this transaction less
 * `$n`, the last id the writer numbered. Ids go out as the writer numbered them. A writer that read the head
 * under its lock numbers on from it and sets the head to its last id before these statements run: the shift
 * is nought. One that did not numbers from 0 and first advances the head by its count (taking the lock): the
 * shift is the head it found, which the writer learns only from the reply. So a commit with nothing to read
 * under the lock (no idempotency key, no `after`, no presence condition) goes in one round trip, and holds the
 * lock only while PostgreSQL runs it, never across a round trip to the node.
 */
const shift = (n: number) => `((SELECT value FROM store_meta WHERE key = 'head') - $${n}::bigint)`;

/**
 * A statement prepared once per connection under its name: later commits on that connection skip parsing and
 * planning it (the server keeps it until the connection closes).
 */
export function prepared(name: string, text: string): (values: unknown[]) => pg.QueryConfig {
  return (values) => ({ name: `switchboard.${name}`, text, values });
}

/**
 * The events of one commit as rows of JSON arrays: one INSERT … SELECT FROM jsonb_array_elements(…) writes each
 * array, of about `runChars` of text (server/core/text-runs.ts; by an estimate, `rowChars`, so a run may come out
 * larger). A single JSON text is encoded natively, where `pg` escapes every element of a text array in JavaScript
 * (and formats every timestamp): in bench/pg-ingest.ts the raw JSON insert of 1,000 stores more a second than the
 * raw unnest of the same rows, and the node spends less per event.
 */
export class EventRows {
  /** Each event's `EventInsert` with its id appended, as the INSERT below reads them. */
  private readonly rows: unknown[][] = [];

  /** Adds one event; returns the ids it refers to and its `data` as written. */
  push(
    event: ValidEvent,
    keyOwner: string,
    id: number,
    topic: string,
    timestamp: Date,
    receivedAt: number,
  ): { refs: EventRefs; data: string } {
    const { columns, refs } = eventInsert(event, keyOwner, topic, timestamp, receivedAt);
    const data = columns[9];
    const row: unknown[] = columns;
    row.push(id);
    this.rows.push(row);
    return { refs, data };
  }

  get length(): number {
    return this.rows.length;
  }

  /** Each statement's parameters, one per run of rows; `numberedTo`: the last id numbered (see `shift`). */
  params(numberedTo: number): unknown[][] {
    return inRuns(this.rows, rowChars).map((rows) => [JSON.stringify(rows), numberedTo]);
  }
}

/**
 * About the JSON text of a row: its texts' lengths, and a few characters for each number, quote and comma. The
 * escapes JSON adds inside `data` (a backslash before each quote it holds) are not counted: a cheap estimate,
 * which only decides where a statement ends.
 */
function rowChars(row: readonly unknown[]): number {
  let chars = 0;
  for (const value of row) chars += typeof value === 'string' ? value.length + 3 : 16;
  return chars;
}

// `->>` answers text (SQL NULL for JSON null); the stored data is the JSON string's text, exactly as written.
const insertEvents = prepared(
  'insert-events',
  `
  INSERT INTO events (id, type, topic, timestamp, key, key_owner, source, correlation_id, agent_id, step_id, data,
                      received_at)
  SELECT (r->>11)::bigint + h.shift, r->>0, r->>1, to_timestamp((r->>2)::double precision / 1000), r->>3, r->>4,
         r->>5, r->>6, r->>7, r->>8, r->>9, (r->>10)::bigint
  FROM (SELECT ${shift(2)} AS shift) AS h, jsonb_array_elements($1::jsonb) AS r`,
);

const upsertAgent = prepared(
  'upsert-agent',
  `
  INSERT INTO agents (agent_id, agent_type, status, status_event_id, last_event_id, updated_at)
  VALUES ($1, $2, $3, $4::bigint + ${shift(7)}, $5::bigint + ${shift(7)}, to_timestamp($6::double precision / 1000))
  ON CONFLICT (agent_id) DO UPDATE SET agent_type = EXCLUDED.agent_type, status = EXCLUDED.status,
    status_event_id = EXCLUDED.status_event_id, last_event_id = EXCLUDED.last_event_id,
    updated_at = EXCLUDED.updated_at`,
);

// Every touched agent of a commit in one statement (each agent once: the commit folded its touches). Applied at
// the end of a commit, possibly after a newer agent.status of the same commit: never move back. An agent with no
// row yet (no agent.status stored) has nothing to touch, as on SQLite. A touch's id 0 means no agent.* event in
// the commit (the agent was only named): NULL, which GREATEST skips and the CASE does not take, before any shift.
const touchAgents = prepared(
  'touch-agents',
  `
  UPDATE agents SET last_event_id = GREATEST(agents.last_event_id, t.id),
    updated_at = CASE WHEN t.id > agents.last_event_id THEN to_timestamp(t.at::double precision / 1000)
                      ELSE agents.updated_at END,
    seen_at = GREATEST(agents.seen_at, t.seen_at)
  FROM (SELECT u.agent_id, NULLIF(u.id, 0) + ${shift(5)} AS id, u.at, u.seen_at
        FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(agent_id, id, at, seen_at)) AS t
  WHERE agents.agent_id = t.agent_id`,
);

const upsertUsage = usageUpsert(shift(11));

const ms = (n: number) => `to_timestamp($${n}::double precision / 1000)`;
const keepUnless = (flag: number, column: string, table: string) =>
  `${column} = CASE WHEN $${flag}::boolean THEN EXCLUDED.${column} ELSE ${table}.${column} END`;

const upsertWorkflow = prepared(
  'upsert-workflow',
  `
  INSERT INTO workflows (workflow_id, workflow_type, status, current_step_id, started_at, finished_at,
                         lifecycle_event_id, last_event_id, updated_at, agent_id)
  VALUES ($1, $2, $3, $4, ${ms(5)}, ${ms(6)}, $7::bigint + ${shift(18)}, $8::bigint + ${shift(18)}, ${ms(9)}, $16)
  ON CONFLICT (workflow_id) DO UPDATE SET
    ${keepUnless(10, 'workflow_type', 'workflows')}, ${keepUnless(11, 'status', 'workflows')},
    ${keepUnless(12, 'current_step_id', 'workflows')}, ${keepUnless(13, 'started_at', 'workflows')},
    ${keepUnless(14, 'finished_at', 'workflows')}, ${keepUnless(15, 'lifecycle_event_id', 'workflows')},
    ${keepUnless(17, 'agent_id', 'workflows')}, last_event_id = EXCLUDED.last_event_id, updated_at = EXCLUDED.updated_at`,
);

const upsertTddTask = prepared(
  'upsert-tdd-task',
  `
  INSERT INTO tdd_tasks (task_id, agent_id, phase, phase_event_id, last_event_id, updated_at)
  VALUES ($1, $2, $3, $4::bigint + ${shift(9)}, $5::bigint + ${shift(9)}, ${ms(6)})
  ON CONFLICT (task_id) DO UPDATE SET agent_id = EXCLUDED.agent_id,
    ${keepUnless(7, 'phase', 'tdd_tasks')}, ${keepUnless(8, 'phase_event_id', 'tdd_tasks')},
    last_event_id = EXCLUDED.last_event_id, updated_at = EXCLUDED.updated_at`,
);

/**
 * Sends the statements that write a commit's events (`rows`: `EventRows.params`) and state changes, without
 * waiting for them: on a pipelined connection (postgres-open.ts) they travel together and cost one round trip.
 * Wait on them with `settled`. `numberedTo`: the last id numbered, the one `rows` were made with; the head must
 * be set or advanced before these run (see `shift`).
 */
export function sendRows(
  client: pg.PoolClient,
  rows: readonly unknown[][],
  changes: FoldedChanges,
  numberedTo: number,
): Promise<unknown>[] {
  const sent: Promise<unknown>[] = [];
  for (const params of rows) sent.push(client.query(insertEvents(params)));
  for (const change of changes.values()) {
    switch (change.kind) {
      case 'agent': {
        const r = change.row;
        sent.push(
          client.query(
            upsertAgent([r.agentId, r.agentType, r.status, r.statusEventId, r.lastEventId, r.updatedAt, numberedTo]),
          ),
        );
        break;
      }
      case 'workflow': {
        const { row: r, set: s } = change;
        sent.push(
          client.query(
            upsertWorkflow([
              r.workflowId,
              r.workflowType,
              r.status,
              r.currentStepId,
              r.startedAt,
              r.finishedAt,
              r.lifecycleEventId,
              r.lastEventId,
              r.updatedAt,
              s.workflowType,
              s.status,
              s.currentStepId,
              s.startedAt,
              s.finishedAt,
              s.lifecycleEventId,
              r.agentId,
              s.agentId,
              numberedTo,
            ]),
          ),
        );
        break;
      }
      case 'tddTask': {
        const { row: r, set: s } = change;
        sent.push(
          client.query(
            upsertTddTask([
              r.taskId,
              r.agentId,
              r.phase,
              r.phaseEventId,
              r.lastEventId,
              r.updatedAt,
              s.phase,
              s.phaseEventId,
              numberedTo,
            ]),
          ),
        );
        break;
      }
    }
  }
  return sent;
}

/**
 * Sends the end-of-commit writes: every touched agent in one statement, then the usage increments in one.
 * `numberedTo` as for `sendRows`.
 */
export function sendTouches(client: pg.PoolClient, changes: FoldedChanges, numberedTo: number): Promise<unknown>[] {
  const agentIds: string[] = [];
  const ids: number[] = [];
  const ats: number[] = [];
  const seenAts: number[] = [];
  for (const [agentId, { id, at, seenAt }] of changes.touches.entries()) {
    agentIds.push(agentId);
    ids.push(id);
    ats.push(at);
    seenAts.push(seenAt);
  }
  const sent: Promise<unknown>[] = [];
  if (agentIds.length > 0) sent.push(client.query(touchAgents([agentIds, ids, ats, seenAts, numberedTo])));
  const usage = sendUsage(client, changes.touches.usageRows(), upsertUsage, numberedTo);
  if (usage) sent.push(usage);
  return sent;
}

/**
 * Runs `send`, which sends statements without waiting for them, with the connection's socket corked: whatever it
 * sends leaves in one write (one system call here, one wake-up of the server's backend) instead of one per
 * statement.
 */
export function together<T>(client: pg.PoolClient, send: () => T): T {
  const socket = client.connection.stream;
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}

/**
 * Waits for every statement sent, and throws the first failure in the order they were sent: inside a
 * transaction, the statements after a failed one fail only because it aborted the transaction.
 */
export async function settled<T>(sent: readonly Promise<T>[]): Promise<T[]> {
  const outcomes = await Promise.allSettled(sent);
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<T>).value);
}

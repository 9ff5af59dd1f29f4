/**
 * The storage limit: better-sqlite3 inserting the same rows into the same schema (the real migrations, WAL,
 * the given durability as SQLite's own `synchronous` setting) with nothing else around it, on this schema (also
 * with each event's idempotency key as the Publisher makes it: `raw-batch-keys`; and with one row per transaction
 * in place of those keys, a design not built: `raw-batch-sequenced`) and on the schema before issue #21 (two more
 * indexes on `events`, a full key index, two more columns). Prints one JSON line per measurement.
 *
 * Usage: `raw-insert.ts durability singles [startRows] [batch-only]`. `startRows`: the rows the table holds when the
 * batched loop starts, filled before it and not timed. `batch-only`: the batched loop on this schema alone, as
 * bench/ingest.ts runs it beside each of its cases. An insert costs more as the table and its indexes grow (rows
 * 300,000–400,000 went in 7–9 % slower than the first 100,000, measured 2026-12-06), so the loop starts where
 * the server's cases do: on a table holding their warm-up's events (bench/ingest.ts).
 */
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../server/store/sqlite-db.js';
import { newKeyPrefix } from '../client/publisher.js';
import { benchEvent, sqliteRawInsert, sqliteRawInsertKeyed, sqliteRawRow, tempDir } from './shared.js';

const durability = (process.argv[2] ?? 'normal') as 'full' | 'normal';
const singles = Number(process.argv[3] ?? 20_000);
const startRows = Number(process.argv[4] ?? 0);
const batchOnly = process.argv[5] === 'batch-only';
if (!Number.isInteger(startRows) || startRows < 0)
  throw new Error(`startRows must be a whole number ≥ 0, not ${process.argv[4]}`);
if (startRows > 0 && startRows < singles)
  throw new Error(`the single-event loop's ${singles} rows would leave the table larger than startRows (${startRows})`);

function open(): Database.Database {
  const db = openDatabase(join(tempDir('switchboard-raw-'), 'raw.db'), durability).$client;
  // SQLite's own fsync in every COMMIT: what the engine alone costs at this durability.
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  return db;
}

/** The events table as it was before #21: indexes by agent and step, a key index with every row, two copies more. */
function schemaBefore(db: Database.Database): void {
  db.exec(`
    ALTER TABLE events ADD COLUMN workflow_id text;
    ALTER TABLE events ADD COLUMN task_id text;
    CREATE INDEX events_agent_id ON events (agent_id, id);
    CREATE INDEX events_step_id ON events (step_id, id);
    DROP INDEX events_owner_key_unique;
    CREATE UNIQUE INDEX events_owner_key_unique ON events (key_owner, key);`);
}

const row = (i: number) => sqliteRawRow(benchEvent(i), Date.now());

/** Rate and CPU per event (this process's: the engine, and making its rows) of one loop. */
const measure = (mode: string, count: number, run: () => void) => {
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  run();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const engineCpuPerEvent = (cpu.user + cpu.system) / count;
  process.stdout.write(`${JSON.stringify({ mode, count, seconds, perSecond: count / seconds, engineCpuPerEvent })}\n`);
};

/**
 * The loops on one table: `withSingles`, one transaction per event first; then, once the table holds `startRows`,
 * 100,000 events 1,000 a transaction. `keys`: `keyed`, the timed events each carry an idempotency key as the
 * Publisher makes them (`newKeyPrefix()`'s prefix and `:<n>`, n from 0) under one owner, into the unique index on
 * (`key_owner`, `key`): what the engine alone costs for the Publisher's exactly-once keys; `sequenced`, no key on the
 * events, instead one row per transaction in a table of its own, (owner, the Publisher's prefix, its first sequence
 * number, how many, the first id): the writes exactly-once would cost the engine if a Publisher's batch carried its
 * prefix and first sequence number and the store kept ranges, not keys (the one read per batch such a store adds is
 * not in this loop; docs/performance-history.md, "What stopped the goals, run by run", the thirty-third run).
 */
function rawLoops(
  db: Database.Database,
  suffix: string,
  withSingles: boolean,
  keys: 'none' | 'keyed' | 'sequenced' = 'none',
): void {
  const insert = db.prepare(sqliteRawInsert);
  const insertKeyed = db.prepare(sqliteRawInsertKeyed);
  const prefix = newKeyPrefix();
  const single = db.transaction((i: number) => insert.run(...row(i)));
  const batch = db.transaction((from: number) => {
    for (let k = 0; k < 1_000; k++) insert.run(...row(from + k));
  });
  const keyedBatch = db.transaction((from: number, n: number) => {
    for (let k = 0; k < 1_000; k++) insertKeyed.run(...row(from + k), `${prefix}:${n + k}`, 'bench');
  });
  if (keys === 'sequenced') {
    db.exec(`CREATE TABLE sequenced_batches (key_owner text NOT NULL, producer text NOT NULL, first_seq integer NOT NULL,
      count integer NOT NULL, first_id integer NOT NULL, PRIMARY KEY (key_owner, producer, first_seq))`);
  }
  const insertRange = db.prepare(
    keys === 'sequenced'
      ? 'INSERT INTO sequenced_batches (key_owner, producer, first_seq, count, first_id) VALUES (?, ?, ?, ?, ?)'
      : 'SELECT 1',
  );
  const sequencedBatch = db.transaction((from: number, n: number) => {
    let first = 0;
    for (let k = 0; k < 1_000; k++) {
      const { lastInsertRowid } = insert.run(...row(from + k));
      if (k === 0) first = Number(lastInsertRowid);
    }
    insertRange.run('bench', prefix, n, 1_000, first);
  });
  let rows = 0;
  if (withSingles) {
    measure(`raw-single${suffix}`, singles, () => {
      for (let i = 0; i < singles; i++) single(i);
    });
    rows = singles;
  }
  // Not timed: the table as large as the server's when its cases start.
  for (; rows + 1_000 <= startRows; rows += 1_000) batch(rows);
  for (; rows < startRows; rows++) single(rows);
  measure(`raw-batch${suffix}`, 100_000, () => {
    for (let i = 0; i < 100_000; i += 1_000) {
      if (keys === 'keyed') keyedBatch(rows + i, i);
      else if (keys === 'sequenced') sequencedBatch(rows + i, i);
      else batch(rows + i);
    }
  });
  db.close();
}

if (batchOnly) {
  rawLoops(open(), '', false);
} else {
  rawLoops(open(), '', true);
  rawLoops(open(), '-keys', false, 'keyed');
  rawLoops(open(), '-sequenced', false, 'sequenced');
  const before = open();
  schemaBefore(before);
  rawLoops(before, '-before', false);
}

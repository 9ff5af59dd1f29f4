/**
 * The PostgreSQL schema: the tables of drizzle/tables.ts built with PostgreSQL's column builders, for nodes that
 * share one database. Migrations in drizzle/pg-migrations are generated from this file by `npm run db:generate:pg`
 * and applied at start-up under an advisory lock.
 *
 * Ids are not a sequence: a PostgreSQL sequence hands out values that a rolled-back transaction never uses
 * (holes) and that commit out of order. The store takes them from the `head` row of `store_meta`, locked inside
 * the append transaction, so ids are contiguous and become visible in the order they were assigned. Times are
 * timestamptz to the millisecond; `received_at` stays epoch ms, as on SQLite.
 */
import { bigint, check, index, integer, pgTable, text, timestamp, uniqueIndex, primaryKey } from 'drizzle-orm/pg-core';
import { tddPhaseValues, workflowStatusValues } from '@switchboard/shared';
import { columnsOf, indexes, indexesOf, logEpochOneRow } from './tables.js';

const long = (name: string) => bigint(name, { mode: 'number' });

const columns = columnsOf({
  seq: (name) => long(name).primaryKey(),
  int: (name) => integer(name),
  long,
  at: (name) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' }),
  text: (name) => text(name),
  workflowStatus: (name) => text(name, { enum: workflowStatusValues }),
  tddPhase: (name) => text(name, { enum: tddPhaseValues }),
});
const indexFunctions = { index, uniqueIndex };

export const events = pgTable('events', columns.events, (t) => indexesOf(indexes.events, t, indexFunctions));
export const storeMeta = pgTable('store_meta', columns.storeMeta);
export const logEpoch = pgTable(
  'log_epoch',
  // The first node to open a schema writes the row; the time is the database's.
  { ...columns.logEpoch, createdAt: columns.logEpoch.createdAt.defaultNow() },
  (t) => [check(...logEpochOneRow(t.id))],
);
export const agents = pgTable('agents', columns.agents);
export const workflows = pgTable('workflows', columns.workflows, (t) =>
  indexesOf(indexes.workflows, t, indexFunctions),
);
export const tddTasks = pgTable('tdd_tasks', columns.tddTasks, (t) => indexesOf(indexes.tddTasks, t, indexFunctions));
export const usageTotals = pgTable('usage_totals', columns.usageTotals, (t) => [
  primaryKey({ columns: [t.scope, t.id] }),
  ...indexesOf(indexes.usageTotals, t, indexFunctions),
]);

/**
 * The SQLite schema: the tables of drizzle/tables.ts built with SQLite's column builders. Migrations in
 * drizzle/migrations are generated from this file by `npm run db:generate` and applied at start-up.
 *
 * `events.id` is INTEGER PRIMARY KEY AUTOINCREMENT: SQLite guarantees an id is never handed out twice, even after
 * retention deletes the newest rows. Times are INTEGER epoch milliseconds.
 */
import { check, index, integer, sqliteTable, text, uniqueIndex, primaryKey } from 'drizzle-orm/sqlite-core';
import { tddPhaseValues, workflowStatusValues } from '@switchboard/shared';
import { columnsOf, indexes, indexesOf, logEpochOneRow } from './tables.js';

const columns = columnsOf({
  seq: (name) => integer(name).primaryKey({ autoIncrement: true }),
  int: (name) => integer(name),
  long: (name) => integer(name),
  at: (name) => integer(name, { mode: 'timestamp_ms' }),
  text: (name) => text(name),
  workflowStatus: (name) => text(name, { enum: workflowStatusValues }),
  tddPhase: (name) => text(name, { enum: tddPhaseValues }),
});
const indexFunctions = { index, uniqueIndex };

export const events = sqliteTable('events', columns.events, (t) => indexesOf(indexes.events, t, indexFunctions));
export const storeMeta = sqliteTable('store_meta', columns.storeMeta);
export const logEpoch = sqliteTable('log_epoch', columns.logEpoch, (t) => [check(...logEpochOneRow(t.id))]);
export const agents = sqliteTable('agents', columns.agents);
export const workflows = sqliteTable('workflows', columns.workflows, (t) =>
  indexesOf(indexes.workflows, t, indexFunctions),
);
export const tddTasks = sqliteTable('tdd_tasks', columns.tddTasks, (t) =>
  indexesOf(indexes.tddTasks, t, indexFunctions),
);
export const usageTotals = sqliteTable('usage_totals', columns.usageTotals, (t) => [
  primaryKey({ columns: [t.scope, t.id] }),
  ...indexesOf(indexes.usageTotals, t, indexFunctions),
]);

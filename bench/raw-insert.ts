/**
 * The storage limit: better-sqlite3 inserting the same rows into the same schema (the real migrations, WAL,
 * the given durability) with nothing else around it. Prints one JSON line per measurement.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../server/store/sqlite-db.js';
import { topicOf } from '@switchboard/shared';
import { benchEvent } from './shared.js';

const durability = (process.argv[2] ?? 'normal') as 'full' | 'normal';
const singles = Number(process.argv[3] ?? 20_000);
const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'switchboard-raw-')), 'raw.db'), durability).$client;
const insert = db.prepare(
  'INSERT INTO events (type, topic, timestamp, source, correlation_id, agent_id, data, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
);
const row = (i: number) => {
  const e = benchEvent(i);
  return [
    e.type,
    topicOf(e),
    Date.now(),
    e.source ?? null,
    e.correlationId ?? null,
    `bench-agent-${i % 100}`,
    JSON.stringify(e.data),
    Date.now(),
  ];
};
const measure = (mode: string, count: number, run: () => void) => {
  const started = performance.now();
  run();
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ mode, count, seconds, perSecond: count / seconds })}\n`);
};
const single = db.transaction((i: number) => insert.run(...row(i)));
const batch = db.transaction((from: number) => {
  for (let k = 0; k < 1_000; k++) insert.run(...row(from + k));
});
measure('raw-single', singles, () => {
  for (let i = 0; i < singles; i++) single(i);
});
measure('raw-batch', 100_000, () => {
  for (let i = 0; i < 100_000; i += 1_000) batch(i);
});
db.close();

/**
 * How long a group commit holds the event loop at durability `full`, and how long until it is on disk: SQLite's
 * own `synchronous = FULL` (the fsync inside COMMIT, on the loop) against the store's (NORMAL, then the WAL
 * fsync'd on the thread pool). 64 single appends per group, as 64 pipelined `publish` calls make, 300 groups.
 * Usage: `npx tsx bench/commit-hold.ts`. Prints one JSON line per way: loop held and until durable, p50 / p99 ms.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../server/store/sqlite-db.js';
import { createSqliteStore } from '../server/store/sqlite.js';
import { benchEvent } from './shared.js';

const groups = 300;
const perGroup = 64;
const at = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

async function measure(way: 'sqlite-full' | 'store-full'): Promise<void> {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'switchboard-hold-')), 'hold.db'), 'full');
  // SQLite's own FULL: the fsync inside COMMIT. The store then finds no WAL of its own to sync.
  if (way === 'sqlite-full') db.$client.pragma('synchronous = FULL');
  const store = createSqliteStore(db, undefined, way === 'sqlite-full' ? { fsync: () => Promise.resolve() } : {});
  const held: number[] = [];
  const durable: number[] = [];
  let n = 0;
  for (let g = 0; g < groups; g++) {
    const batches = Array.from({ length: perGroup }, () => ({ events: [benchEvent(n++)], keyOwner: '' }));
    const started = performance.now();
    const done = store.appendGroup(batches);
    held.push(performance.now() - started);
    await done;
    durable.push(performance.now() - started);
  }
  await store.close();
  held.sort((a, b) => a - b);
  durable.sort((a, b) => a - b);
  const ms = (x: number) => Number(x.toFixed(2));
  process.stdout.write(
    `${JSON.stringify({ way, loopHeld: { p50: ms(at(held, 0.5)), p99: ms(at(held, 0.99)) }, durable: { p50: ms(at(durable, 0.5)), p99: ms(at(durable, 0.99)) } })}\n`,
  );
}

await measure('sqlite-full');
await measure('store-full');

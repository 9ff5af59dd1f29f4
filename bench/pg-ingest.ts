/**
 * PostgreSQL ingest: the store's append path (single events one after another, concurrent singles through the
 * hub's group commit, on one hub and on two as two nodes would, and 1,000-event batches) next to raw `pg` inserts
 * on the same schema with nothing around them: one INSERT per event, 1,000 awaited INSERTs per transaction, one
 * multi-row INSERT of 1,000, one INSERT … SELECT FROM unnest(…) of 1,000, and one INSERT … SELECT FROM
 * jsonb_array_elements(…) of the same rows as one JSON text (COPY needs a package the project does not ship). Runs in a schema of its own on the given database, dropped at the end. Prints one JSON line per
 * measurement.
 * Usage: `tsx bench/pg-ingest.ts [postgres://…] [singles]`; `npm run bench -- --only ingest` runs it.
 */
import pg from 'pg';
import { createMemoryBus } from '../server/bus/memory.js';
import { createHub } from '../server/core/hub.js';
import { createPostgresStore } from '../server/store/postgres.js';
import { openPostgres, quoteIdent } from '../server/store/postgres-open.js';
import { topicOf } from '@switchboard/shared';
import { checkpoint, postgresCpuMicros } from './cluster.js';
import { benchEvent, pgRawColumns, pgRawJsonInsert } from './shared.js';

const url = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/test';
const singles = Number(process.argv[3] ?? 5_000);
const batchTotal = singles * 10;
const schema = `sb_bench_${process.pid}`;

/**
 * Each case's rate, with PostgreSQL's own CPU per event (its processes, from /proc): the raw engine's figure. Each
 * starts after a checkpoint, as every timed PostgreSQL case of the bench does.
 */
const measure = async (mode: string, count: number, run: () => Promise<void>) => {
  await checkpoint();
  const engineBefore = postgresCpuMicros();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const engineCpuPerEvent = (postgresCpuMicros() - engineBefore) / count;
  process.stdout.write(`${JSON.stringify({ mode, count, seconds, perSecond: count / seconds, engineCpuPerEvent })}\n`);
};

const db = await openPostgres({ url, schema, poolSize: 10 });
const store = createPostgresStore(db);
const raw = new pg.Client({ connectionString: url, options: `-c search_path=${quoteIdent(schema)}` });
await raw.connect();
try {
  // Raw: one INSERT per event with its own id, no counter, no keys, no state: the floor for this schema.
  let rawId = 1_000_000_000;
  const insert = (i: number) => {
    const e = benchEvent(i);
    return raw.query(
      `INSERT INTO events (id, type, topic, timestamp, source, correlation_id, agent_id, data, received_at)
       VALUES ($1, $2, $3, now(), $4, $5, $6, $7, $8)`,
      [
        rawId++,
        e.type,
        topicOf(e),
        e.source,
        e.correlationId,
        `bench-agent-${i % 100}`,
        JSON.stringify(e.data),
        Date.now(),
      ],
    );
  };
  await measure('raw-single', singles, async () => {
    for (let i = 0; i < singles; i++) await insert(i);
  });
  await measure('raw-batch', batchTotal, async () => {
    for (let i = 0; i < batchTotal; i += 1_000) {
      await raw.query('BEGIN');
      for (let k = 0; k < 1_000; k++) await insert(i + k);
      await raw.query('COMMIT');
    }
  });
  const columns = pgRawColumns;
  /** One event's values, in `columns` order. */
  const values = (i: number): unknown[] => {
    const e = benchEvent(i);
    const at = new Date();
    return [
      rawId++,
      e.type,
      topicOf(e),
      at,
      e.source,
      e.correlationId,
      `bench-agent-${i % 100}`,
      JSON.stringify(e.data),
      at.getTime(),
    ];
  };
  await measure('raw-multirow', batchTotal, async () => {
    const placeholders = Array.from(
      { length: 1_000 },
      (_, row) => `(${columns.map((_, c) => `$${row * columns.length + c + 1}`).join(', ')})`,
    ).join(', ');
    const text = `INSERT INTO events (${columns.join(', ')}) VALUES ${placeholders}`;
    for (let i = 0; i < batchTotal; i += 1_000) {
      await raw.query(text, Array.from({ length: 1_000 }, (_, k) => values(i + k)).flat());
    }
  });
  await measure('raw-unnest', batchTotal, async () => {
    const text = `INSERT INTO events (${columns.join(', ')})
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                           $7::text[], $8::text[], $9::bigint[])`;
    for (let i = 0; i < batchTotal; i += 1_000) {
      const rows = Array.from({ length: 1_000 }, (_, k) => values(i + k));
      await raw.query(
        text,
        columns.map((_, c) => rows.map((row) => row[c])),
      );
    }
  });
  await measure('raw-json', batchTotal, async () => {
    for (let i = 0; i < batchTotal; i += 1_000) {
      const rows = Array.from({ length: 1_000 }, (_, k) => values(i + k));
      for (const row of rows) row[3] = (row[3] as Date).getTime();
      await raw.query(pgRawJsonInsert, [JSON.stringify(rows)]);
    }
  });
  await measure('store-single', singles, async () => {
    for (let i = 0; i < singles; i++) await store.append([benchEvent(i)]);
  });
  const hub = createHub({ store, bus: createMemoryBus() });
  /** 64 publishes in flight at a time, as many connections would send them: group commit joins them. */
  const concurrentSingles = async (into: typeof hub) => {
    const inFlight = 64;
    for (let i = 0; i < singles; i += inFlight) {
      await Promise.all(
        Array.from({ length: Math.min(inFlight, singles - i) }, (_, k) => into.append([benchEvent(i + k)])),
      );
    }
  };
  await measure('hub-concurrent-singles', singles, () => concurrentSingles(hub));
  // Two hubs on pools of their own, as two nodes: every commit of either holds the head row until it is durable,
  // so the sum is bound by that row, not by the nodes (no WebSocket or tRPC here to share the CPU with).
  const other = createPostgresStore(await openPostgres({ url, schema, poolSize: 10 }));
  try {
    const otherHub = createHub({ store: other, bus: createMemoryBus() });
    await measure('two-hubs-concurrent-singles', singles * 2, async () => {
      await Promise.all([concurrentSingles(hub), concurrentSingles(otherHub)]);
    });
  } finally {
    await other.close();
  }
  await measure('store-batch', batchTotal, async () => {
    for (let i = 0; i < batchTotal; i += 1_000) {
      await store.append(Array.from({ length: 1_000 }, (_, k) => benchEvent(i + k)));
    }
  });
} finally {
  await raw.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
  await raw.end();
  await store.close();
}

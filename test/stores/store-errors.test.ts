/**
 * Which failures mean "the database is away" (retryable, the store marked down) and which are bugs (answered as
 * INTERNAL_SERVER_ERROR, the store left up, and only the batch that hit it refused). The bug is a fault injected
 * on purpose into a real store: a topic rule (the catalogue's plug point) that throws a plain Error for one agent.
 */
import { Writable } from 'node:stream';
import { TRPCClientError } from '@trpc/client';
import Database from 'better-sqlite3';
import { builtinCatalogue, healthSchema } from '@switchboard/shared';
import { describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../server/bus/memory.js';
import { createHub } from '../../server/core/hub.js';
import { createPostgresStore } from '../../server/store/postgres.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import type { EventStore } from '../../server/core/store.js';
import { StoreUnavailableError } from '../../server/core/unavailable.js';
import { isConnectionError } from '../../server/store/connection-errors.js';
import { describeWith, pgSchema, pgUrl } from '../engines.js';
import { createLogger } from '../../server/ops/log.js';
import type { AppRouter } from '../../server/routers/_app.js';
import { agentLog } from '../fixtures.js';
import { connect, startTestServer, tempDir } from '../harness.js';

/** A topic rule with a bug: it throws a plain Error (no code) for agent `bug`. */
const faultyCatalogue = {
  topicOf(event: { type: string; data: unknown }): string {
    if ((event.data as { agentId?: unknown }).agentId === 'bug') throw new Error('topic rule failed');
    return builtinCatalogue.topicOf(event);
  },
};

const coded = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('isConnectionError', () => {
  it('counts connection classes only', () => {
    for (const error of [
      coded('08006'),
      coded('08001'),
      coded('57P01'),
      coded('57P02'),
      coded('57P03'),
      coded('ECONNREFUSED'),
      coded('ECONNRESET'),
      coded('EPIPE'),
      coded('ETIMEDOUT'),
      coded('EHOSTUNREACH'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated'),
      new Error('Connection terminated due to connection timeout'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Client has encountered a connection error and is not queryable'),
      coded('SQLITE_BUSY', 'database is locked'),
      coded('SQLITE_BUSY_SNAPSHOT'),
      coded('SQLITE_IOERR_WRITE', 'disk I/O error'),
    ]) {
      expect([error.message, (error as { code?: string }).code, isConnectionError(error)]).toEqual([
        error.message,
        (error as { code?: string }).code,
        true,
      ]);
    }
  });

  it('counts a plain Error, a refused query and anything else as not a lost connection', () => {
    for (const error of [
      new Error('topic rule failed'),
      new TypeError("Cannot read properties of undefined (reading 'id')"),
      coded('23505', 'duplicate key value violates unique constraint'),
      coded('22P02', 'invalid input syntax'),
      coded('57014', 'canceling statement due to statement timeout'),
      coded('EINVAL'),
      coded('ENOENT'),
      coded('SQLITE_CONSTRAINT_UNIQUE'),
      coded('SQLITE_ERROR'),
      'a string',
      undefined,
    ]) {
      expect([String(error), isConnectionError(error)]).toEqual([String(error), false]);
    }
  });
});

/** Two batches committed in one group: the good one is stored, the one the bug hit is refused on its own. */
async function expectOnlyTheFaultyBatchFails(store: EventStore): Promise<void> {
  const hub = createHub({ store, bus: createMemoryBus() });
  // Queued in the same turn, so both go into one group commit.
  const good = hub.append([agentLog('a-1', 'one'), agentLog('a-1', 'two')]);
  const faulty = hub.append([agentLog('a-2', 'three'), agentLog('bug', 'four')]);
  const after = hub.append([agentLog('a-3', 'five')]);
  const [g, f, a] = await Promise.allSettled([good, faulty, after]);
  expect(g).toMatchObject({ status: 'fulfilled', value: [{ id: '1' }, { id: '2' }] });
  expect(f).toMatchObject({ status: 'rejected', reason: { message: 'topic rule failed' } });
  expect(f.status === 'rejected' && f.reason instanceof StoreUnavailableError).toBe(false);
  expect(a).toMatchObject({ status: 'fulfilled', value: [{ id: '3' }] });
  expect(await store.headId()).toBe(3);
  const stored = await store.readAfter(0, {}, 10);
  expect(stored.map((e) => [e.id, (e.data as { message: string }).message])).toEqual([
    ['1', 'one'],
    ['2', 'two'],
    ['3', 'five'],
  ]);
}

describe('a bug in one batch of a group commit', () => {
  it('SQLite: refuses that batch alone', async () => {
    const store = createSqliteStore(openDatabase(':memory:'), faultyCatalogue);
    try {
      await expectOnlyTheFaultyBatchFails(store);
    } finally {
      await store.close();
    }
  });
});

describeWith(['postgres'], 'a bug in one batch of a PostgreSQL group commit', () => {
  it('refuses that batch alone, as a plain error, and leaves the store up', async () => {
    await using schema = pgSchema();
    const health: boolean[] = [];
    const store = createPostgresStore(await schema.open(), {
      catalogue: faultyCatalogue,
      onHealth: (ok) => health.push(ok),
    });
    try {
      await expectOnlyTheFaultyBatchFails(store);
      expect(health).not.toContain(false);
    } finally {
      await store.close();
    }
  });
});

describe('a SQLite file another process holds locked', () => {
  it('fails an append as retryable store_unavailable, and it succeeds once the lock is gone', async () => {
    using dir = tempDir();
    const file = dir.file('locked.db');
    const db = openDatabase(file);
    // A short busy timeout, so the test does not wait the real five seconds.
    db.$client.pragma('busy_timeout = 50');
    const store = createSqliteStore(db);
    // Another connection (as another process would) holds the write lock.
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      const failure = createHub({ store, bus: createMemoryBus() }).append([agentLog('a-1', 'one')]);
      await expect(failure).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(failure).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      other.exec('ROLLBACK');
      await expect(store.append([agentLog('a-1', 'one')])).resolves.toMatchObject({ stored: [{ id: '1' }] });
    } finally {
      other.close();
      await store.close();
    }
  });
});

describeWith(['postgres'], 'a bug in a publish on a PostgreSQL server', () => {
  it('is answered INTERNAL_SERVER_ERROR (500), logged at error, and the store stays up', async () => {
    await using schema = pgSchema();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    // The real catalogue, but with the faulty topic rule (which only the store asks, for a token without scopes).
    const catalogue = Object.assign(Object.create(builtinCatalogue) as typeof builtinCatalogue, faultyCatalogue);
    await using server = await startTestServer({
      db: pgUrl,
      pgSchema: schema.schema,
      catalogue,
      logger: createLogger({ logLevel: 'error', logFormat: 'json' }, sink),
    });
    await using client = connect(server.url);
    const error: unknown = await client.publish.mutate(agentLog('bug', 'boom')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      httpStatus: 500,
    });
    expect(lines.filter((line) => line.includes('"msg":"procedure failed"'))).toHaveLength(1);
    const health = healthSchema.parse(await (await fetch(`${server.url}/healthz`)).json());
    expect(health).toMatchObject({ status: 'ok', store: { state: 'up' } });
    expect((await client.publish.mutate(agentLog('a-1', 'fine'))).id).toBe('1');
  });
});

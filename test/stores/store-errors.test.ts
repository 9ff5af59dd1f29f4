/**
 * Which failures mean "the database is away" (retryable, the store marked down) and which are bugs (answered as
 * INTERNAL_SERVER_ERROR, the store left up, and only the batch that hit it refused). The bug is a fault injected
 * on purpose into a real store: a topic rule (the catalogue's plug point) that throws a plain Error for one agent.
 */
import { Writable } from 'node:stream';
import { TRPCClientError } from '@trpc/client';
import Database from 'better-sqlite3';
import { builtinCatalogue, healthSchema, limits, type EventEnvelope } from '@switchboard/shared';
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

/**
 * The real PostgreSQL store, watched: each group's label (its first event's message) as the hub prepared it (or
 * `label: threw`), the groups that went through `appendGroup` whole, and for each prepared commit, when it went to
 * the store: how many events the bus had been given, and which appends had been answered.
 */
function watched(real: EventStore, published: readonly number[]) {
  const prepared: (string | undefined)[] = [];
  const sentWhen: { label: string | undefined; published: number; answered: string[] }[] = [];
  const answered: string[] = [];
  let wholeGroups = 0;
  /** Called once, as the first group goes to the store: what it appends arrives while that commit is in flight. */
  let whileFirstInFlight: (() => void) | undefined;
  const labelOf = (batches: readonly { events: readonly { data: unknown }[] }[]) =>
    (batches[0]?.events[0]?.data as { message?: string } | undefined)?.message;
  const inFlight = () => {
    whileFirstInFlight?.();
    whileFirstInFlight = undefined;
  };
  const store = new Proxy(real, {
    get(target, name, receiver) {
      if (name === 'appendGroup')
        return (...args: Parameters<EventStore['appendGroup']>) => {
          wholeGroups++;
          const outcomes = target.appendGroup(...args);
          inFlight();
          return outcomes;
        };
      if (name === 'prepareGroup')
        return (...args: Parameters<NonNullable<EventStore['prepareGroup']>>) => {
          const label = labelOf(args[0]);
          try {
            const commit = target.prepareGroup?.(...args);
            prepared.push(commit ? label : undefined);
            return (
              commit &&
              ((onOrdered?: (lastId: number) => void) => {
                sentWhen.push({ label, published: published.length, answered: [...answered] });
                const outcomes = commit(onOrdered);
                inFlight();
                return outcomes;
              })
            );
          } catch (error) {
            prepared.push(`${String(label)}: threw`);
            throw error;
          }
        };
      return Reflect.get(target, name, receiver) as unknown;
    },
  });
  return {
    store,
    prepared,
    sentWhen,
    wholeGroups: () => wholeGroups,
    /** An append, recorded under `label` in `answered` once it is answered (stored or refused). */
    track<T>(label: string, appended: Promise<T>): Promise<T> {
      return appended.finally(() => answered.push(label));
    },
    whileFirstInFlight(f: () => void) {
      whileFirstInFlight = f;
    },
  };
}

const full = (label: string, bug = false) =>
  Array.from({ length: limits.batchSize }, (_, i) =>
    agentLog(bug && i === 500 ? 'bug' : 'a-1', i === 0 ? label : `${label} ${i}`),
  );
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const idsOf = (outcome: PromiseSettledResult<{ id: string }[]> | undefined) =>
  outcome?.status === 'fulfilled' ? outcome.value.map((e) => Number(e.id)) : [];

describeWith(['postgres'], 'full batches that arrive while a PostgreSQL commit is in flight', () => {
  it('are prepared meanwhile, sent once the commit ahead has its place, and stored in order; a bug in one still refuses that batch alone', async () => {
    await using schema = pgSchema();
    const real = createPostgresStore(await schema.open(), { catalogue: faultyCatalogue });
    const published: number[] = [];
    const watch = watched(real, published);
    const bus = createMemoryBus();
    bus.subscribe((events) => published.push(...events.map((e) => Number(e.id))));
    const hub = createHub({ store: watch.store, bus });
    try {
      let behind: Promise<EventEnvelope[]>[] = [];
      watch.whileFirstInFlight(() => {
        behind = [
          watch.track('second', hub.append(full('second'))),
          watch.track('faulty', hub.append(full('faulty', true))),
          watch.track('last', hub.append([agentLog('a-2', 'last')])),
        ];
      });
      const [f] = await Promise.allSettled([watch.track('first', hub.append(full('first')))]);
      const [s, b, l] = await Promise.allSettled(behind);
      expect(idsOf(f)).toEqual(range(1, 1_000));
      expect(idsOf(s)).toEqual(range(1_001, 1_000));
      expect(b).toMatchObject({ status: 'rejected', reason: { message: 'topic rule failed' } });
      expect(idsOf(l)).toEqual([2_001]);
      // Every group but the faulty one was prepared (that one could not be: its bug) and went whole through
      // appendGroup and its retry.
      expect(watch.prepared).toEqual(['first', 'second', 'faulty: threw', 'last']);
      expect(watch.wholeGroups()).toBe(1);
      // The second went to the store once the first held the head row: before the first was answered or its
      // events published. The last went alone once the faulty group ahead of it was answered.
      expect(watch.sentWhen).toEqual([
        { label: 'first', published: 0, answered: [] },
        { label: 'second', published: 0, answered: [] },
        { label: 'last', published: 2_000, answered: ['first', 'second', 'faulty'] },
      ]);
      expect(published).toEqual(range(1, 2_001));
      const stored = await real.readAfter(0, {}, 3_000);
      expect(stored.map((e) => Number(e.id))).toEqual(range(1, 2_001));
      expect((stored[1_000]?.data as { message: string }).message).toBe('second');
    } finally {
      await real.close();
    }
  });

  it('go to the bus in id order when the commit ahead fails, and its retry stores after them', async () => {
    await using schema = pgSchema();
    const real = createPostgresStore(await schema.open());
    const published: number[][] = [];
    const watch = watched(real, []);
    const bus = createMemoryBus();
    bus.subscribe((events) => published.push(events.map((e) => Number(e.id))));
    const hub = createHub({ store: watch.store, bus });
    try {
      let second: Promise<EventEnvelope[]> | undefined;
      watch.whileFirstInFlight(() => {
        second = watch.track('second', hub.append(full('second')));
      });
      // Connections open beforehand, as a running node has them: the second goes out at once.
      await Promise.all(range(1, 3).map(() => real.headId()));
      // A fault injected on purpose past validation: PostgreSQL's text holds no U+0000, so the first group's last
      // statement fails (its first ones ran, the head row taken and the second on its way by then), and the group
      // is done again batch by batch, refusing the faulty one alone, once the second has committed.
      const first = full('first').slice(0, 999);
      const faulty = [{ ...agentLog('a-1', 'faulty'), source: 'nul\u0000' }];
      const [f, b] = await Promise.allSettled([
        watch.track('first', hub.append(first)),
        watch.track('faulty', hub.append(faulty)),
      ]);
      if (!second) throw new Error('the second was not appended while the first was in flight');
      const [s] = await Promise.allSettled([second]);
      expect(watch.prepared).toEqual(['first', 'second']);
      expect(watch.sentWhen.map(({ label, answered }) => ({ label, answered }))).toEqual([
        { label: 'first', answered: [] },
        { label: 'second', answered: [] },
      ]);
      // The second took the head row when the first's attempt let go of it; the first's retry came after.
      expect(idsOf(s)).toEqual(range(1, 1_000));
      expect(idsOf(f)).toEqual(range(1_001, 999));
      expect(b).toMatchObject({ status: 'rejected' });
      // One publish of both, in id order: the bus never sees an id go back.
      expect(published).toEqual([range(1, 1_999)]);
      const stored = await real.readAfter(0, {}, 3_000);
      expect(stored.map((e) => Number(e.id))).toEqual(range(1, 1_999));
    } finally {
      await real.close();
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

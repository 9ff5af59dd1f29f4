/**
 * The SQLite store in the process around it, on real migrations (a file or `:memory:`): the file's settings,
 * group commit through the hub, history pages through `createCaller`, and streams. What every store must do is
 * specified once, for SQLite and PostgreSQL alike, in store-contract.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { createMemoryBus } from '../../server/bus/memory.js';
import { openDatabase, walToSync } from '../../server/store/sqlite-db.js';
import { createHub } from '../../server/core/hub.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { backstopPages, Checkpointer } from '../../server/store/sqlite-checkpointer.js';
import type { EventStore } from '../../server/core/store.js';
import { limits, publishInputSchema, type PublishInput } from '@switchboard/shared';
import { agentStatus, workflowStarted } from '../fixtures.js';
import { createTestHub, drain, tempDir } from '../harness.js';

describe('migrations', () => {
  it('creates the schema on a new file and reopens it without change', () => {
    using dir = tempDir();
    const path = dir.file('nested/folder/switchboard.db');
    openDatabase(path).$client.close();
    const db = openDatabase(path);
    const tables = db.$client
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['agents', 'events', 'tdd_tasks', 'workflows']));
    expect(db.$client.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.$client.pragma('foreign_keys', { simple: true })).toBe(1);
    db.$client.close();
  });
});

describe('group commit', () => {
  it('stores concurrent appends in one commit, each all or nothing on its own, in order', async () => {
    // A fault injected on purpose: a trigger refuses any row whose source is 'explode'.
    const db = openDatabase(':memory:');
    db.$client.exec(
      "CREATE TRIGGER explode BEFORE INSERT ON events WHEN NEW.source = 'explode' BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
    );
    const sqlite = createSqliteStore(db);
    const groups: number[] = [];
    // The store is a class instance: its methods live on the prototype, so wrap it rather than spread it.
    const store: EventStore = Object.assign(Object.create(sqlite) as EventStore, {
      appendGroup: (batches: Parameters<EventStore['appendGroup']>[0]) => {
        groups.push(batches.length);
        return sqlite.appendGroup(batches);
      },
    });
    const bus = createMemoryBus();
    const published: string[] = [];
    bus.subscribe((envelopes) => {
      for (const e of envelopes) published.push(e.id);
    });
    const hub = createHub({ store, bus });
    const valid = (events: PublishInput[]) => events.map((e) => publishInputSchema.parse(e));

    const results = await Promise.allSettled([
      hub.append(valid([agentStatus('a-1'), agentStatus('a-2')])),
      hub.append(valid([agentStatus('a-3'), { ...workflowStarted('wf-1'), source: 'explode' }])),
      hub.append(valid([workflowStarted('wf-2')])),
    ]);
    expect(groups).toEqual([3]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { message: 'injected fault' } });
    // The failed batch left nothing behind, not even a used id: the others are numbered without a gap.
    const stored = await store.readAfter(0, {}, 10);
    expect(stored.map((e) => [e.id, e.topic])).toEqual([
      ['1', 'agent:a-1'],
      ['2', 'agent:a-2'],
      ['3', 'workflow:wf-2'],
    ]);
    expect(published).toEqual(['1', '2', '3']);
    expect((await store.agents()).map((e) => e.data.agentId)).toEqual(['a-1', 'a-2']);
    await hub.drained();
    await store.close();
  });

  it('keeps full batches apart: a group holds one full batch of events at most, answered before the next is stored', async () => {
    const sqlite = createSqliteStore(openDatabase(':memory:'));
    const order: string[] = [];
    const store: EventStore = Object.assign(Object.create(sqlite) as EventStore, {
      appendGroup: (batches: Parameters<EventStore['appendGroup']>[0]) => {
        order.push(`group of ${batches.map((b) => b.events.length).join(' + ')}`);
        return sqlite.appendGroup(batches);
      },
    });
    const hub = createHub({ store, bus: createMemoryBus() });
    const batch = (from: number, size: number) =>
      Array.from({ length: size }, (_, i) => publishInputSchema.parse(agentStatus(`a-${from + i}`)));
    const answered = (name: string) => (envelopes: unknown[]) => {
      order.push(`${name} answered (${envelopes.length})`);
    };
    // Two full batches arriving together: two commits, and the first is answered before the second is stored.
    const full = limits.batchSize;
    await Promise.all([
      hub.append(batch(0, full)).then(answered('first')),
      hub.append(batch(full, full)).then(answered('second')),
    ]);
    expect(order).toEqual([
      `group of ${full}`,
      `first answered (${full})`,
      `group of ${full}`,
      `second answered (${full})`,
    ]);
    // Smaller batches still share a commit while they fit in one full batch's worth.
    order.length = 0;
    const part = Math.floor(full * 0.4);
    await Promise.all([0, 1, 2].map((k) => hub.append(batch(2 * full + k * part, part))));
    expect(order).toEqual([`group of ${part} + ${part}`, `group of ${part}`]);
    // A larger batch (an OTLP export's records can be one) goes alone, and what follows it waits its turn.
    order.length = 0;
    const base = 2 * full + 3 * part;
    await Promise.all([hub.append(batch(base, full + part)), hub.append(batch(base + full + part, 1))]);
    expect(order).toEqual([`group of ${full + part}`, 'group of 1']);
    expect(await store.headId()).toBe(base + full + part + 1);
    await hub.drained();
    await store.close();
  });

  it('settles every append of a group when a bus listener throws, and the other listeners still get every event', async () => {
    const store = createSqliteStore(openDatabase(':memory:'));
    const bus = createMemoryBus();
    const before: string[] = [];
    const after: string[] = [];
    bus.subscribe((envelopes) => {
      for (const e of envelopes) before.push(e.id);
    });
    bus.subscribe(() => {
      throw new Error('listener fault');
    });
    bus.subscribe((envelopes) => {
      for (const e of envelopes) after.push(e.id);
    });
    const reported: unknown[] = [];
    const hub = createHub({ store, bus, onListenerError: (error) => reported.push(error) });
    // A subscriber whose sink throws on its first live event fails alone.
    const broken: unknown[] = [];
    hub.open(
      { filter: {} },
      {
        push: () => {
          throw new Error('sink fault');
        },
        fail: (error) => broken.push(error),
      },
    );
    // A live subscriber on the hub's own dispatcher, which must not miss the second batch either.
    const live: string[] = [];
    hub.open(
      { filter: {}, lastEventId: '0' },
      {
        push: (item) => live.push(item.id) > 0,
        fail: (error) => {
          throw error;
        },
      },
    );
    const outcomes: string[] = [];
    const appends = [[agentStatus('a-1')], [agentStatus('a-2'), agentStatus('a-3')]].map((events, i) =>
      hub.append(events.map((e) => publishInputSchema.parse(e))).then(
        (envelopes) => outcomes.push(`${i} stored ${envelopes.map((e) => e.id).join(',')}`),
        (error: unknown) => outcomes.push(`${i} refused ${String(error)}`),
      ),
    );
    await vi.waitFor(
      () => {
        expect(outcomes.sort()).toEqual(['0 stored 1', '1 stored 2,3']);
      },
      { timeout: 2_000, interval: 5 },
    );
    await Promise.all(appends);
    expect(before).toEqual(['1', '2', '3']);
    expect(after).toEqual(['1', '2', '3']);
    expect(live).toEqual(['1', '2', '3']);
    expect(broken).toEqual([new Error('sink fault')]);
    // Both appends are one group, published as one message: the fault is reported once.
    expect(reported).toEqual([new Error('listener fault')]);
    await hub.drained();
    await store.close();
  });
});

describe('history', () => {
  it('pages through filtered events with a cursor', async () => {
    await using t = createTestHub();
    const events = Array.from({ length: 250 }, (_, i) =>
      i % 2 ? agentStatus(`a-${i % 5}`) : workflowStarted(`wf-${i}`),
    );
    await t.caller.publishBatch(events);
    const ids: string[] = [];
    let after = '0';
    for (let page = 0; page < 10; page++) {
      const res = await t.caller.history({ after, limit: 50, types: ['agent.status'] });
      ids.push(...res.events.map((e) => e.id));
      after = res.nextCursor;
      if (!res.hasMore) break;
    }
    expect(ids).toHaveLength(125);
    expect(ids.map(Number)).toEqual([...ids.map(Number)].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(125);
  });

  it('pages backward from the newest event with order desc, between two cursors', async () => {
    await using t = createTestHub();
    await t.caller.publishBatch(Array.from({ length: 30 }, (_, i) => agentStatus(`a-${i % 3}`)));
    const first = await t.caller.history({ order: 'desc', limit: 12 });
    expect(first.events.map((e) => Number(e.id))).toEqual(Array.from({ length: 12 }, (_, i) => 30 - i));
    expect(first).toMatchObject({ nextCursor: `19@${t.hub.epoch}`, hasMore: true });
    const ids = first.events.map((e) => e.id);
    for (let before = first.nextCursor, more = first.hasMore; more;) {
      const page = await t.caller.history({ order: 'desc', before, limit: 12 });
      ids.push(...page.events.map((e) => e.id));
      before = page.nextCursor;
      more = page.hasMore;
    }
    expect(ids.map(Number)).toEqual(Array.from({ length: 30 }, (_, i) => 30 - i));
    // Both bounds apply in both orders, and the filters with them.
    const window = { after: '10', before: '15' };
    expect((await t.caller.history({ ...window, order: 'desc' })).events.map((e) => e.id)).toEqual([
      '14',
      '13',
      '12',
      '11',
    ]);
    expect((await t.caller.history(window)).events.map((e) => e.id)).toEqual(['11', '12', '13', '14']);
    const agentOne = await t.caller.history({ ...window, order: 'desc', topics: ['agent:a-1'] });
    expect(agentOne.events.map((e) => e.id)).toEqual(['14', '11']);
    expect(await t.caller.history({ order: 'desc', before: '1' })).toMatchObject({ events: [], hasMore: false });
  });
});

describe('streams (hub level)', () => {
  it('starts agentStatus with the current state, then goes live', async () => {
    await using t = createTestHub();
    await t.caller.publishBatch([
      agentStatus('a-1', 'idle'),
      agentStatus('a-2', 'busy'),
      agentStatus('a-1', 'busy'),
      agentStatus('a-3'),
    ]);
    const controller = new AbortController();
    await using stream = drain(
      t.hub.stream(
        { filter: { types: ['agent.status'], agentIds: ['a-1', 'a-2'] }, snapshot: 'agents' },
        controller.signal,
      ),
    );
    await stream.atLeast(2);
    await t.caller.publish(agentStatus('a-2', 'error'));
    await t.caller.publish(agentStatus('a-3', 'error'));
    await t.caller.publish(agentStatus('a-1', 'offline'));
    await stream.atLeast(4);
    expect(stream.items.map((e) => e.id)).toEqual(['2', '3', '5', '7']);
    controller.abort();
  });

  it('falls back to the store when a slow reader overflows its live buffer, losing nothing', async () => {
    const db = openDatabase(':memory:');
    const store = createSqliteStore(db);
    const hub = createHub({ store, bus: createMemoryBus(), subscriberBufferLimit: 10 });
    const iterator = hub.stream({ filter: {}, lastEventId: '0' }, new AbortController().signal)[Symbol.asyncIterator]();
    await hub.append([agentStatus('a-1')]);
    expect((await iterator.next()).value).toMatchObject({ id: '1' });
    // The reader is paused while 100 events arrive: ten times its buffer.
    for (let i = 0; i < 100; i++) await hub.append([agentStatus(`a-${i}`)]);
    const ids: string[] = [];
    while (ids.length < 100) {
      const next = await iterator.next();
      if (next.done === true) break;
      ids.push(next.value.id);
    }
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 2)));
    await iterator.return();
    await store.close();
  });
});

describe('durability setting', () => {
  it('syncs the WAL itself for full (the default), and leaves NORMAL to SQLite on request', () => {
    using dir = tempDir();
    const full = openDatabase(dir.file('full.db'));
    const normal = openDatabase(dir.file('normal.db'), 'normal');
    // Both connections run at NORMAL; full durability is the store's fsync of the WAL after each commit.
    expect(full.$client.pragma('synchronous', { simple: true })).toBe(1);
    expect(normal.$client.pragma('synchronous', { simple: true })).toBe(1);
    expect(walToSync(full.$client)).toBe(`${dir.file('full.db')}-wal`);
    expect(walToSync(normal.$client)).toBeUndefined();
    full.$client.close();
    normal.$client.close();
  });

  /** An fsync that waits until the test lets it finish, as a slow disk would (a fault injected on purpose). */
  function gatedFsync() {
    const calls: { fd: number; finish: (error?: Error) => void }[] = [];
    const fsync = (fd: number) =>
      new Promise<void>((resolve, reject) => {
        calls.push({
          fd,
          finish: (error) => {
            if (error) reject(error);
            else resolve();
          },
        });
      });
    return { calls, fsync };
  }
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('answers an append only once its commit is on disk, and reads wait for the disk too', async () => {
    using dir = tempDir();
    const disk = gatedFsync();
    const store = createSqliteStore(openDatabase(dir.file('gated.db')), undefined, { fsync: disk.fsync });
    let answered = false;
    const append = store.append([agentStatus('a')]).then((r) => {
      answered = true;
      return r;
    });
    await vi.waitFor(() => {
      expect(disk.calls).toHaveLength(1);
    });
    // Committed, not yet on disk: neither the append nor a read issued now is answered.
    let head: number | undefined;
    const read = store.headId().then((h) => (head = h));
    const second = store.append([agentStatus('b')]);
    await turns(5);
    expect([answered, head, disk.calls.length]).toEqual([false, undefined, 1]);
    disk.calls[0]?.finish();
    expect((await append).stored.map((e) => e.id)).toEqual(['1']);
    // The read saw the first commit only: the second waited for the first sync before it committed.
    expect(await read).toBe(1);
    await vi.waitFor(() => {
      expect(disk.calls).toHaveLength(2);
    });
    disk.calls[1]?.finish();
    expect((await second).stored.map((e) => e.id)).toEqual(['2']);
    expect(await store.headId()).toBe(2);
    await store.close();
  });

  it('refuses every write after a failed sync, answers the failed one as unavailable, and keeps reading', async () => {
    using dir = tempDir();
    const disk = gatedFsync();
    const store = createSqliteStore(openDatabase(dir.file('failing.db')), undefined, { fsync: disk.fsync });
    const first = store.append([agentStatus('a')]);
    await vi.waitFor(() => {
      expect(disk.calls).toHaveLength(1);
    });
    disk.calls[0]?.finish(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await expect(first).rejects.toMatchObject({
      name: 'StoreUnavailableError',
      code: 'SERVICE_UNAVAILABLE',
      message: expect.stringMatching(
        /could not be synced to disk \(EIO: i\/o error, fsync\).*restart the server/,
      ) as unknown,
    });
    // The kernel may have dropped what it could not write: no later fsync is trusted, so no write is taken.
    await expect(store.append([agentStatus('b')])).rejects.toMatchObject({ name: 'StoreUnavailableError' });
    expect(disk.calls).toHaveLength(1);
    expect(await store.headId()).toBe(1);
    await store.close();
  });

  it('keeps every acknowledged event across a reopen with the real fsync', async () => {
    using dir = tempDir();
    const path = dir.file('real.db');
    const store = createSqliteStore(openDatabase(path));
    const appended = await Promise.all(Array.from({ length: 20 }, (_, i) => store.append([agentStatus(`a-${i}`)])));
    expect(appended.map((r) => r.stored[0]?.id)).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    await store.close();
    const reopened = createSqliteStore(openDatabase(path));
    expect(await reopened.headId()).toBe(20);
    await reopened.close();
  });
});

describe('checkpoints', () => {
  it('copies the log into the database from a worker thread, and stops the worker on close', async () => {
    using dir = tempDir();
    const db = openDatabase(dir.file('checkpoints.db'), 'normal');
    const checkpoints = new Checkpointer(db.$client, dir.file('checkpoints.db'), 0);
    // The store's own connection checkpoints only past the backstop now.
    expect(db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(backstopPages);
    const store = createSqliteStore(db);
    await store.append(Array.from({ length: 500 }, (_, i) => agentStatus(`a-${i}`)));
    // The store runs a checkpointer of its own: a PASSIVE checkpoint that meets one of its running gets no lock
    // and reports log -1 (nothing done), and is asked again.
    checkpoints.committed();
    await vi.waitFor(() => {
      if ((checkpoints.lastResult?.log ?? 0) < 0) checkpoints.committed();
      expect(checkpoints.lastResult).toMatchObject({ ok: true });
      expect(checkpoints.lastResult?.log).toBeGreaterThanOrEqual(0);
    });
    const { log, checkpointed } = checkpoints.lastResult ?? {};
    expect(log).toBeGreaterThan(0);
    expect(checkpointed).toBe(log);
    await checkpoints.close();
    expect(checkpoints.failures).toBe(0);
    await store.close();
  });
});

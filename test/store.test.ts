/**
 * Fast tests through `createCaller` on a fresh `:memory:` database with the real migrations: the append path,
 * idempotency, atomic batches, current state and history.
 */
import { describe, expect, it, vi } from 'vitest';
import { createMemoryBus } from '../server/bus/memory.js';
import { openDatabase } from '../server/store/sqlite-db.js';
import { createHub } from '../server/core/hub.js';
import { createSqliteStore } from '../server/store/sqlite.js';
import type { EventStore } from '../server/core/store.js';
import { publishInputSchema, type PublishInput } from '@switchboard/shared';
import { agentStatus, tddPhaseChanged, workflowBlock, workflowStarted, workflowStepCompleted } from './fixtures.js';
import { createTestHub, drain, tempDir } from './harness.js';

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

describe('append path', () => {
  it('assigns increasing ids, derives topics and echoes producer fields', async () => {
    await using t = createTestHub();
    const at = new Date('2026-01-02T03:04:05.000Z');
    const first = await t.caller.publish({
      ...agentStatus('coder-001'),
      source: 'orchestrator',
      correlationId: 'run-7',
      timestamp: at,
    });
    const second = await t.caller.publish(workflowStarted('wf-1'));
    expect(first).toMatchObject({
      id: '1',
      topic: 'agent:coder-001',
      source: 'orchestrator',
      correlationId: 'run-7',
      timestamp: at,
    });
    expect(second).toMatchObject({ id: '2', topic: 'workflow:wf-1' });
    expect(second.timestamp).toBeInstanceOf(Date);
    expect('key' in second).toBe(false);
  });

  it('stores a repeated idempotency key once, sequentially, concurrently and within a batch', async () => {
    await using t = createTestHub();
    const event = agentStatus('coder-001', 'busy', { key: 'k-1' });
    const a = await t.caller.publish(event);
    const b = await t.caller.publish({ ...event, data: { ...event.data, status: 'idle' } });
    expect(b).toEqual(a);

    const concurrent = await Promise.all([
      t.caller.publish(agentStatus('coder-002', 'busy', { key: 'k-2' })),
      t.caller.publish(agentStatus('coder-002', 'busy', { key: 'k-2' })),
    ]);
    expect(concurrent[1]).toEqual(concurrent[0]);

    const batch = await t.caller.publishBatch([
      agentStatus('coder-003', 'busy', { key: 'k-3' }),
      agentStatus('coder-003', 'busy', { key: 'k-3' }),
      agentStatus('coder-001', 'busy', { key: 'k-1' }),
    ]);
    expect(batch.map((e) => e.id)).toEqual(['3', '3', '1']);

    const history = await t.caller.history({});
    expect(history.events.map((e) => e.key)).toEqual(['k-1', 'k-2', 'k-3']);
  });

  it('stores nothing of a batch that fails part-way, and keeps serving', async () => {
    await using t = createTestHub();
    await t.caller.publish(agentStatus('coder-001', 'idle'));
    // A fault injected on purpose: the store refuses one particular row half-way through the transaction.
    const faulty = openDatabase(':memory:');
    faulty.$client.exec(
      "CREATE TRIGGER explode BEFORE INSERT ON events WHEN NEW.source = 'explode' BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
    );
    const store = createSqliteStore(faulty);
    await store.append([agentStatus('coder-001', 'idle')]);
    await expect(
      store.append([agentStatus('coder-001', 'busy'), { ...workflowStarted('wf-1'), source: 'explode' }]),
    ).rejects.toThrow('injected fault');
    expect(await store.headId()).toBe(1);
    expect((await store.agents()).map((e) => e.data.status)).toEqual(['idle']);
    expect(await store.workflow('wf-1')).toBeUndefined();
    await store.append([workflowStarted('wf-2')]);
    expect(await store.headId()).toBe(2);
    await store.close();
  });
});

describe('group commit', () => {
  it('stores concurrent appends in one commit, each all or nothing on its own, in order', async () => {
    // The same injected fault as above: a trigger refuses any row whose source is 'explode'.
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
    expect(reported).toEqual([new Error('listener fault'), new Error('listener fault')]);
    await hub.drained();
    await store.close();
  });
});

describe('current state', () => {
  it('keeps agents, workflows and TDD tasks in step with the log', async () => {
    await using t = createTestHub();
    await t.caller.publishBatch([
      agentStatus('coder-001', 'busy'),
      agentStatus('coder-002', 'idle'),
      agentStatus('coder-001', 'blocked'),
      workflowStarted('wf-1'),
      workflowBlock('wf-1', 'plan'),
      workflowStepCompleted('wf-1', 'plan', 'build'),
      tddPhaseChanged('task-1', 'red'),
      tddPhaseChanged('task-1', 'green'),
      tddPhaseChanged('task-2', 'red', 'coder-002'),
    ]);
    const agents = await t.caller.agents();
    expect(agents.map((a) => [a.id, a.data.agentId, a.data.status])).toEqual([
      ['2', 'coder-002', 'idle'],
      ['3', 'coder-001', 'blocked'],
    ]);
    expect(await t.caller.agents({ agentIds: ['coder-001'] })).toHaveLength(1);

    const wf = await t.caller.workflow({ workflowId: 'wf-1' });
    expect(wf).toMatchObject({ workflowType: 'feature', status: 'running', currentStepId: 'build', lastEventId: '6' });
    await t.caller.publish({ type: 'workflow.completed', data: { workflowId: 'wf-1', duration: 10 } });
    expect(await t.caller.workflow({ workflowId: 'wf-1' })).toMatchObject({ status: 'completed', currentStepId: null });
    expect((await t.caller.workflows({ status: 'completed' })).map((w) => w.workflowId)).toEqual(['wf-1']);
    expect((await t.caller.workflows({ workflowType: 'feature' })).map((w) => w.workflowId)).toEqual(['wf-1']);
    expect(await t.caller.workflows({ workflowType: 'claude-code' })).toEqual([]);
    await expect(t.caller.workflows({ workflowType: '' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(t.caller.workflow({ workflowId: 'nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const tasks = await t.caller.tddTasks();
    expect(tasks.map((e) => [e.data.taskId, e.data.currentPhase])).toEqual([
      ['task-1', 'green'],
      ['task-2', 'red'],
    ]);
    expect(await t.caller.tddTasks({ agentId: 'coder-002' })).toHaveLength(1);
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

  it('matches topic patterns literally except for *', async () => {
    await using t = createTestHub();
    await t.caller.publishBatch([agentStatus('a?b'), agentStatus('axb'), agentStatus('a[1]'), agentStatus('ab')]);
    const topics = async (pattern: string) =>
      (await t.caller.history({ topics: [pattern] })).events.map((e) => e.topic);
    expect(await topics('agent:a?b')).toEqual(['agent:a?b']);
    expect(await topics('agent:a?*')).toEqual(['agent:a?b']);
    expect(await topics('agent:a[*')).toEqual(['agent:a[1]']);
    expect(await topics('agent:a*b')).toEqual(['agent:a?b', 'agent:axb', 'agent:ab']);
    expect(await topics('*')).toHaveLength(4);
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
  it('applies synchronous=FULL by default and NORMAL on request', () => {
    using dir = tempDir();
    const full = openDatabase(dir.file('full.db'));
    const normal = openDatabase(dir.file('normal.db'), 'normal');
    expect(full.$client.pragma('synchronous', { simple: true })).toBe(2);
    expect(normal.$client.pragma('synchronous', { simple: true })).toBe(1);
    full.$client.close();
    normal.$client.close();
  });
});

/**
 * The store contract: the same assertions against every `EventStore` (SQLite and PostgreSQL), through the
 * interface only. Each test gets a fresh database (a SQLite file, or a PostgreSQL schema dropped afterwards).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createPostgresStore } from '../../server/store/postgres.js';
import { quoteIdent } from '../../server/store/postgres-open.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import type { EventStore } from '../../server/core/store.js';
import { writtenDataJson } from '../../server/core/envelope.js';
import { epochSchema, publishInputSchema, type PublishInput, type ValidEvent } from '@switchboard/shared';
import { available, pgQuery, pgSchema, requireEngine } from '../engines.js';
import {
  agentLog,
  agentStatus,
  tddPhaseChanged,
  usageRecorded,
  workflowBlock,
  workflowStarted,
  workflowStepCompleted,
} from '../fixtures.js';
import { tempDir } from '../harness.js';

interface Fixture {
  store: EventStore;
  /** Another store on the same database, as a second node (or process) would open it. */
  second: () => Promise<EventStore>;
  /** From now on, the database refuses any event whose `source` is 'explode' (a fault injected on purpose). */
  injectFault: () => Promise<void>;
  /** How many group commits the stores of this fixture did again batch by batch (`OnGroupRetry`). */
  retries: () => number;
  /** An agent row's last agent.* event and its time (epoch ms), read from the table: no read API returns them. */
  agentRow: (agentId: string) => Promise<{ lastEventId: number; updatedAt: number } | undefined>;
  dispose: () => Promise<void>;
}

const engines: { name: string; skip: boolean; open: () => Promise<Fixture> }[] = [
  {
    name: 'SQLite',
    skip: false,
    open: () => {
      const dir = tempDir();
      const path = dir.file('contract.db');
      let retries = 0;
      const options = {
        onRetry: () => {
          retries++;
        },
      };
      const store = createSqliteStore(openDatabase(path, 'normal'), undefined, options);
      const opened = [store];
      return Promise.resolve({
        store,
        retries: () => retries,
        second: () => {
          const store = createSqliteStore(openDatabase(path, 'normal'), undefined, options);
          opened.push(store);
          return Promise.resolve(store);
        },
        injectFault: () => {
          const db = openDatabase(path);
          db.$client.exec(
            "CREATE TRIGGER explode BEFORE INSERT ON events WHEN NEW.source = 'explode' BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
          );
          db.$client.close();
          return Promise.resolve();
        },
        agentRow: (agentId) => {
          const db = openDatabase(path);
          try {
            const row = db.$client
              .prepare('SELECT last_event_id AS lastEventId, updated_at AS updatedAt FROM agents WHERE agent_id = ?')
              .get(agentId) as { lastEventId: number; updatedAt: number } | undefined;
            return Promise.resolve(row);
          } finally {
            db.$client.close();
          }
        },
        dispose: async () => {
          for (const store of opened) await store.close();
          dir[Symbol.dispose]();
        },
      });
    },
  },
  {
    name: 'PostgreSQL',
    skip: !available.postgres,
    open: async () => {
      const schema = pgSchema();
      let retries = 0;
      const options = {
        onRetry: () => {
          retries++;
        },
      };
      const store = createPostgresStore(await schema.open(), options);
      const opened = [store];
      const s = quoteIdent(schema.schema);
      return {
        store,
        retries: () => retries,
        second: async () => {
          const store = createPostgresStore(await schema.open(), options);
          opened.push(store);
          return store;
        },
        injectFault: async () => {
          await pgQuery(`CREATE FUNCTION ${s}.explode() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.source = 'explode' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$`);
          await pgQuery(
            `CREATE TRIGGER explode BEFORE INSERT ON ${s}.events FOR EACH ROW EXECUTE FUNCTION ${s}.explode()`,
          );
        },
        agentRow: async (agentId) => {
          const found = await pgQuery(
            `SELECT last_event_id AS "lastEventId", (extract(epoch from updated_at) * 1000)::float8 AS "updatedAt"
             FROM ${s}.agents WHERE agent_id = $1`,
            [agentId],
          );
          const row = found.rows[0] as { lastEventId: string; updatedAt: number } | undefined;
          return row && { lastEventId: Number(row.lastEventId), updatedAt: row.updatedAt };
        },
        dispose: async () => {
          for (const store of opened) await store.close();
          await schema[Symbol.asyncDispose]();
        },
      };
    },
  },
];

requireEngine('postgres', 'the PostgreSQL store contract');

const valid = (events: PublishInput[]): ValidEvent[] => events.map((e) => publishInputSchema.parse(e));
const ids = (envelopes: readonly { id: string }[]) => envelopes.map((e) => Number(e.id));
const keyed = (agentId: string, key: string) => valid([agentStatus(agentId, 'busy', { key })]);

describe.each(engines)('$name store', ({ open, skip }) => {
  let fixture: Fixture | undefined;
  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
  });
  const setUp = async () => {
    fixture = await open();
    return fixture;
  };

  it.skipIf(skip)('assigns ids from 1, echoes producer fields and reads back what it stored', async () => {
    const { store } = await setUp();
    expect(await store.headId()).toBe(0);
    const at = new Date('2026-01-02T03:04:05.678Z');
    const { envelopes, stored } = await store.append(
      valid([
        { ...agentStatus('a-1'), source: 'orch', correlationId: 'run-1', timestamp: at },
        workflowStarted('wf-1'),
      ]),
    );
    expect(ids(envelopes)).toEqual([1, 2]);
    expect(stored).toEqual(envelopes);
    expect(envelopes[0]).toMatchObject({ topic: 'agent:a-1', source: 'orch', correlationId: 'run-1', timestamp: at });
    expect(await store.readAfter(0, {}, 10)).toEqual(envelopes);
    // Fields the producer left out are absent, not null, in the envelope stored and in the one read back.
    const [read] = await store.readAfter(1, {}, 1);
    for (const envelope of [envelopes[1], read]) {
      expect(envelope).toMatchObject({ id: '2', topic: 'workflow:wf-1' });
      expect(Object.keys(envelope ?? {}).sort()).toEqual(['data', 'id', 'timestamp', 'topic', 'type']);
    }
    expect(await store.headId()).toBe(2);
  });

  it.skipIf(skip)('keeps the text each event it stored was written as, on the envelope it answers', async () => {
    const { store } = await setUp();
    const input = valid([agentStatus('a-1'), workflowStarted('wf-1')]);
    const { stored } = await store.append(input);
    // The bus between nodes and a write's answer splice this text rather than write the data again.
    expect(stored.map(writtenDataJson)).toEqual(input.map((event) => JSON.stringify(event.data)));
    expect((await store.readAfter(0, {}, 10)).map(writtenDataJson)).toEqual(stored.map(writtenDataJson));
  });

  it.skipIf(skip)(
    'stores a group far larger than one statement carries whole, in order, with and without keys, or refuses a batch whole',
    async () => {
      const { store, injectFault } = await setUp();
      // Two batches of 400 events with 1 KB of data each: PostgreSQL writes them as several statements.
      const batch = (from: number, keys: boolean) =>
        valid(
          Array.from({ length: 400 }, (_, i) => ({
            ...agentLog(`a-${(from + i) % 7}`, `${from + i} ${'x'.repeat(1_000)}`),
            ...(keys && { key: `k-${from + i}` }),
          })),
        );
      for (const keys of [false, true]) {
        const head = await store.headId();
        const input = [batch(head, keys), batch(head + 400, keys)];
        const outcomes = await store.appendGroup(input.map((events) => ({ events, keyOwner: 'owner' })));
        const stored = outcomes.flatMap((outcome) => (outcome.ok ? outcome.result.stored : []));
        expect(ids(stored)).toEqual(Array.from({ length: 800 }, (_, i) => head + i + 1));
        const read = [...(await store.readAfter(head, {}, 500)), ...(await store.readAfter(head + 500, {}, 500))];
        expect(read.map((e) => (e.data as { message: string }).message)).toEqual(
          input.flat().map((e) => (e.data as { message: string }).message),
        );
        expect(await store.headId()).toBe(head + 800);
      }
      // A batch that fails on its last event, after its first statements ran: refused alone, rolled back whole.
      await injectFault();
      const head = await store.headId();
      const failing = [...batch(head + 400, false), ...valid([{ ...agentLog('a-1', 'last'), source: 'explode' }])];
      const input = [batch(head, false), failing, batch(head + 800, false)];
      const outcomes = await store.appendGroup(input.map((events) => ({ events, keyOwner: 'owner' })));
      expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, false, true]);
      const stored = outcomes.flatMap((outcome) => (outcome.ok ? outcome.result.stored : []));
      expect(ids(stored)).toEqual(Array.from({ length: 800 }, (_, i) => head + i + 1));
      const read = [...(await store.readAfter(head, {}, 500)), ...(await store.readAfter(head + 500, {}, 500))];
      expect(read.map((e) => (e.data as { message: string }).message)).toEqual(
        [...(input[0] ?? []), ...(input[2] ?? [])].map((e) => (e.data as { message: string }).message),
      );
      expect(await store.headId()).toBe(head + 800);
    },
  );

  it.skipIf(skip)(
    'has an epoch made with its database: the same on every open of it, another for a new one',
    async () => {
      const { store, second } = await setUp();
      const epoch = store.epoch();
      expect(epochSchema.safeParse(epoch).success).toBe(true);
      await store.append(valid([agentStatus('a-1')]));
      // Another store on the same database (a restarted process, a second node) reads the same epoch.
      expect((await second()).epoch()).toBe(epoch);
      // A new database starts another log, whose ids (from 1 again) must not pass for this one's.
      const other = await open();
      try {
        expect(other.store.epoch()).not.toBe(epoch);
        expect(epochSchema.safeParse(other.store.epoch()).success).toBe(true);
      } finally {
        await other.dispose();
      }
    },
  );

  it.skipIf(skip)('stores a repeated key once: sequentially, within a batch, and from two stores at once', async () => {
    const { store, second } = await setUp();
    const first = await store.append(valid([agentStatus('a-1', 'busy', { key: 'k-1' })]));
    const again = await store.append(
      valid([agentStatus('a-1', 'idle', { key: 'k-1' }), agentStatus('a-2', 'idle', { key: 'k-2' })]),
    );
    expect(again.envelopes[0]).toEqual(first.envelopes[0]);
    expect(ids(again.stored)).toEqual([2]);
    const within = await store.append(
      valid([agentStatus('a-3', 'busy', { key: 'k-3' }), agentStatus('a-3', 'idle', { key: 'k-3' })]),
    );
    expect(ids(within.envelopes)).toEqual([3, 3]);

    const other = await second();
    const racing = Array.from({ length: 10 }, (_, i) => valid([agentStatus('a-4', 'busy', { key: `race-${i}` })]));
    const [a, b] = await Promise.all([
      Promise.all(racing.map((batch) => store.append(batch))),
      Promise.all(racing.map((batch) => other.append(batch))),
    ]);
    expect(a.map((r) => r.envelopes[0]?.id)).toEqual(b.map((r) => r.envelopes[0]?.id));
    const all = await store.readAfter(0, {}, 100);
    expect(all.map((e) => e.key).sort()).toEqual(['k-1', 'k-2', 'k-3', ...racing.map((_, i) => `race-${i}`)].sort());
    expect(ids(all)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
  });

  it.skipIf(skip)(
    'keys belong to their owner: a repeat returns the own event, another owner stores its own',
    async () => {
      const { store, second } = await setUp();
      const alice = await store.append(keyed('p-1', 'k'), 'token:alice');
      const bob = await store.append(keyed('q-1', 'k'), 'token:bob');
      expect(ids(bob.stored)).toEqual([2]);
      expect(bob.envelopes[0]?.data).toMatchObject({ agentId: 'q-1' });
      const again = await store.append(keyed('p-9', 'k'), 'token:alice');
      expect(again.stored).toEqual([]);
      expect(again.envelopes).toEqual(alice.envelopes);
      // Without tokens keys are one namespace (''), apart from every token's.
      expect(ids((await store.append(keyed('r-1', 'k'))).stored)).toEqual([3]);
      // In one group, and from another node: each owner's key stores once, in that owner's namespace only.
      const other = await second();
      const outcomes = await other.appendGroup([
        { events: keyed('p-2', 'g'), keyOwner: 'token:alice' },
        { events: keyed('q-2', 'g'), keyOwner: 'token:bob' },
        { events: keyed('p-3', 'g'), keyOwner: 'token:alice' },
      ]);
      const firsts = outcomes.map((o) => (o.ok ? o.result.envelopes[0]?.id : 'failed'));
      expect(firsts).toEqual(['4', '5', '4']);
      expect(await store.headId()).toBe(5);
    },
  );

  it.skipIf(skip)('appends from two stores at once get one contiguous order', async () => {
    const { store, second, retries } = await setUp();
    const other = await second();
    const batch = (node: string, i: number) => valid([agentLog(node, `${i}a`), agentLog(node, `${i}b`)]);
    const results = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => store.append(batch('n-1', i))),
      ...Array.from({ length: 20 }, (_, i) =>
        other.appendGroup([
          { events: batch('n-2', i), keyOwner: '' },
          { events: batch('n-2', i + 100), keyOwner: '' },
        ]),
      ),
    ]);
    expect(results).toHaveLength(40);
    const all = await store.readAfter(0, {}, 1000);
    expect(ids(all)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    // A batch's events are adjacent: nothing of another append lands between them.
    for (let i = 0; i < all.length; i += 2) {
      const [x, y] = [all[i], all[i + 1]];
      expect(x?.data).toMatchObject({ agentId: (y?.data as { agentId: string }).agentId });
    }
    expect(await other.headId()).toBe(120);
    // Each append was answered with the ids its events were stored under.
    const byId = new Map(all.map((e) => [e.id, e.data]));
    const answered = results.flatMap((r) =>
      Array.isArray(r) ? r.flatMap((o) => (o.ok ? o.result.stored : [])) : r.stored,
    );
    expect(answered).toHaveLength(120);
    for (const envelope of answered) expect(byId.get(envelope.id)).toEqual(envelope.data);
    // All of it in one go each: no group was done again batch by batch.
    expect(retries()).toBe(0);
  });

  it.skipIf(skip)('stores nothing of a failing batch; in a group only that batch is refused', async () => {
    const { store, injectFault, retries } = await setUp();
    await store.append(valid([agentStatus('a-1', 'idle')]));
    await injectFault();
    await expect(
      store.append(valid([agentStatus('a-1', 'busy'), { ...workflowStarted('wf-1'), source: 'explode' }])),
    ).rejects.toThrow('injected fault');
    expect(await store.headId()).toBe(1);
    expect((await store.agents()).map((e) => e.data.status)).toEqual(['idle']);
    expect(await store.workflow('wf-1')).toBeUndefined();

    const outcomes = await store.appendGroup(
      [
        valid([agentStatus('a-2'), agentLog('a-1', 'touch')]),
        valid([agentStatus('a-3'), { ...workflowStarted('wf-2'), source: 'explode' }]),
        valid([workflowStarted('wf-3')]),
      ].map((events) => ({ events, keyOwner: '' })),
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(retries()).toBeGreaterThan(0);
    expect(ids(await store.readAfter(0, {}, 10))).toEqual([1, 2, 3, 4]);
    expect((await store.agents()).map((e) => e.data.agentId)).toEqual(['a-1', 'a-2']);
    expect(await store.workflow('wf-3')).toMatchObject({ lastEventId: '4' });
  });

  it.skipIf(skip)("stores a batch sent `after` a key only behind that owner's stored key, or not at all", async () => {
    const { store, injectFault } = await setUp();
    const log = (message: string) => valid([agentLog('p-1', message)]);
    const oks = (outcomes: Awaited<ReturnType<EventStore['appendGroup']>>) => outcomes.map((o) => o.ok);
    // Behind a key stored earlier in the same commit.
    expect(
      oks(
        await store.appendGroup([
          { events: keyed('p-1', 'k1'), keyOwner: 'token:alice' },
          { events: log('behind k1'), keyOwner: 'token:alice', after: 'k1' },
        ]),
      ),
    ).toEqual([true, true]);
    await store.append(keyed('q-1', 'kq'), 'token:bob');
    // Behind a key stored before; behind no stored key, or another owner's: refused, the rest still stored.
    const outcomes = await store.appendGroup([
      { events: log('behind k1 again'), keyOwner: 'token:alice', after: 'k1' },
      { events: log('behind nothing'), keyOwner: 'token:alice', after: 'missing' },
      { events: log('behind bob'), keyOwner: 'token:alice', after: 'kq' },
    ]);
    expect(oks(outcomes)).toEqual([true, false, false]);
    expect(outcomes[1]).toMatchObject({
      ok: false,
      error: {
        name: 'OutOfOrderError',
        code: 'PRECONDITION_FAILED',
        message:
          'this batch follows key "missing", which is not stored; nothing was stored: send the batch with that key first',
      },
    });
    // A batch that fails in a group takes the one behind it along.
    await injectFault();
    const refused = await store.appendGroup([
      {
        events: [...keyed('p-2', 'k2'), ...valid([{ ...workflowStarted('wf-9'), source: 'explode' }])],
        keyOwner: 'token:alice',
      },
      { events: log('behind k2'), keyOwner: 'token:alice', after: 'k2' },
      { events: log('behind k1, once more'), keyOwner: 'token:alice', after: 'k1' },
    ]);
    expect(oks(refused)).toEqual([false, false, true]);
    const stored = await store.readAfter(0, {}, 100);
    expect(stored.map((e) => (e.type === 'agent.log' ? e.data.message : e.key))).toEqual([
      'k1',
      'behind k1',
      'kq',
      'behind k1 again',
      'behind k1, once more',
    ]);
  });

  it.skipIf(skip)("moves an agent's last event only with its own agent events, in every kind of commit", async () => {
    const { store, agentRow, injectFault, retries } = await setUp();
    const at = (ms: number) => ({ timestamp: new Date(ms) });
    await store.append(valid([{ ...agentStatus('coder-001', 'busy'), ...at(1_000) }]));
    for (let i = 0; i < 5; i++) await store.append(valid([agentLog('other', `${i}`)]));
    // Events that only name the agent: in a commit with nothing to read under a lock, in one with a key, and in a
    // group whose other batch fails (each batch then on its own).
    await store.append(valid([tddPhaseChanged('task-1', 'red', 'coder-001')]));
    await store.append(valid([{ ...tddPhaseChanged('task-1', 'green', 'coder-001'), key: 'k-1' }]));
    expect(retries()).toBe(0);
    await injectFault();
    const outcomes = await store.appendGroup(
      [
        valid([tddPhaseChanged('task-1', 'red', 'coder-001')]),
        valid([{ ...agentLog('other', 'x'), source: 'explode' }]),
      ].map((events) => ({ events, keyOwner: '' })),
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, false]);
    expect(retries()).toBe(1);
    expect(await agentRow('coder-001')).toEqual({ lastEventId: 1, updatedAt: 1_000 });
    // Its own agent event moves both, in a commit that also only names it.
    const [log] = (
      await store.append(
        valid([
          { ...agentLog('coder-001', 'working'), ...at(2_000) },
          tddPhaseChanged('task-1', 'refactor', 'coder-001'),
        ]),
      )
    ).stored;
    expect(await agentRow('coder-001')).toEqual({ lastEventId: Number(log?.id), updatedAt: 2_000 });
  });

  it.skipIf(skip)('keeps agents, workflows (with their status machine) and TDD tasks in step', async () => {
    const { store } = await setUp();
    await store.append(
      valid([
        agentStatus('coder-001', 'busy'),
        agentStatus('coder-002', 'idle'),
        agentStatus('coder-001', 'blocked'),
        agentLog('coder-002', 'hello'),
        workflowStarted('wf-1'),
        workflowBlock('wf-1', 'plan'),
        workflowStepCompleted('wf-1', 'plan', 'build'),
        tddPhaseChanged('task-1', 'red'),
        tddPhaseChanged('task-1', 'green'),
        tddPhaseChanged('task-2', 'red', 'coder-002'),
        { type: 'tdd.coverage_update', data: { agentId: 'coder-002', taskId: 'task-2', coverage: coverage() } },
      ]),
    );
    expect((await store.agents()).map((a) => [a.id, a.data.agentId, a.data.status])).toEqual([
      ['2', 'coder-002', 'idle'],
      ['3', 'coder-001', 'blocked'],
    ]);
    expect(await store.agents(['coder-001'])).toHaveLength(1);
    const wf = await store.workflow('wf-1');
    // The block named its agent; the step_completed after it (which names none) kept it.
    expect(wf).toMatchObject({
      workflowType: 'feature',
      status: 'running',
      currentStepId: 'build',
      agentId: 'coder-001',
      lastEventId: '7',
    });
    expect(wf?.startedAt).toBeInstanceOf(Date);
    expect(wf?.finishedAt).toBeNull();
    // The lifecycle snapshot skips the block: it is the step_completed (7), not the block (6).
    expect(ids((await store.snapshot('workflows', {})).items)).toEqual([7]);

    await store.append(
      valid([{ type: 'workflow.failed', data: { workflowId: 'wf-1', error: { message: 'boom' }, stepId: 'build' } }]),
    );
    const failed = await store.workflow('wf-1');
    expect(failed).toMatchObject({ status: 'failed', currentStepId: 'build' });
    expect(failed?.finishedAt).toBeInstanceOf(Date);
    await store.append(valid([workflowStarted('wf-1')]));
    expect(await store.workflow('wf-1')).toMatchObject({
      status: 'running',
      currentStepId: null,
      agentId: 'coder-001',
      finishedAt: null,
    });
    await store.append(valid([{ type: 'workflow.completed', data: { workflowId: 'wf-1', duration: 10 } }]));
    await store.append(valid([workflowBlock('wf-2', 'plan')]));
    expect(await store.workflow('wf-2')).toMatchObject({ status: 'running', workflowType: null });
    expect((await store.workflows({ limit: 10 })).map((w) => [w.workflowId, w.status])).toEqual([
      ['wf-2', 'running'],
      ['wf-1', 'completed'],
    ]);
    expect((await store.workflows({ status: 'completed', limit: 10 })).map((w) => w.workflowId)).toEqual(['wf-1']);
    // wf-2 has no type: it was first seen through a block, before (or without) its workflow.started.
    expect((await store.workflows({ workflowType: 'feature', limit: 10 })).map((w) => w.workflowId)).toEqual(['wf-1']);
    expect(await store.workflows({ workflowType: 'claude-code', limit: 10 })).toEqual([]);

    const tasks = await store.tddTasks({});
    expect(tasks.map((e) => [e.data.taskId, e.data.currentPhase])).toEqual([
      ['task-1', 'green'],
      ['task-2', 'red'],
    ]);
    expect(await store.tddTasks({ agentId: 'coder-002' })).toHaveLength(1);
    expect(await store.tddTasks({ taskId: 'task-1' })).toHaveLength(1);
  });

  it.skipIf(skip)('reads ranges both ways with filters, and matches topic patterns literally except *', async () => {
    const { store } = await setUp();
    await store.append(valid(Array.from({ length: 30 }, (_, i) => agentStatus(`a-${i % 3}`))));
    expect(ids(await store.readRange({ after: 10, before: 15, order: 'desc' }, {}, 100))).toEqual([14, 13, 12, 11]);
    expect(ids(await store.readRange({ after: 10, before: 15, order: 'asc' }, { topics: ['agent:a-1'] }, 100))).toEqual(
      [11, 14],
    );
    expect(ids(await store.readAfter(25, { types: ['agent.status'], agentIds: ['a-0'] }, 100))).toEqual([28]);
    expect(ids(await store.readAfter(0, {}, 5))).toEqual([1, 2, 3, 4, 5]);

    await store.append(valid([agentStatus('a?b'), agentStatus('axb'), agentStatus('a[1]'), agentStatus('a%_b')]));
    const topics = async (pattern: string) =>
      (await store.readAfter(30, { topics: [pattern] }, 100)).map((e) => e.topic);
    expect(await topics('agent:a?b')).toEqual(['agent:a?b']);
    expect(await topics('agent:a?*')).toEqual(['agent:a?b']);
    expect(await topics('agent:a[*')).toEqual(['agent:a[1]']);
    expect(await topics('agent:a%*')).toEqual(['agent:a%_b']);
    expect(await topics('agent:a_*')).toEqual([]);
    expect(await topics('agent:a*b')).toEqual(['agent:a?b', 'agent:axb', 'agent:a%_b']);
  });

  it.skipIf(skip)('gives snapshots with the head they were read at', async () => {
    const { store } = await setUp();
    await store.append(
      valid([agentStatus('a-1'), tddPhaseChanged('t-1', 'red'), agentStatus('a-2'), agentLog('a-1', 'x')]),
    );
    const snapshot = await store.snapshot('agents', {});
    expect(snapshot).toMatchObject({ headId: 4 });
    expect(ids(snapshot.items)).toEqual([1, 3]);
    expect(ids((await store.snapshot('agents', { topics: ['agent:a-2'] })).items)).toEqual([3]);
    expect(ids((await store.snapshot('tddTasks', {})).items)).toEqual([2]);
  });

  it.skipIf(skip)(
    'sums usage per agent, workflow and model in the commit, once per key, exactly, and past retention',
    async () => {
      const { store, injectFault, second } = await setUp();
      const sonnet = { model: 'claude-sonnet', workflowId: 's-1' };
      await store.append(
        valid([
          agentStatus('s-1'),
          usageRecorded(
            's-1',
            { input: 10, output: 20, cacheRead: 300, cacheCreation: 40 },
            { ...sonnet, costUsd: 0.1 },
          ),
          usageRecorded('s-1', { input: 1, output: 2 }, { ...sonnet, costUsd: 0.2, key: 'req-1' }),
        ]),
      );
      // A repeated key adds nothing; a failing batch adds nothing; in a group the others still add.
      await store.append(
        valid([usageRecorded('s-1', { input: 1, output: 2 }, { ...sonnet, costUsd: 0.2, key: 'req-1' })]),
      );
      await injectFault();
      const outcomes = await (
        await second()
      ).appendGroup(
        [
          valid([
            usageRecorded('s-1', { input: 1000, output: 0 }, { ...sonnet, costUsd: 5 }),
            { ...agentLog('s-1', 'x'), source: 'explode' },
          ]),
          valid([usageRecorded('g-1', { input: 5, output: 5 }, { costUsd: 0.25 })]),
        ].map((events) => ({ events, keyOwner: '' })),
      );
      expect(outcomes.map((o) => o.ok)).toEqual([false, true]);

      const report = await store.usage({ limit: 100 });
      expect(report.headId).toBe(String(await store.headId()));
      const s1 = { inputTokens: 11, outputTokens: 22, cacheReadTokens: 300, cacheCreationTokens: 40, requests: 2 };
      // 0.1 + 0.2 as a double is 0.30000000000000004; summed in millionths it is 0.3.
      expect(report.agents.map((a) => [a.id, a.usage])).toEqual([
        [
          'g-1',
          { inputTokens: 5, outputTokens: 5, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0.25, requests: 1 },
        ],
        ['s-1', { ...s1, costUsd: 0.3 }],
      ]);
      expect(report.workflows.map((w) => [w.id, w.usage])).toEqual([['s-1', { ...s1, costUsd: 0.3 }]]);
      expect(report.models.map((m) => [m.id, m.usage.costUsd])).toEqual([
        ['claude-sonnet', 0.3],
        ['', 0.25],
      ]);
      expect(report.total).toEqual({
        inputTokens: 16,
        outputTokens: 27,
        cacheReadTokens: 300,
        cacheCreationTokens: 40,
        costUsd: 0.55,
        requests: 3,
      });
      expect(report.agents[1]?.lastEventId).toBe('3');
      expect((await store.usage({ agentIds: ['s-1'], limit: 100 })).agents.map((a) => a.id)).toEqual(['s-1']);
      expect((await store.usage({ agentIds: ['s-1'], limit: 100 })).workflows).toEqual([]);

      // Retention deletes the events; the totals stay.
      await store.append(valid(Array.from({ length: 20 }, (_, i) => agentLog('s-1', `log ${i}`))));
      let pruned = await store.prune({ maxAgeMs: 0, maxRows: 5, limit: 100, now: Date.now() });
      while (pruned.more) pruned = await store.prune({ maxAgeMs: 0, maxRows: 5, limit: 100, now: Date.now() });
      expect(await store.readAfter(0, { types: ['usage.recorded'] }, 10)).toEqual([]);
      expect((await store.usage({ limit: 100 })).total).toEqual(report.total);
    },
  );

  it.skipIf(skip)('prunes the oldest events in chunks, keeps current state, and moves the watermark', async () => {
    const { store } = await setUp();
    await store.append(valid([agentStatus('a-0'), agentStatus('a-1'), agentStatus('a-2')]));
    await store.append(valid(Array.from({ length: 100 }, (_, i) => agentLog('a-0', `log ${i}`))));
    await store.append(valid([agentStatus('a-0', 'idle')]));
    expect(await store.retentionWatermark()).toBe(0);

    const policy = { maxAgeMs: 0, maxRows: 10, limit: 40, now: Date.now() };
    const first = await store.prune(policy);
    expect(first).toEqual({ deleted: 40, watermark: 42, more: true });
    let last = first;
    while (last.more) last = await store.prune(policy);
    expect(last.watermark).toBe(94);
    expect(await store.retentionWatermark()).toBe(94);
    const kept = await store.readAfter(0, {}, 1000);
    expect(ids(kept)).toEqual([2, 3, ...Array.from({ length: 10 }, (_, i) => 95 + i)]);
    expect(ids(await store.agents())).toEqual([2, 3, 104]);
    expect(await store.prune(policy)).toEqual({ deleted: 0, watermark: 94, more: false });
    // Retention never lowers the head: ids stay unique after the newest rows go.
    expect(await store.headId()).toBe(104);

    await store.append(valid([agentLog('a-1', 'fresh')]));
    const later = policy.now + 60_000;
    const byAge = await store.prune({ maxAgeMs: 30_000, maxRows: 0, limit: 1000, now: later + 30_001 });
    expect(byAge.watermark).toBe(105);
    expect(await store.sizeBytes()).toBeGreaterThan(0);
  });
});

function coverage() {
  return { lines: 80, branches: 70, functions: 90, statements: 80 };
}

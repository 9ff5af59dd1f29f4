/**
 * Presence: an agent the hub hears nothing of for the TTL goes offline through one stored `agent.status` event.
 *
 * The rules run on every store (a SQLite file, a PostgreSQL schema) with a test double for time: the hub and the
 * sweeper share a clock the test moves by hand, and each sweep is called directly. The integration tests at the
 * end run a real server with a TTL of 300 ms over real sockets and HTTP, and wait on conditions.
 */
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createPublisher } from '@switchboard/client';
import {
  isEventOf,
  publishInputSchema,
  type AgentPresence,
  type AnyEnvelope,
  type EnvelopeOf,
  type StreamItem,
} from '@switchboard/shared';
import { presenceSource, PresenceSweeper } from '../../server/core/presence.js';
import type { EventStore } from '../../server/core/store.js';
import type { Hub } from '../../server/core/hub.js';
import type { Principal } from '../../server/security/auth.js';
import { run } from '../../server/entry/cli.js';
import { ConfigError, loadConfig } from '../../server/ops/config.js';
import { quoteIdent } from '../../server/store/postgres-open.js';
import { createPostgresStore } from '../../server/store/postgres.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { available, pgQuery, pgSchema, requireEngine } from '../engines.js';
import { agentLog, agentStatus, tddPhaseChanged, workflowStarted } from '../fixtures.js';
import {
  collect,
  connect,
  createTestHub,
  drain,
  startTestServer,
  storedEvents,
  tempDir,
  waitUntil,
} from '../harness.js';

const ttlMs = 60_000;

/** The test double for time: the hub's clock and the sweeper's, moved by hand. */
class Clock {
  private t = Date.parse('2026-06-01T12:00:00.000Z');
  readonly now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

interface Engine {
  /** A store on this test's database; every call opens another, as a second node would. */
  open: () => Promise<EventStore>;
  /** From now on the database refuses any event whose `source` is 'explode'. */
  injectFault: () => Promise<void>;
  dispose: () => Promise<void>;
}

const engines: { name: string; skip: boolean; setUp: () => Engine }[] = [
  {
    name: 'SQLite',
    skip: false,
    setUp: () => {
      const dir = tempDir();
      const path = dir.file('presence.db');
      return {
        open: () => Promise.resolve(createSqliteStore(openDatabase(path, 'normal'))),
        injectFault: () => {
          const db = openDatabase(path);
          db.$client.exec(
            "CREATE TRIGGER explode BEFORE INSERT ON events WHEN NEW.source = 'explode' BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
          );
          db.$client.close();
          return Promise.resolve();
        },
        dispose: () => {
          dir[Symbol.dispose]();
          return Promise.resolve();
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    skip: !available.postgres,
    setUp: () => {
      const schema = pgSchema();
      const s = quoteIdent(schema.schema);
      return {
        open: async () => createPostgresStore(await schema.open()),
        injectFault: async () => {
          await pgQuery(`CREATE FUNCTION ${s}.explode() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.source = 'explode' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$`);
          await pgQuery(
            `CREATE TRIGGER explode BEFORE INSERT ON ${s}.events FOR EACH ROW EXECUTE FUNCTION ${s}.explode()`,
          );
        },
        dispose: async () => {
          await schema[Symbol.asyncDispose]();
        },
      };
    },
  },
];

requireEngine('postgres', 'presence on the PostgreSQL store');

const isStatus = isEventOf(['agent.status']);
const offlineOf = (items: readonly AnyEnvelope[]): EnvelopeOf<'agent.status'>[] =>
  items.filter(isStatus).filter((e) => e.data.status === 'offline');
const sweeperOf = (hub: Hub, clock: Clock) => new PresenceSweeper({ hub, ttlMs, now: clock.now });
/** A `createCaller` subscription's items: `tracked(cursor, item)` envelopes. */
type Tracked = [cursor: string, item: StreamItem, brand: symbol];
type Caller = ReturnType<ReturnType<typeof createTestHub>['callerAs']>;

/** A subscription through a caller of its own, whose signal ends it on dispose. */
async function subscribed(
  testHub: ReturnType<typeof createTestHub>,
  call: (caller: Caller) => Promise<unknown>,
  principal?: Principal,
) {
  const stop = new AbortController();
  const stream = drain((await call(testHub.callerAs(principal, stop.signal))) as AsyncIterable<Tracked>);
  return {
    items: stream.items,
    atLeast: stream.atLeast,
    [Symbol.asyncDispose]: async () => {
      stop.abort();
      await stream[Symbol.asyncDispose]();
    },
  };
}

describe.each(engines)('presence on the $name store', ({ setUp, skip }) => {
  let engine: Engine | undefined;
  const disposables: AsyncDisposable[] = [];
  afterEach(async () => {
    for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
    await engine?.dispose();
    engine = undefined;
  });
  /** A hub (and callers) on this test's database, with the shared clock. */
  const hubOn = async (clock: Clock) => {
    engine ??= setUp();
    const testHub = createTestHub({ store: await engine.open(), now: clock.now });
    disposables.push(testHub);
    return testHub;
  };

  it.skipIf(skip)('turns an agent silent for the TTL offline once, with a reason, written by the hub', async () => {
    const clock = new Clock();
    const { caller, hub } = await hubOn(clock);
    const heardAt = new Date(clock.now());
    await caller.publishBatch([
      agentStatus('a-1', 'busy'),
      workflowStarted('wf-1'),
      {
        type: 'workflow.step_started',
        data: { workflowId: 'wf-1', stepId: 'plan', stepType: 'agent', agentId: 'a-1' },
      },
      tddPhaseChanged('t-1', 'red', 'a-1'),
    ]);
    const sweeper = sweeperOf(hub, clock);

    clock.advance(ttlMs - 1);
    expect(await sweeper.sweep()).toEqual([]);
    clock.advance(1);
    const [offline, ...more] = await sweeper.sweep();
    expect(more).toEqual([]);
    expect(offline).toMatchObject({
      type: 'agent.status',
      topic: 'agent:a-1',
      source: presenceSource,
      timestamp: new Date(clock.now()),
      data: { agentId: 'a-1', agentType: 'coder', status: 'offline', reason: 'no event or heartbeat for 60 s' },
    });
    // Written once: the next sweeps find it offline already.
    clock.advance(ttlMs * 10);
    expect(await sweeper.sweep()).toEqual([]);
    expect(offlineOf((await caller.history({})).events)).toHaveLength(1);

    // Every read agrees: the agent's status, presence, and the workflow it works in.
    expect((await caller.agents({ agentIds: ['a-1'] }))[0]?.data.status).toBe('offline');
    expect(await caller.presence({ agentIds: ['a-1'] })).toEqual([
      {
        agentId: 'a-1',
        agentType: 'coder',
        status: 'offline',
        live: false,
        statusEventId: offline?.id,
        since: offline?.timestamp,
        reason: 'no event or heartbeat for 60 s',
        // The hub's own offline event is no sign of life: the agent was last heard of when it published.
        lastSeenAt: heardAt,
      },
    ]);
    expect(await caller.workflow({ workflowId: 'wf-1' })).toMatchObject({
      status: 'running',
      agentId: 'a-1',
      agentStatus: 'offline',
    });
    expect(await caller.workflows()).toMatchObject([{ workflowId: 'wf-1', agentId: 'a-1', agentStatus: 'offline' }]);
    // A TDD task names its agent in every event; presence says where that agent is.
    const [task] = await caller.tddTasks({ taskId: 't-1' });
    expect(await caller.presence({ agentIds: [task?.data.agentId ?? ''] })).toMatchObject([{ live: false }]);
  });

  it.skipIf(skip)('counts any event naming the agent, and a heartbeat, as a sign of life', async () => {
    const clock = new Clock();
    const { caller, hub } = await hubOn(clock);
    const sweeper = sweeperOf(hub, clock);
    await caller.publish(agentStatus('a-1', 'busy'));
    const seen = async () => (await caller.presence({ agentIds: ['a-1'] }))[0]?.lastSeenAt.getTime();

    // A TDD event is not of the agent family, but it names the agent.
    clock.advance(40_000);
    await caller.publish({
      type: 'tdd.test_result',
      data: { agentId: 'a-1', taskId: 't-1', testName: 'parses', status: 'passed' },
    });
    expect(await seen()).toBe(clock.now());
    clock.advance(40_000);
    expect(await sweeper.sweep()).toEqual([]);

    // A heartbeat stores nothing and answers what it knows.
    const head = (await caller.history({ order: 'desc', limit: 1 })).events[0]?.id;
    clock.advance(20_000);
    expect(await caller.heartbeat({ agentIds: ['a-1', 'ghost', 'a-1'] })).toEqual({
      seen: [{ agentId: 'a-1', status: 'busy', live: true }],
      unknown: ['ghost'],
    });
    expect((await caller.history({ order: 'desc', limit: 1 })).events[0]?.id).toBe(head);
    expect(await seen()).toBe(clock.now());
    clock.advance(ttlMs - 1);
    expect(await sweeper.sweep()).toEqual([]);
    clock.advance(1);
    expect(offlineOf(await sweeper.sweep())).toHaveLength(1);

    // Offline stays offline through logs and heartbeats (the answer says so); a status brings it back.
    await caller.publish(agentLog('a-1', 'still here?'));
    expect(await caller.heartbeat({ agentIds: ['a-1'] })).toEqual({
      seen: [{ agentId: 'a-1', status: 'offline', live: false }],
      unknown: [],
    });
    clock.advance(ttlMs * 2);
    expect(await sweeper.sweep()).toEqual([]);
    await caller.publish(agentStatus('a-1', 'idle'));
    expect(await caller.presence({ live: true })).toMatchObject([{ agentId: 'a-1', status: 'idle' }]);
  });

  it.skipIf(skip)('lets exactly one of two hubs on one database write each offline event', async () => {
    const clock = new Clock();
    const a = await hubOn(clock);
    const b = await hubOn(clock);
    const sweepers = [sweeperOf(a.hub, clock), sweeperOf(b.hub, clock)];
    const agentIds = Array.from({ length: 20 }, (_, i) => `a-${i}`);
    for (const round of [1, 2, 3]) {
      await a.caller.publishBatch(agentIds.map((id) => agentStatus(id, round % 2 === 0 ? 'idle' : 'busy')));
      clock.advance(ttlMs);
      // Both sweep at once: both read every agent as silent, and the store lets one of them write each.
      const stored = (await Promise.all(sweepers.map((s) => s.sweep()))).flat();
      expect(
        offlineOf(stored)
          .map((e) => e.data.agentId)
          .sort(),
      ).toEqual([...agentIds].sort());
    }
    const events = (await b.caller.history({ types: ['agent.status'], limit: 1000 })).events;
    for (const id of agentIds) {
      expect(offlineOf(events.filter((e) => e.topic === `agent:${id}`))).toHaveLength(3);
    }
  });

  it.skipIf(skip)('decides inside the commit: an event about the agent stored before the sweep wins', async () => {
    const clock = new Clock();
    const { hub } = await hubOn(clock);
    engine ??= setUp();
    const store = await engine.open();
    disposables.push({ [Symbol.asyncDispose]: () => store.close() });
    await hub.append([publishInputSchema.parse(agentStatus('a-1', 'busy'))]);
    const offline = publishInputSchema.parse({
      type: 'agent.status',
      data: { agentId: 'a-1', agentType: 'coder', status: 'offline', reason: 'silent' },
    });
    const log = (source?: string) => publishInputSchema.parse({ ...agentLog('a-1', 'working'), source });
    const ifSilent = { agentId: 'a-1', seenBefore: clock.now() + ttlMs };
    const storedCounts = (outcomes: Awaited<ReturnType<EventStore['appendGroup']>>) =>
      outcomes.map((o) => (o.ok ? o.result.stored.length : 'failed'));

    // In one group commit, an earlier batch naming the agent counts although its row is written at the end.
    const at = new Date(clock.now());
    expect(
      storedCounts(
        await store.appendGroup(
          [
            { events: [log()], keyOwner: '' },
            { events: [offline], keyOwner: '', ifSilent },
          ],
          at,
        ),
      ),
    ).toEqual([1, 0]);
    // A heartbeat after the cutoff counts the same.
    await store.heartbeat(['a-1'], ifSilent.seenBefore + 1);
    expect(storedCounts(await store.appendGroup([{ events: [offline], keyOwner: '', ifSilent }], at))).toEqual([0]);

    // A batch that fails is rolled back with what it heard; the offline event after it is then stored.
    const later = { agentId: 'a-1', seenBefore: ifSilent.seenBefore + 1 };
    await engine.injectFault();
    expect(
      storedCounts(
        await store.appendGroup(
          [
            { events: [log('explode')], keyOwner: '' },
            { events: [offline], keyOwner: '', ifSilent: later },
          ],
          at,
        ),
      ),
    ).toEqual(['failed', 1]);
    // And only once.
    expect(storedCounts(await store.appendGroup([{ events: [offline], keyOwner: '', ifSilent: later }], at))).toEqual([
      0,
    ]);
    // An agent that never had a status has nothing to go offline from.
    expect(
      storedCounts(
        await store.appendGroup([{ events: [offline], keyOwner: '', ifSilent: { ...later, agentId: 'nobody' } }], at),
      ),
    ).toEqual([0]);
  });
});

describe('presence queries and the presence stream', () => {
  it('streams the live agents first, then only arrivals and departures', async () => {
    const clock = new Clock();
    await using testHub = createTestHub({ now: clock.now });
    const { caller, hub } = testHub;
    await caller.publishBatch([agentStatus('a-1', 'busy'), agentStatus('a-2', 'offline'), agentStatus('a-3', 'idle')]);
    await using changes = await subscribed(testHub, (c) => c.presenceChanges({}));
    await changes.atLeast(2);
    const statuses = () =>
      changes.items.map(([, item]) =>
        item.type === 'agent.status' ? `${item.data.agentId} ${item.data.status}` : item.type,
      );
    expect(statuses()).toEqual(['a-1 busy', 'a-3 idle']);

    // busy → idle changes nothing about presence; offline → busy is an arrival, a new agent too.
    await caller.publishBatch([agentStatus('a-1', 'idle'), agentStatus('a-2', 'busy'), agentStatus('a-4', 'blocked')]);
    await changes.atLeast(4);
    clock.advance(ttlMs);
    await caller.publish(agentLog('a-4', 'still here'));
    await new PresenceSweeper({ hub, ttlMs, now: clock.now }).sweep();
    await changes.atLeast(7);
    expect(statuses()).toEqual([
      'a-1 busy',
      'a-3 idle',
      'a-2 busy',
      'a-4 blocked',
      'a-1 offline',
      'a-2 offline',
      'a-3 offline',
    ]);

    // Resumed from a cursor, each agent's first status after it passes, a-1's idle too: the server cannot know
    // what the client knew. From there on only changes.
    const cursor = changes.items[1]?.[0] ?? '';
    await using resumed = await subscribed(testHub, (c) => c.presenceChanges({ lastEventId: cursor }));
    await resumed.atLeast(6);
    const resumedStatuses = resumed.items.map(([, item]) =>
      item.type === 'agent.status' ? `${item.data.agentId} ${item.data.status}` : item.type,
    );
    expect(resumedStatuses).toEqual(['a-1 idle', ...statuses().slice(2)]);
  });

  it('shows a scoped token only the agents its read scope allows', async () => {
    await using testHub = createTestHub();
    await testHub.caller.publishBatch([agentStatus('team-a-1'), agentStatus('team-b-1'), workflowStarted('wf-1')]);
    await testHub.caller.publish({
      type: 'workflow.step_started',
      data: { workflowId: 'wf-1', stepId: 'plan', stepType: 'agent', agentId: 'team-b-1' },
    });
    const teamA: Principal = {
      role: 'viewer',
      name: 'team-a',
      scopes: { read: ['agent:team-a-*', 'workflow:*'] },
      keyOwner: 'token:team-a',
    };
    const scoped = testHub.callerAs(teamA);
    expect((await scoped.presence()).map((p) => p.agentId)).toEqual(['team-a-1']);
    await using stream = await subscribed(testHub, (c) => c.presenceChanges({}), teamA);
    await stream.atLeast(1);
    await testHub.caller.publishBatch([agentStatus('team-b-2'), agentStatus('team-a-2')]);
    await stream.atLeast(2);
    expect(stream.items.map(([, item]) => item.topic)).toEqual(['agent:team-a-1', 'agent:team-a-2']);
    // The workflow is readable, its agent is not: the agent's status is withheld.
    expect(await scoped.workflow({ workflowId: 'wf-1' })).toMatchObject({ agentId: 'team-b-1', agentStatus: null });
    // A heartbeat is a write to the agent's topic, under the publish scopes.
    const publisher = testHub.callerAs({
      role: 'publisher',
      name: 'team-a-publisher',
      scopes: { publish: ['agent:team-a-*'] },
      keyOwner: 'token:team-a-publisher',
    });
    await expect(publisher.heartbeat({ agentIds: ['team-b-1'] })).rejects.toThrow(
      /may not publish to topic agent:team-b-1/,
    );
    expect((await publisher.heartbeat({ agentIds: ['team-a-1'] })).seen).toHaveLength(1);
  });

  it('validates the TTL setting with a message that names it', () => {
    expect(loadConfig([], {}).presenceTtlMs).toBe(60_000);
    expect(loadConfig(['--presence-ttl-ms', '0'], {}).presenceTtlMs).toBe(0);
    expect(() => loadConfig([], { SWITCHBOARD_PRESENCE_TTL_MS: '50' })).toThrow(ConfigError);
    expect(() => loadConfig([], { SWITCHBOARD_PRESENCE_TTL_MS: '50' })).toThrow(
      'invalid --presence-ttl-ms / SWITCHBOARD_PRESENCE_TTL_MS ("50"): must be 0 (presence off) or 100 to 86400000 ms',
    );
    expect(() => loadConfig(['--presence-ttl-ms', 'soon'], {})).toThrow(/--presence-ttl-ms .*must be a number/);
  });
});

describe('presence on a real server', () => {
  it(
    'turns silent agents and Claude Code sessions offline after the TTL, once, live on every stream',
    { timeout: 20_000 },
    async () => {
      await using server = await startTestServer({ presenceTtlMs: 300 });
      await using client = connect(server.url);
      using changes = collect(client.presenceChanges, {});
      await changes.started();
      const hook = (body: object) =>
        fetch(`${server.url}/ingest/claude-code`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      await client.publish.mutate(agentStatus('coder-9', 'busy'));
      expect((await hook({ session_id: 's-1', hook_event_name: 'SessionStart', source: 'startup' })).status).toBe(200);
      expect((await hook({ session_id: 's-1', hook_event_name: 'UserPromptSubmit', prompt: 'fix it' })).status).toBe(
        200,
      );
      // A session that ends says so at once.
      await hook({ session_id: 's-2', hook_event_name: 'SessionStart' });
      await hook({ session_id: 's-2', hook_event_name: 'SessionEnd', reason: 'logout' });
      // A heartbeat over plain HTTP, as a script would send it.
      const beat = await fetch(`${server.url}/trpc/heartbeat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agentIds: ['coder-9'] }),
      });
      expect(beat.status).toBe(200);

      const departed = () => offlineOf(changes.items.map((item) => item.data));
      await waitUntil('three agents to go offline', () => departed().length === 3, 10_000);
      expect(Object.fromEntries(departed().map((e) => [e.data.agentId, e.data.reason]))).toEqual({
        'coder-9': 'no event or heartbeat for 300 ms',
        's-1': 'no event or heartbeat for 300 ms',
        's-2': 'session ended (logout)',
      });
      expect(await client.workflow.query({ workflowId: 's-1' })).toMatchObject({
        status: 'running',
        agentId: 's-1',
        agentStatus: 'offline',
      });
      // Sweeps go on: an agent published now goes offline too, and the earlier ones were not written again.
      await client.publish.mutate(agentStatus('late', 'idle'));
      await waitUntil('the late agent to go offline', () => departed().length === 4, 10_000);
      const stored = offlineOf(await storedEvents(server.url));
      expect(stored.map((e) => e.data.agentId).sort()).toEqual(['coder-9', 'late', 's-1', 's-2']);
      expect(await client.presence.query({ live: true })).toEqual([]);
    },
  );

  it('says goodbye from Publisher.close() only when asked to', { timeout: 20_000 }, async () => {
    // Presence is off: anything offline here was said by the Publisher.
    await using server = await startTestServer({ presenceTtlMs: 0 });
    await using client = connect(server.url);
    const polite = createPublisher({ url: server.url, WebSocket, goodbye: true });
    const quiet = createPublisher({ url: server.url, WebSocket });
    for (const status of ['idle', 'busy'] as const) polite.publish(agentStatus('polite-1', status));
    polite.publish(agentStatus('polite-2', 'busy'));
    polite.publish(agentStatus('polite-3', 'offline'));
    quiet.publish(agentStatus('quiet-1', 'busy'));
    expect(await polite.close()).toEqual({ unsent: 0 });
    expect(await quiet.close()).toEqual({ unsent: 0 });
    const presence = await client.presence.query();
    expect(presence.map((p) => [p.agentId, p.status, p.reason])).toEqual([
      ['polite-1', 'offline', 'publisher closed'],
      ['polite-2', 'offline', 'publisher closed'],
      ['polite-3', 'offline', undefined],
      ['quiet-1', 'busy', undefined],
    ]);
    // One goodbye each, none for the agent that was offline already.
    expect(offlineOf(await storedEvents(server.url))).toHaveLength(3);
    // Typed for the client from the router.
    expectTypeOf(presence).toEqualTypeOf<AgentPresence[]>();

    // The command line's tail of the presence stream starts with who is live: the quiet Publisher's agent alone.
    const out = { text: '', write: (t: string) => (out.text += t) };
    const watched = await run({
      argv: ['watch', 'presenceChanges', '--limit', '1', '--url', server.url],
      stdout: out,
      stderr: { write: () => true },
      env: {},
    });
    expect(watched).toBe(0);
    expect(out.text).toMatch(/^#\d+ +\d\d:\d\d:\d\d {2}agent\.status +agent:quiet-1 +busy · task-1 40%\n$/);
  });

  it("turns the demo's agents offline when it is stopped", { timeout: 20_000 }, async () => {
    await using server = await startTestServer({ presenceTtlMs: 0 });
    await using client = connect(server.url);
    const stop = new AbortController();
    const out = { text: '', write: (t: string) => (out.text += t) };
    const demo = run({
      argv: ['demo', '--agents', '3', '--rate', '100', '--seed', '7', '--url', server.url],
      stdout: out,
      stderr: { write: () => true },
      env: {},
      signal: stop.signal,
    });
    await vi.waitFor(
      async () => {
        expect(await client.presence.query({ live: true })).toHaveLength(3);
      },
      { timeout: 10_000, interval: 20 },
    );
    stop.abort();
    expect(await demo).toBe(0);
    expect(out.text).toContain('demo: said goodbye: its agents are offline ("demo stopped")');
    expect((await client.presence.query()).map((p) => [p.agentId, p.status, p.reason])).toEqual([
      ['agent-001', 'offline', 'demo stopped'],
      ['agent-002', 'offline', 'demo stopped'],
      ['agent-003', 'offline', 'demo stopped'],
    ]);
  });
});

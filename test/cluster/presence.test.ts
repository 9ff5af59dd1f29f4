/**
 * Presence across real processes: two nodes on one PostgreSQL sweep for the same silent agents at once, and the
 * store lets exactly one of them write each offline event; a server restarted on its database finds the silence
 * there (nothing of presence lives in a process's memory). The TTL is 300 ms, so each node sweeps every 75 ms.
 */
import { expect, it, vi } from 'vitest';
import {
  isEventOf,
  publishInputSchema,
  type AnyEnvelope,
  type EnvelopeOf,
  type EventEnvelope,
} from '@switchboard/shared';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { cluster } from '../cluster-harness.js';
import { describeWith } from '../engines.js';
import { collect, connect, spawnServer, storedEvents, tempDir, waitUntil } from '../harness.js';
import { agentStatus } from '../fixtures.js';

const ttl = ['--presence-ttl-ms', '300'];

const isStatus = isEventOf(['agent.status']);
const offline = (events: readonly AnyEnvelope[]): EnvelopeOf<'agent.status'>[] =>
  events.filter(isStatus).filter((e) => e.data.status === 'offline');
/** How many offline events each agent has. */
const offlineCounts = (events: readonly EventEnvelope[]) => {
  const counts: Record<string, number> = {};
  for (const e of offline(events)) counts[e.data.agentId] = (counts[e.data.agentId] ?? 0) + 1;
  return counts;
};

describeWith(['postgres', 'redis'], 'presence on two nodes', () => {
  it('writes each offline event once, whichever node sweeps first', { timeout: 60_000 }, async () => {
    await using c = await cluster(2, true, () => ({ flags: ttl }));
    const [a, b] = c.nodes.map((node) => connect(node.url));
    if (!a || !b) throw new Error('two nodes expected');
    try {
      const watching = [a, b].map((client) => collect(client.presenceChanges, {}));
      await Promise.all(watching.map((w) => w.started()));
      const agentIds = Array.from({ length: 12 }, (_, i) => `agent-${i}`);
      for (const round of [1, 2]) {
        // Half the agents report through each node; then all of them fall silent.
        await Promise.all([
          a.publishBatch.mutate(agentIds.slice(0, 6).map((id) => agentStatus(id, 'busy'))),
          b.publishBatch.mutate(agentIds.slice(6).map((id) => agentStatus(id, 'idle'))),
        ]);
        const expected = Object.fromEntries(agentIds.map((id) => [id, round]));
        for (const w of watching) {
          await waitUntil(
            () => `round ${round}: every agent offline on this node (${offline(w.items.map((i) => i.data)).length})`,
            () => offline(w.items.map((i) => i.data)).length === agentIds.length * round,
            15_000,
          );
        }
        // Both nodes saw the same departures, in the same order, each agent once per silence.
        const [first, second] = watching.map((w) => offline(w.items.map((i) => i.data)).map((e) => e.id));
        expect(second).toEqual(first);
        expect(offlineCounts(await storedEvents(c.nodes[0]?.url ?? ''))).toEqual(expected);
      }
      // Every node swept: the one that wrote each event is not decided by luck but by the store.
      const presence = await b.presence.query();
      expect(presence.map((p) => [p.agentId, p.live, p.reason])).toEqual(
        [...agentIds].sort().map((id) => [id, false, 'no event or heartbeat for 300 ms']),
      );
      for (const w of watching) w[Symbol.dispose]();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

it(
  'keeps presence across restarts: the silence is in the store, and nothing is written twice',
  { timeout: 60_000 },
  async () => {
    using dir = tempDir();
    const db = dir.file('presence.db');
    /** Waits until the agent is offline, polling the presence query. */
    const untilOffline = async (url: string, agentId: string) => {
      await using client = connect(url);
      return await vi.waitFor(
        async () => {
          const [agent] = await client.presence.query({ agentIds: [agentId] });
          if (!agent || agent.live) throw new Error(`${agentId} is still ${agent?.status ?? 'unknown'}`);
          return agent;
        },
        { timeout: 10_000, interval: 25 },
      );
    };

    // 1. A node with a TTL of 300 ms turns `gone` offline.
    {
      await using node = await spawnServer({ db, flags: ttl });
      await using client = connect(node.url);
      await client.publish.mutate(agentStatus('gone', 'busy'));
      await untilOffline(node.url, 'gone');
      await node.kill();
    }
    // 2. While no server runs, `stays` is in the file as live: stored through a store of the file's own, as a
    // server stopped right after its report would have left it (no server's sweep can come first).
    {
      const store = createSqliteStore(openDatabase(db, 'normal'));
      await store.append([publishInputSchema.parse(agentStatus('stays', 'busy'))]);
      expect((await store.presence({})).map((p) => [p.status.data.agentId, p.status.data.status])).toEqual([
        ['gone', 'offline'],
        ['stays', 'busy'],
      ]);
      await store.close();
    }
    // 3. Restarted with the TTL: `stays` was live before the restart and stayed silent, so it goes offline now;
    // `gone` was offline already and is not written again.
    await using node = await spawnServer({ db, flags: ttl });
    const stays = await untilOffline(node.url, 'stays');
    expect(stays.reason).toBe('no event or heartbeat for 300 ms');
    // Later sweeps happen (a new agent goes offline too) and still write nothing more for the other two.
    await using client = connect(node.url);
    await client.publish.mutate(agentStatus('late', 'idle'));
    await untilOffline(node.url, 'late');
    expect(offlineCounts(await storedEvents(node.url))).toEqual({ gone: 1, stays: 1, late: 1 });
  },
);

/**
 * Three server processes on one PostgreSQL and Redis: publishers on two nodes at once, a subscriber on each
 * node, and every subscriber sees the same events in the same order, exactly once.
 */
import { expect, it } from 'vitest';
import { cluster, expectExactlyOnceInOrder, publish } from '../cluster-harness.js';
import { describeWith } from '../engines.js';
import { collect, connect } from '../harness.js';

describeWith(['postgres', 'redis'], 'three nodes on PostgreSQL and Redis', () => {
  it('gives every subscriber the same events in the same order, exactly once', { timeout: 40_000 }, async () => {
    await using c = await cluster(3, true);
    const clients = c.nodes.map((node) => connect(node.url));
    try {
      const subscribers = clients.map((client) => collect(client.events, {}));
      await Promise.all(subscribers.map((s) => s.started()));
      const total = 3_000;
      await Promise.all([
        publish(c.nodes[0]?.url ?? '', 'lane-a', total / 2),
        publish(c.nodes[1]?.url ?? '', 'lane-b', total / 2),
      ]);
      await Promise.all(subscribers.map((s) => s.atLeast(total, 20_000)));
      const orders = subscribers.map((s) => s.items.map((e) => e.data.id));
      for (const ids of orders) expectExactlyOnceInOrder(ids, total);
      expect(orders[1]).toEqual(orders[0]);
      expect(orders[2]).toEqual(orders[0]);
      // Both lanes interleave in the one order, each lane in its own publish order.
      const laneA = subscribers[2]?.items.flatMap((e) =>
        'key' in e.data && e.data.key?.startsWith('lane-a-') ? [e.data.key] : [],
      );
      expect(laneA).toEqual(Array.from({ length: total / 2 }, (_, i) => `lane-a-${i}`));
    } finally {
      for (const client of clients) await client.close();
    }
  });
});

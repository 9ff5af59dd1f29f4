/**
 * A subscriber given three nodes' URLs; its node is SIGKILLed mid-stream; it moves to the next node and resumes
 * from its cursor, ending with every event exactly once, in order. With Redis, and with PostgreSQL only.
 */
import { expect, it } from 'vitest';
import { cluster, expectExactlyOnceInOrder, publish } from '../cluster-harness.js';
import { describeWith } from '../engines.js';
import { collect, connect } from '../harness.js';

function failover(redis: boolean) {
  return () => {
    it('moves to the next node and ends with every event once, in order', { timeout: 30_000 }, async () => {
      await using c = await cluster(3, redis);
      const [a, b, third] = c.nodes;
      if (!a || !b || !third) throw new Error('three nodes expected');
      await using subscriber = connect([a.url, b.url, third.url]);
      const stream = collect(subscriber.events, { lastEventId: '0' });
      await stream.started();
      const total = 3_000;
      const publishing = publish(b.url, 'lane-b', total, 50);
      await stream.atLeast(500, 20_000);
      await a.kill();
      await publishing;
      await stream.atLeast(total, 20_000);
      expectExactlyOnceInOrder(
        stream.items.map((e) => e.data.id),
        total,
      );
      // It was acknowledged again after the kill: by another node, the killed one being gone.
      expect(stream.starts).toBeGreaterThanOrEqual(2);
    });
  };
}

describeWith(['postgres', 'redis'], 'failover on PostgreSQL and Redis', failover(true));
describeWith(['postgres'], 'failover on PostgreSQL only (NOTIFY)', failover(false));

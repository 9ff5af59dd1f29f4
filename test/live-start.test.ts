/**
 * A subscription without a cursor starts from what this process has dispatched, not from the store's head: on a
 * node of a cluster the head runs ahead of the bus (another node's commit whose message is still on its way), and
 * events in that window must still reach a subscriber that started before they were delivered. The bus here
 * holds messages until told, as a slow network would (a fault injected on purpose); the store is a real SQLite.
 */
import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@switchboard/shared';
import { createMemoryBus } from '../server/bus/memory.js';
import type { EventBus } from '../server/bus/types.js';
import { createHub } from '../server/core/hub.js';
import { openDatabase } from '../server/store/sqlite-db.js';
import { createSqliteStore } from '../server/store/sqlite.js';
import { agentStatus } from './fixtures.js';
import { drain } from './harness.js';

/** An in-process bus whose messages wait in a queue until `release()`. */
function holdingBus(): EventBus & { release(): void } {
  const inner = createMemoryBus();
  const held: (readonly EventEnvelope[])[] = [];
  return {
    publish: (events) => held.push(events),
    subscribe: (listener) => inner.subscribe(listener),
    release: () => {
      for (const events of held.splice(0)) inner.publish(events);
    },
  };
}

describe('a live subscription on a process whose bus lags the store', () => {
  it('gets the events committed before it started but delivered after, once each, in order', async () => {
    const store = createSqliteStore(openDatabase(':memory:'));
    try {
      const bus = holdingBus();
      const hub = createHub({ store, bus });
      await hub.append([agentStatus('first')]);
      bus.release();
      // Committed (the store's head is 4) but not yet dispatched here.
      await hub.append([agentStatus('a'), agentStatus('b'), agentStatus('c')]);
      const controller = new AbortController();
      const stream = drain(hub.stream({ filter: {} }, controller.signal));
      // The subscription has read its start before the held messages arrive.
      await hub.append([agentStatus('d')]);
      bus.release();
      await stream.atLeast(4);
      controller.abort();
      expect(stream.items.map((item) => item.id)).toEqual(['2', '3', '4', '5']);
      expect(stream.errors).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

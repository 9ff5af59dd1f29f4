/**
 * A subscription without a cursor starts from what this process has dispatched, not from the store's head: on a
 * node of a cluster the head runs ahead of the bus (another node's commit whose message is still on its way), and
 * events in that window must still reach a subscriber that started before they were delivered. The bus here
 * holds messages until told, as a slow network would (a fault injected on purpose); the store is a real SQLite.
 */
import { describe, expect, it, vi } from 'vitest';
import type { EventEnvelope } from '@switchboard/shared';
import { createMemoryBus } from '../../server/bus/memory.js';
import type { EventBus } from '../../server/core/bus.js';
import { createHub } from '../../server/core/hub.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import type { EventStore } from '../../server/core/store.js';
import { agentStatus, workflowStarted } from '../fixtures.js';
import { drain } from '../harness.js';

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

describe('when a subscription is acknowledged', () => {
  it('says started only once its start is fixed: after the snapshot is read, before its items', async () => {
    const real = createSqliteStore(openDatabase(':memory:'));
    try {
      await createHub({ store: real, bus: createMemoryBus() }).append([workflowStarted('wf-1')]);
      const calls: string[] = [];
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // The snapshot read waits for the test, as a slow store would.
      const store: EventStore = Object.create(real) as EventStore;
      store.snapshot = async (kind, filter) => {
        await gate;
        calls.push('snapshot read');
        return real.snapshot(kind, filter);
      };
      const hub = createHub({ store, bus: createMemoryBus() });
      const stream = hub.open(
        { filter: {}, snapshot: 'workflows' },
        {
          push: (item) => calls.push(`item ${item.id}`) > 0,
          fail: (error) => calls.push(`failed ${String(error)}`),
          started: () => calls.push('started'),
        },
      );
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toEqual([]);
      release();
      await vi.waitFor(() => {
        expect(calls).toEqual(['snapshot read', 'started', 'item 1']);
      });
      stream.close();
    } finally {
      await real.close();
    }
  });
});

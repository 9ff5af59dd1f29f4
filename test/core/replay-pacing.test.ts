/**
 * A replay whose sink fills (its `push` says no, as a Server-Sent Events response past its window does) pauses
 * mid-page and goes on when told to, with the rest of the page it read: every stored row is read from the store
 * once, and every event arrives once, in order. Events committed while it waits follow.
 */
import { describe, expect, it } from 'vitest';
import { publishInputSchema, type StreamItem } from '@switchboard/shared';
import { createMemoryBus } from '../../server/bus/memory.js';
import type { EventStore } from '../../server/core/store.js';
import { createHub } from '../../server/core/hub.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { agentLog } from '../fixtures.js';
import { waitUntil } from '../harness.js';

const stored = 5_000;
/** Items the sink takes before it says it is full, each time it has drained. */
const window = 300;

const logs = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) =>
    publishInputSchema.parse(agentLog(`agent-${(from + i) % 7}`, `line ${from + i}`)),
  );

/** The store, with the rows each `readAfter` returned counted (the real store answers). */
function counted(store: EventStore): { store: EventStore; rowsRead: () => number } {
  let rows = 0;
  const wrapped = new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (key === 'readAfter') {
        return async (...args: Parameters<EventStore['readAfter']>) => {
          const page = await target.readAfter(...args);
          rows += page.length;
          return page;
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, rowsRead: () => rows };
}

describe('replay pacing', () => {
  it('resumes a replay its sink paused with the rest of the page, reading each row once', async () => {
    const sqlite = createSqliteStore(openDatabase(':memory:'));
    const { store, rowsRead } = counted(sqlite);
    const hub = createHub({ store, bus: createMemoryBus() });
    try {
      for (let i = 0; i < stored; i += 1_000) await hub.append(logs(i, 1_000));
      const items: StreamItem[] = [];
      // What the sink holds unsent since it last drained, and whether it said it was full.
      const sink = { unsent: 0, full: false };
      const failures: unknown[] = [];
      const stream = hub.open(
        { filter: {}, lastEventId: '0' },
        {
          push(item) {
            items.push(item);
            sink.unsent++;
            sink.full = sink.unsent >= window;
            return !sink.full;
          },
          fail: (error) => failures.push(error),
        },
      );
      let pauses = 0;
      while (items.length < stored) {
        await waitUntil('the sink to fill or the replay to end', () => sink.full || items.length >= stored, 5_000);
        if (!sink.full) break;
        pauses++;
        // The first time, more events are committed while the sink waits: they follow the replay.
        if (pauses === 1) await hub.append(logs(stored, 5));
        sink.unsent = 0;
        sink.full = false;
        stream.resume();
      }
      await waitUntil(`${stored + 5} items`, () => items.length === stored + 5, 5_000);
      stream.close();
      expect(failures).toEqual([]);
      expect(pauses).toBeGreaterThanOrEqual(stored / window - 1);
      expect(items.map((item) => Number(item.id))).toEqual(Array.from({ length: stored + 5 }, (_, i) => i + 1));
      // Each stored row once, and the five committed during the replay at most twice (the live path holds them
      // while the replay reads its last page, which may include them).
      expect(rowsRead()).toBeGreaterThanOrEqual(stored);
      expect(rowsRead()).toBeLessThanOrEqual(stored + 10);
    } finally {
      await sqlite.close();
    }
  });
});

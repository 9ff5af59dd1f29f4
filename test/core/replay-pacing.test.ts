/**
 * A replay whose sink fills (its `push` says no, as a Server-Sent Events response past its window does) pauses
 * mid-page and goes on when told to, with what it read of the page up to `keptReplayBytes`: small events are read
 * from the store once; of large ones it keeps only that much, and reads the rest again. Every event arrives once,
 * in order, and events committed while it waits follow.
 */
import { describe, expect, it } from 'vitest';
import { publishInputSchema, type StreamItem } from '@switchboard/shared';
import { createMemoryBus } from '../../server/bus/memory.js';
import type { EventStore } from '../../server/core/store.js';
import { createHub } from '../../server/core/hub.js';
import { keptReplayBytes } from '../../server/core/stream.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { agentLog } from '../fixtures.js';
import { waitUntil } from '../harness.js';

/** Items the sink takes before it says it is full, each time it has drained. */
const window = 300;

const logs = (from: number, n: number, size: number) =>
  Array.from({ length: n }, (_, i) =>
    publishInputSchema.parse(agentLog(`agent-${(from + i) % 7}`, `line ${from + i} `.padEnd(size, '.'))),
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

/**
 * Stores `stored` events of `size` bytes of message each, replays them from "0" to a sink that fills every
 * `window` items and is drained as soon as it does (five more events are committed during the first wait),
 * and answers the rows the store returned.
 */
async function replayPaused(stored: number, size: number): Promise<number> {
  const sqlite = createSqliteStore(openDatabase(':memory:'));
  const { store, rowsRead } = counted(sqlite);
  const hub = createHub({ store, bus: createMemoryBus() });
  try {
    for (let i = 0; i < stored; i += 1_000) await hub.append(logs(i, Math.min(1_000, stored - i), size));
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
      if (pauses === 1) await hub.append(logs(stored, 5, size));
      sink.unsent = 0;
      sink.full = false;
      stream.resume();
    }
    await waitUntil(`${stored + 5} items`, () => items.length === stored + 5, 5_000);
    stream.close();
    expect(failures).toEqual([]);
    expect(pauses).toBeGreaterThanOrEqual(stored / window - 1);
    expect(items.map((item) => Number(item.id))).toEqual(Array.from({ length: stored + 5 }, (_, i) => i + 1));
    return rowsRead();
  } finally {
    await sqlite.close();
  }
}

describe('replay pacing', () => {
  it('resumes a replay its sink paused with the rest of the page, reading each row once', async () => {
    // 5,000 small events: what a pause leaves of a page fits in keptReplayBytes. The five committed
    // during the replay may be read twice (the live path holds them while the last page is read).
    const rows = await replayPaused(5_000, 20);
    expect(rows).toBeGreaterThanOrEqual(5_000);
    expect(rows).toBeLessThanOrEqual(5_010);
  });

  it('keeps at most keptReplayBytes of a page of large events and reads the rest again', async () => {
    // 2,000 events of 4 KB: a page's rest after a pause is ~700 of them (about 3 MB), several times the budget.
    const size = 4_096;
    expect(700 * size).toBeGreaterThan(4 * keptReplayBytes);
    const rows = await replayPaused(2_000, size);
    expect(rows).toBeGreaterThan(2_000 + 1_000);
  });
});

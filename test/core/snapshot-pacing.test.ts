/**
 * A snapshot goes out at the pace its subscriber drains, like a replay: a sink that models a socket (unsent
 * bytes counted per item, drained when the test says so) is asked after every item whether it can take more,
 * and the stream waits for it. Events committed meanwhile follow the snapshot once each, in order. Over a real
 * WebSocket, a snapshot many times the slow-consumer bound arrives whole without the connection being cut.
 */
import { describe, expect, it, vi } from 'vitest';
import { publishInputSchema, type StreamItem } from '@switchboard/shared';
import { createMemoryBus } from '../../server/bus/memory.js';
import { createHub } from '../../server/core/hub.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { agentStatus } from '../fixtures.js';
import { collect, connect, startTestServer } from '../harness.js';

const agents = 3_000;
/** What the socket may hold unsent before the stream must wait, in items (the replay window, in bytes, in life). */
const window = 100;

const statuses = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => publishInputSchema.parse(agentStatus(`agent-${from + i}`)));

describe('snapshot pacing', () => {
  it('pushes a large snapshot in paced pages within the window, then goes live with nothing lost', async () => {
    const store = createSqliteStore(openDatabase(':memory:'));
    const hub = createHub({ store, bus: createMemoryBus() });
    try {
      for (let i = 0; i < agents; i += 1_000) await hub.append(statuses(i, 1_000));
      const items: StreamItem[] = [];
      let unsent = 0;
      let peak = 0;
      let waiting: (() => void) | undefined;
      const failures: unknown[] = [];
      const stream = hub.open(
        { filter: {}, snapshot: 'agents' },
        {
          push(item) {
            items.push(item);
            unsent++;
            peak = Math.max(peak, unsent);
            return true;
          },
          fail: (error) => failures.push(error),
          ready(resume) {
            if (unsent < window) return true;
            waiting = resume;
            return false;
          },
        },
      );
      // The socket drains only when the test says so; the first time, more events are committed meanwhile.
      let pauses = 0;
      while (items.length < agents) {
        await vi.waitFor(
          () => {
            expect(waiting !== undefined || items.length >= agents).toBe(true);
          },
          { timeout: 5_000, interval: 1 },
        );
        const resume = waiting;
        if (!resume) break;
        waiting = undefined;
        pauses++;
        if (pauses === 1) await hub.append(statuses(agents, 5));
        unsent = 0;
        resume();
      }
      expect(peak).toBeLessThanOrEqual(window);
      expect(pauses).toBeGreaterThanOrEqual(agents / window - 1);
      await vi.waitFor(
        () => {
          expect(items.length).toBe(agents + 5);
        },
        { timeout: 5_000, interval: 1 },
      );
      stream.close();
      expect(failures).toEqual([]);
      expect(items.map((item) => Number(item.id))).toEqual(Array.from({ length: agents + 5 }, (_, i) => i + 1));
    } finally {
      await store.close();
    }
  });

  it('keeps a real socket under the slow-consumer bound while a snapshot many times larger goes out', async () => {
    const limit = 64 * 1024;
    await using server = await startTestServer({ slowConsumerBytes: limit });
    await using client = connect(server.url);
    for (let i = 0; i < agents; i += 1_000) {
      await client.publishBatch.mutate(Array.from({ length: 1_000 }, (_, j) => agentStatus(`agent-${i + j}`)));
    }
    // About 1 MB of state: sixteen times what the socket may hold unsent.
    using snapshot = collect(client.agentStatus, {});
    await snapshot.atLeast(agents);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const value = (name: string) =>
      Number(
        metrics
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.split(' ')[1],
      );
    expect(value('switchboard_slow_consumer_disconnects_total')).toBe(0);
    expect(value('switchboard_unsent_bytes_peak')).toBeLessThanOrEqual(limit);
    expect(snapshot.starts).toBe(1);
    expect(snapshot.items.map((item) => Number(item.data.id))).toEqual(Array.from({ length: agents }, (_, i) => i + 1));
  });
});

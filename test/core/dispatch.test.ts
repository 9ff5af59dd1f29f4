/**
 * How a group commit's events reach live streams: each stream is told, with every event it takes but the last,
 * that more follow, so that a transport can write them together and the last at once (the WebSocket writer
 * does: test/transports/socket-writer.test.ts). Real SQLite store, memory bus and hub.
 */
import { describe, expect, it } from 'vitest';
import type { StreamItem } from '@switchboard/shared';
import { createMemoryBus } from '../../server/bus/memory.js';
import { createHub } from '../../server/core/hub.js';
import type { EventFilter } from '../../server/core/filter.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { agentStatus } from '../fixtures.js';

describe('dispatch of a group commit', () => {
  it('tells each live stream which of the events it takes is its last', async () => {
    const store = createSqliteStore(openDatabase(':memory:'));
    try {
      const hub = createHub({ store, bus: createMemoryBus() });
      const open = async (filter: EventFilter) => {
        const pushed: [id: string, more: boolean][] = [];
        await new Promise<void>((started) => {
          hub.open(
            { filter },
            {
              push(item: StreamItem, _shared: boolean, more = false) {
                pushed.push([item.id, more]);
                return true;
              },
              fail(error) {
                throw error;
              },
              started,
            },
          );
        });
        return pushed;
      };
      const everything = await open({});
      const firstOnly = await open({ agentIds: ['a-1'] });
      const middleOnly = await open({ agentIds: ['a-2'] });
      // One batch: one commit, dispatched as one message of three events.
      await hub.append([agentStatus('a-1'), agentStatus('a-2'), agentStatus('a-3')]);
      // A lone event says nothing follows.
      await hub.append([agentStatus('a-2')]);
      expect(everything).toEqual([
        ['1', true],
        ['2', true],
        ['3', false],
        ['4', false],
      ]);
      expect(firstOnly).toEqual([['1', false]]);
      expect(middleOnly).toEqual([
        ['2', false],
        ['4', false],
      ]);
      await hub.drained();
    } finally {
      await store.close();
    }
  });
});

describe('commit times for the delivery metric', () => {
  it('knows when each of its recent commits stored an event, and nothing of the events it did not store', async () => {
    const store = createSqliteStore(openDatabase(':memory:'));
    try {
      const hub = createHub({ store, bus: createMemoryBus() });
      // Another node's hub on the same store: the ids it takes fall between this hub's commits.
      const other = createHub({ store, bus: createMemoryBus() });
      const before = performance.now();
      const first = await hub.append([agentStatus('a-1'), agentStatus('a-2'), agentStatus('a-3')]);
      await other.append([agentStatus('b-1')]);
      const second = await hub.append([agentStatus('a-1')]);
      expect(first.map((e) => e.id)).toEqual(['1', '2', '3']);
      expect(second.map((e) => e.id)).toEqual(['5']);
      const firstAt = hub.committedAt({ id: '1' });
      expect(firstAt).toBeGreaterThanOrEqual(before);
      for (const envelope of first) expect(hub.committedAt(envelope)).toBe(firstAt);
      expect(hub.committedAt({ id: '4' })).toBeUndefined();
      expect(hub.committedAt({ id: '5' })).toBeGreaterThanOrEqual(firstAt ?? Infinity);
      expect(hub.committedAt({ id: '6' })).toBeUndefined();
      expect(other.committedAt({ id: '4' })).toBeGreaterThanOrEqual(before);
      // The oldest are forgotten once 256 later commits are kept.
      for (let i = 0; i < 256; i++) await hub.append([agentStatus('a-1')]);
      expect(hub.committedAt({ id: '5' })).toBeUndefined();
      expect(hub.committedAt({ id: '6' })).toBeGreaterThanOrEqual(firstAt ?? Infinity);
      await hub.drained();
      await other.drained();
    } finally {
      await store.close();
    }
  });
});

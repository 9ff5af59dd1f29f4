/**
 * Retention bounds the log without losing current state, and a subscriber whose cursor fell behind it gets an
 * explicit reset notice followed by the current state, never a silent gap.
 */
import { describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { agentLog, agentStatus } from '../fixtures.js';
import { collect, connect, startTestServer } from '../harness.js';

describe('retention', () => {
  it('deletes the oldest events in chunks but keeps each entity’s current state', async () => {
    const store = createSqliteStore(openDatabase(':memory:'));
    // 3 agents' statuses first (ids 1-3), then 100 logs (4-103), then agent a-0 again (104).
    await store.append([agentStatus('a-0'), agentStatus('a-1'), agentStatus('a-2')]);
    await store.append(Array.from({ length: 100 }, (_, i) => agentLog('a-0', `log ${i}`)));
    await store.append([agentStatus('a-0', 'idle')]);

    const policy = { maxAgeMs: 0, maxRows: 10, limit: 40, now: Date.now() };
    const first = await store.prune(policy);
    expect(first).toEqual({ deleted: 40, watermark: 42, more: true });
    let last = first;
    while (last.more) last = await store.prune(policy);
    // Everything up to the 11th newest (id 94) is gone, except a-1's and a-2's current status.
    expect(last.watermark).toBe(94);
    const kept = await store.readAfter(0, {}, 1000);
    expect(kept.map((e) => Number(e.id))).toEqual([2, 3, ...Array.from({ length: 10 }, (_, i) => 95 + i)]);
    expect((await store.agents()).map((e) => e.id)).toEqual(['2', '3', '104']);
    expect(await store.prune(policy)).toEqual({ deleted: 0, watermark: 94, more: false });

    // By age: everything received before the cutoff goes, up to the first younger event.
    const later = policy.now + 60_000;
    await store.append([agentLog('a-1', 'fresh')]);
    const byAge = await store.prune({ maxAgeMs: 30_000, maxRows: 0, limit: 1000, now: later + 30_001 });
    expect(byAge.watermark).toBe(105);
    await store.close();
  });

  it('sends a reset notice, then current state, to a cursor behind the watermark', async () => {
    await using server = await startTestServer({ retentionRows: 20, retentionIntervalMs: 20 });
    await using client = connect(server.url);
    await client.publishBatch.mutate(Array.from({ length: 5 }, (_, i) => agentStatus(`a-${i}`)));
    await client.publishBatch.mutate(Array.from({ length: 100 }, (_, i) => agentLog(`a-${i % 5}`, `log ${i}`)));
    // 105 events, 20 kept: the 21st newest (#85) and everything before it goes, but the five current statuses.
    await vi.waitFor(
      async () => {
        expect((await client.history.query({})).retainedAfter).toBe('85');
      },
      { timeout: 10_000, interval: 20 },
    );

    using agents = collect(client.agentStatus, { lastEventId: '3' });
    await agents.atLeast(6);
    const [reset, ...state] = agents.items;
    expect(reset?.data).toMatchObject({
      type: 'stream.reset',
      id: '85',
      data: { reason: 'retention', requestedAfter: '3', retainedAfter: '85' },
    });
    expect(state.map((s) => s.data.id)).toEqual(['1', '2', '3', '4', '5']);
    await client.publish.mutate(agentStatus('a-0', 'idle'));
    await agents.atLeast(7);
    expect(agents.items.at(-1)?.data.id).toBe('106');

    // The firehose has no state to give: reset, then everything kept after the watermark. Retention keeps
    // running, and #106 pushed #86 past the row limit too, so the watermark is 85 or 86 by now.
    using firehose = collect(client.events, { lastEventId: '0' });
    await firehose.atLeast(1);
    const [notice] = firehose.items;
    expect(notice?.data.type).toBe('stream.reset');
    const watermark = Number(notice?.data.id);
    expect([85, 86]).toContain(watermark);
    await firehose.atLeast(1 + 106 - watermark);
    expect(firehose.items.map((i) => Number(i.data.id))).toEqual([
      watermark,
      ...Array.from({ length: 106 - watermark }, (_, i) => watermark + 1 + i),
    ]);

    // A cursor at or past the watermark resumes as usual, with no reset.
    using current = collect(client.events, { lastEventId: '100' });
    await current.atLeast(6);
    expect(current.items.map((i) => i.data.type)).not.toContain('stream.reset');
  });
});

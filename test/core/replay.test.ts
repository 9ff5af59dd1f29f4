/**
 * A subscriber far behind replays at the pace its socket drains: the server reads the store a page at a time
 * and waits for the socket between pages, so a long replay is never mistaken for a slow consumer and never
 * piles up in memory.
 */
import { describe, expect, it } from 'vitest';
import { agentLog } from '../fixtures.js';
import { collect, connect, startTestServer } from '../harness.js';

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('replay', () => {
  it('replays far more than the slow-consumer limit without cutting the subscriber', { timeout: 60_000 }, async () => {
    // 1 MiB of unsent bytes cuts a live subscriber; the backlog below is about ten times that as frames.
    await using server = await startTestServer({ slowConsumerBytes: 1024 * 1024, publishRate: 1_000_000 });
    await using publisher = connect(server.url);
    const total = 30_000;
    for (let i = 0; i < total; i += 1_000) {
      await publisher.publishBatch.mutate(
        Array.from({ length: 1_000 }, (_, j) => agentLog(`agent-${(i + j) % 20}`, `line ${i + j}`)),
      );
    }
    await using reader = connect(server.url);
    using replay = collect(reader.events, { lastEventId: '0' });
    await replay.atLeast(total, 45_000);
    expect(replay.items.map((e) => e.data.id)).toEqual(Array.from({ length: total }, (_, i) => String(i + 1)));
    expect(await metric(server.url, 'switchboard_slow_consumer_disconnects_total')).toBe(0);
    // And it is live afterwards.
    await publisher.publish.mutate(agentLog('agent-0', 'after the replay'));
    await replay.atLeast(total + 1);
    expect(replay.items.at(-1)?.data.id).toBe(String(total + 1));
  });
});

/**
 * `switchboard_events_delivered_total` counts every event handed to a subscriber, by procedure: counted as a
 * plain number at each delivery and added to the counter when `/metrics` is scraped, so a scrape neither loses
 * a delivery nor counts one twice.
 */
import { describe, expect, it } from 'vitest';
import { agentStatus } from '../fixtures.js';
import { collect, connect, startTestServer } from '../harness.js';

/** A sample's value from `/metrics`, 0 when absent. */
async function sample(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? 0);
}

const delivered = (url: string, procedure: string) =>
  sample(url, `switchboard_events_delivered_total{procedure="${procedure}"}`);

describe('delivery metrics', () => {
  it('counts each delivery once, by procedure, across scrapes', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    using first = collect(client.events, {});
    using second = collect(client.events, { types: ['agent.status'] });
    using statuses = collect(client.agentStatus, {});
    await Promise.all([first.started(), second.started(), statuses.started()]);
    expect(await delivered(server.url, 'events')).toBe(0);

    await client.publishBatch.mutate([agentStatus('a-1'), agentStatus('a-2'), agentStatus('a-3')]);
    await Promise.all([first.atLeast(3), second.atLeast(3), statuses.atLeast(3)]);
    expect(await delivered(server.url, 'events')).toBe(6);
    expect(await delivered(server.url, 'agentStatus')).toBe(3);
    // Scraped again with nothing new: the same totals.
    expect(await delivered(server.url, 'events')).toBe(6);

    await client.publish.mutate(agentStatus('a-4'));
    await Promise.all([first.atLeast(4), second.atLeast(4), statuses.atLeast(4)]);
    expect(await delivered(server.url, 'events')).toBe(8);
    expect(await delivered(server.url, 'agentStatus')).toBe(4);
  });

  it('times live deliveries from their commit, and not the replayed ones', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    const timed = () => sample(server.url, 'switchboard_delivery_seconds_count');
    using live = collect(client.events, {});
    await live.started();
    await client.publishBatch.mutate([agentStatus('a-1'), agentStatus('a-2')]);
    await live.atLeast(2);
    expect(await timed()).toBe(2);
    // The same two events again, read back from the start: delivered, and not timed as a delivery.
    using replayed = collect(client.events, { lastEventId: '0' });
    await replayed.atLeast(2);
    expect(await delivered(server.url, 'events')).toBe(4);
    expect(await timed()).toBe(2);
  });
});

/**
 * Engine failures under load: every node's Redis connections killed mid-stream (only this test's, by client
 * name: the shared Redis server keeps running), and a node's PostgreSQL connections terminated mid-publish.
 * Nothing acknowledged is lost, nothing arrives twice, and the nodes recover on their own.
 */
import { expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'redis';
import { createPublisher } from '../../client/index.js';
import { cluster, event, expectExactlyOnceInOrder, publish } from '../cluster-harness.js';
import { describeWith, pgQuery, redisUrl } from '../engines.js';
import { collect, connect, storedEvents, waitUntil } from '../harness.js';
import { healthSchema, type Health } from '@switchboard/shared';
import { nodeName } from '../../server/topology.js';

/** Kills every Redis connection whose client name is `name`; returns how many. */
async function killRedisClients(name: string): Promise<number> {
  const admin = createClient({ url: redisUrl });
  await admin.connect();
  try {
    const ids = (await admin.clientList()).filter((client) => client.name === name).map((client) => client.id);
    for (const id of ids) await admin.sendCommand(['CLIENT', 'KILL', 'ID', String(id)]);
    return ids.length;
  } finally {
    await admin.close();
  }
}

async function health(url: string): Promise<Health> {
  const res = await fetch(`${url}/healthz`);
  return healthSchema.parse(await res.json());
}

describeWith(['postgres', 'redis'], 'Redis connections killed mid-stream', () => {
  it('loses nothing and repeats nothing, and the nodes return to the fast path', { timeout: 30_000 }, async () => {
    await using c = await cluster(2, true);
    const [a, b] = c.nodes;
    if (!a || !b) throw new Error('two nodes expected');
    await using subscriber = connect(a.url);
    const stream = collect(subscriber.events, {});
    await stream.started();
    const total = 3_000;
    const publishing = publish(b.url, 'lane', total, 50);
    await stream.atLeast(500, 20_000);
    // Two nodes, a publisher and a subscriber connection each.
    expect(await killRedisClients(nodeName(c.channel))).toBe(4);
    await publishing;
    await stream.atLeast(total, 20_000);
    expectExactlyOnceInOrder(
      stream.items.map((e) => e.data.id),
      total,
    );
    for (const node of [a, b]) await waitHealthy(node.url);
    // One log: both nodes name the epoch the subscriber's cursors carry.
    const epochs = await Promise.all([a, b].map(async (node) => (await health(node.url)).epoch));
    expect(epochs[1]).toBe(epochs[0]);
    expect(stream.items.at(-1)?.id.endsWith(`@${epochs[0] ?? ''}`)).toBe(true);
  });
});

describeWith(['postgres'], 'PostgreSQL connections terminated mid-publish', () => {
  it('loses no acknowledged event, stores none twice, and the node recovers', { timeout: 30_000 }, async () => {
    await using c = await cluster(1, false);
    const [node] = c.nodes;
    if (!node) throw new Error('one node expected');
    await using subscriber = connect(node.url);
    const stream = collect(subscriber.events, {});
    await stream.started();
    await using publisher = createPublisher({
      url: node.url,
      WebSocket,
      batchSize: 50,
      outboxLimit: 5_000,
      retry: { initialMs: 20, maxMs: 200 },
    });
    const total = 2_000;
    for (let i = 0; i < total; i++) expect(publisher.publish(event('lane', i)).accepted).toBe(true);
    await waitUntil('500 acknowledged', () => publisher.stats().sent >= 500, 20_000);
    const killed = await pgQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      nodeName(c.channel),
    ]);
    expect(killed.rowCount).toBeGreaterThan(0);
    await publisher.flush(20_000);
    expect(publisher.stats()).toMatchObject({ sent: total, dropped: 0, rejected: 0 });
    await stream.atLeast(total, 20_000);
    expectExactlyOnceInOrder(
      stream.items.map((e) => e.data.id),
      total,
    );
    const stored = await storedEvents(node.url);
    expect(stored.map((e) => e.key).sort()).toEqual(Array.from({ length: total }, (_, i) => `lane-${i}`).sort());
    await waitHealthy(node.url);
  });
});

/** Polls /healthz until the node says ok: its store and bus both up. */
async function waitHealthy(url: string): Promise<void> {
  await vi.waitFor(
    async () => {
      expect(await health(url)).toMatchObject({ status: 'ok', store: { state: 'up' }, bus: { state: 'up' } });
    },
    { timeout: 10_000, interval: 50 },
  );
}

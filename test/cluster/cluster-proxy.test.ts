/**
 * Faults between processes, not only kills: nodes reach PostgreSQL and Redis through a fault proxy
 * (test/fault-proxy.ts) that adds latency, resets connections, or black-holes them (sockets open, nothing
 * forwarded, nobody told). A node's subscribers stay current through the head check while its bus is silent, a
 * publish cut mid-commit ends in bounded time and is stored once when retried under its key, and under latency
 * and resets on both links every subscriber on every node sees exactly the committed sequence.
 */
import { expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createPublisher } from '../../client/index.js';
import { cluster, event, expectExactlyOnceInOrder } from '../cluster-harness.js';
import { describeWith, pgUrl } from '../engines.js';
import { startFaultProxy, type FaultProxy } from '../fault-proxy.js';
import { collect, connect, storedEvents, waitUntil } from '../harness.js';

/** The URL of an engine reached through `proxy` instead of directly. */
function via(proxy: FaultProxy, url: string): string {
  const u = new URL(url);
  u.port = String(proxy.port);
  return u.toString();
}

/** A node's `switchboard_bus_gap_filled_total`: events it read from the store because the bus did not bring them. */
async function gapFilled(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = /^switchboard_bus_gap_filled_total (\d+)$/m.exec(text)?.[1];
  if (value === undefined) throw new Error('no switchboard_bus_gap_filled_total in /metrics');
  return Number(value);
}

describeWith(['postgres', 'redis'], 'a Redis link black-holed', () => {
  it(
    'keeps the node current through the head check, in order and once, and the bus carries again once healed',
    { timeout: 60_000 },
    async () => {
      await using redis = await startFaultProxy({ port: 6379 });
      // Node a reaches Redis through the proxy, and checks the store's head every 500 ms (so that after the heal a
      // head check seldom beats a bus message to an event); node b, the publisher's, reaches it directly.
      await using c = await cluster(2, true, (i) =>
        i === 0 ? { redisUrl: via(redis, 'redis://127.0.0.1:6379'), flags: ['--head-check-ms', '500'] } : {},
      );
      const [a, b] = c.nodes;
      if (!a || !b) throw new Error('two nodes expected');
      await using subscriber = connect(a.url);
      using stream = collect(subscriber.events, {});
      await stream.started();
      await using publisher = connect(b.url);
      let published = 0;
      /** Publishes `size` events through b and returns how long a's subscriber took to have them. */
      const round = async (size: number) => {
        const from = published;
        published += size;
        const sent = performance.now();
        await publisher.publishBatch.mutate(Array.from({ length: size }, (_, j) => event('lane', from + j)));
        await stream.atLeast(published, 10_000);
        return performance.now() - sent;
      };
      await round(10);

      const filledBefore = await gapFilled(a.url);
      redis.blackHole();
      const cut = performance.now();
      const delays: number[] = [];
      let duringHole = 0;
      // About ten seconds of traffic into the silence, one batch after the previous one arrived.
      while (performance.now() - cut < 10_000) {
        delays.push(await round(10));
        duringHole += 10;
      }
      // Everything published meanwhile came from the store (the bus brought nothing), each batch within a few
      // head checks even on a loaded machine.
      expect(await gapFilled(a.url)).toBeGreaterThanOrEqual(filledBefore + duringHole);
      expect(Math.max(...delays)).toBeLessThan(5_000);

      redis.heal();
      // Back on the fast path: a head check may still beat the odd message, but most arrive by the bus (with the
      // bus still silent, all 30 would come from the store).
      const filledHealed = await gapFilled(a.url);
      for (let i = 0; i < 30; i++) await round(1);
      expect((await gapFilled(a.url)) - filledHealed).toBeLessThan(15);

      expectExactlyOnceInOrder(
        stream.items.map((e) => e.data.id),
        published,
      );
    },
  );
});

/** `promise`, or a failure naming `what` once `ms` have passed: a hang is a finding here, not a stalled run. */
async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} did not settle within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long node a waits on a silent PostgreSQL link. */
const pgTimeout = ['--pg-timeout-ms', '2000'];

describeWith(['postgres', 'redis'], 'a PostgreSQL link black-holed mid-commit', () => {
  it(
    'ends the publish in bounded time, does not hold the other nodes up, and a retry under its key stores it once',
    { timeout: 60_000 },
    async () => {
      await using pg = await startFaultProxy({ port: 5432 });
      // Node a reaches PostgreSQL through the proxy and gives up on a silent link after 2 s; node b directly.
      await using c = await cluster(2, true, (i) => (i === 0 ? { db: via(pg, pgUrl), flags: pgTimeout } : {}));
      const [a, b] = c.nodes;
      if (!a || !b) throw new Error('two nodes expected');
      await using onA = connect(a.url);
      await using onB = connect(b.url);
      // Closed first, whatever happens: a publish or transaction still held in the black hole would keep the
      // clients and the schema from closing.
      await using _cut = { [Symbol.asyncDispose]: () => pg.close() };
      await onA.publish.mutate(event('warm', 0));

      const cut = pg.blackHoleOn('COMMIT');
      const started = performance.now();
      const outcome = onA.publish.mutate(event('cut', 0)).then(
        () => 'stored',
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      await within('the COMMIT reaching the proxy', 10_000, cut);
      // Node a's transaction holds the cluster's head lock and cannot end it: the server must give it up, or no
      // node could append again.
      await within('a publish on another node', 10_000, onB.publish.mutate(event('other', 0)));
      const result = await within('the cut publish', 10_000, outcome);
      expect(performance.now() - started).toBeLessThan(10_000);
      // Either is allowed: a refusal that says to retry, or success.
      if (result !== 'stored') expect(result).toMatch(/store is unavailable.*retry/);

      pg.heal();
      // Node a may still be replacing its dropped connections: the retry is repeated, bounded, until it is taken.
      await vi.waitFor(() => within('a retry', 5_000, onA.publish.mutate(event('cut', 0))), {
        timeout: 20_000,
        interval: 100,
      });
      const stored = await storedEvents(b.url);
      expect(stored.map((e) => e.key).sort()).toEqual(['cut-0', 'other-0', 'warm-0']);
    },
  );
});

describeWith(['postgres', 'redis'], 'latency and connection resets on both links', () => {
  it('gives every subscriber on every node exactly the committed sequence', { timeout: 60_000 }, async () => {
    await using pg = await startFaultProxy({ port: 5432 });
    await using redis = await startFaultProxy({ port: 6379 });
    // Every node reaches both engines through the proxies.
    await using c = await cluster(3, true, () => ({
      db: via(pg, pgUrl),
      redisUrl: via(redis, 'redis://127.0.0.1:6379'),
      flags: pgTimeout,
    }));
    const clients = c.nodes.map((node) => connect(node.url));
    try {
      const subscribers = clients.map((client) => collect(client.events, {}));
      await Promise.all(subscribers.map((s) => s.started()));
      // A few milliseconds each way on every chunk: every statement and every bus message is slower.
      pg.latency(5);
      redis.latency(5);
      const perLane = 400;
      const publishers = c.nodes.map((node) =>
        createPublisher({
          url: node.url,
          WebSocket,
          batchSize: 50,
          outboxLimit: perLane,
          retry: { initialMs: 20, maxMs: 200 },
        }),
      );
      try {
        publishers.forEach((publisher, lane) => {
          for (let i = 0; i < perLane; i++) expect(publisher.publish(event(`lane${lane}`, i)).accepted).toBe(true);
        });
        const sent = () => publishers.reduce((sum, p) => sum + p.stats().sent, 0);
        // Resets while the publishers are busy: both links, then each alone; commits are cut mid-flight.
        const resets: { after: number; proxies: FaultProxy[] }[] = [
          { after: 150, proxies: [pg, redis] },
          { after: 450, proxies: [pg] },
          { after: 750, proxies: [redis] },
          { after: 900, proxies: [pg, redis] },
        ];
        let cut = 0;
        for (const { after, proxies } of resets) {
          await waitUntil(`${after} acknowledged`, () => sent() >= after, 30_000);
          for (const proxy of proxies) cut += proxy.reset();
        }
        expect(cut).toBeGreaterThan(0);
        for (const publisher of publishers) await publisher.flush(30_000);
        for (const publisher of publishers) expect(publisher.stats()).toMatchObject({ sent: perLane, dropped: 0 });
      } finally {
        for (const publisher of publishers) await publisher.close();
      }
      pg.heal();
      redis.heal();
      const total = perLane * publishers.length;
      const stored = await storedEvents(c.nodes[0]?.url ?? '');
      // Every key once: nothing acknowledged is missing, and no retry stored a second copy.
      expect(stored.map((e) => e.key).sort()).toEqual(
        publishers.flatMap((_, lane) => Array.from({ length: perLane }, (_, i) => `lane${lane}-${i}`)).sort(),
      );
      await Promise.all(subscribers.map((s) => s.atLeast(total, 20_000)));
      for (const s of subscribers)
        expectExactlyOnceInOrder(
          s.items.map((e) => e.data.id),
          total,
        );
    } finally {
      for (const client of clients) await client.close();
    }
  });
});

/**
 * The bus contract: every listener on every node gets every committed event once, in id order. Run against the
 * in-process bus and, through the sequencer, the Redis and NOTIFY transports (two nodes each, sharing one
 * PostgreSQL store). The fault cases (a lost message, a gap, a late or repeated one) run against the buses
 * that can lose messages; the in-process bus cannot: it is one synchronous call per commit.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryBus } from '../../server/bus/memory.js';
import { createNotifyTransport } from '../../server/bus/notify.js';
import { createRedisTransport } from '../../server/bus/redis.js';
import type { BusTransport, EventBus } from '../../server/core/bus.js';
import { Sequencer } from '../../server/core/sequencer.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createLogger } from '../../server/ops/log.js';
import { createPostgresStore } from '../../server/store/postgres.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import type { EventStore } from '../../server/core/store.js';
import { publishInputSchema, type EventEnvelope } from '@switchboard/shared';
import { available, pgSchema, pgUrl, redisUrl, requireEngine, uniqueName } from '../engines.js';
import { agentLog } from '../fixtures.js';

interface Fixture {
  store: EventStore;
  /** A node's bus; the in-process bus is one per process, so every "node" shares it. */
  node: () => Promise<EventBus>;
  dispose: () => Promise<void>;
}

const log = createLogger({ logLevel: 'silent', logFormat: 'json' });

function sequenced(makeTransport: (channel: string) => BusTransport) {
  return async (): Promise<Fixture> => {
    const schema = pgSchema();
    const store = createPostgresStore(await schema.open());
    const channel = uniqueName('sb_bus');
    const nodes: Sequencer[] = [];
    return {
      store,
      node: async () => {
        const sequencer = new Sequencer({ store, transport: makeTransport(channel), log, headCheckMs: 50 });
        await sequencer.start();
        nodes.push(sequencer);
        return sequencer;
      },
      dispose: async () => {
        for (const node of nodes) await node.close();
        await store.close();
        await schema[Symbol.asyncDispose]();
      },
    };
  };
}

const buses = [
  {
    name: 'in-process',
    skip: false,
    lossy: false,
    open: (): Promise<Fixture> => {
      const store = createSqliteStore(openDatabase(':memory:'));
      const bus = createMemoryBus();
      return Promise.resolve({ store, node: () => Promise.resolve(bus), dispose: () => store.close() });
    },
  },
  {
    name: 'Redis',
    skip: !available.postgres || !available.redis,
    lossy: true,
    open: sequenced((channel) => createRedisTransport({ url: redisUrl, prefix: channel })),
  },
  {
    name: 'NOTIFY',
    skip: !available.postgres,
    lossy: true,
    open: sequenced((channel) => createNotifyTransport({ url: pgUrl, channel })),
  },
];

requireEngine('postgres', 'the Redis and NOTIFY bus contract');
requireEngine('redis', 'the Redis bus contract');

/** Records what a bus delivers to one listener. */
function listen(bus: EventBus) {
  const ids: number[] = [];
  bus.subscribe((events: readonly EventEnvelope[]) => {
    for (const event of events) ids.push(Number(event.id));
  });
  return ids;
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const logs = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => publishInputSchema.parse(agentLog('a-1', `${tag} ${i}`)));

describe.each(buses)('$name bus', ({ open, skip }) => {
  let fixture: Fixture | undefined;
  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
  });

  it.skipIf(skip)('delivers what any node publishes to every node, once, in id order', async () => {
    fixture = await open();
    const { store, node } = fixture;
    const nodes = [await node(), await node()];
    const heard = nodes.flatMap((bus) => [listen(bus), listen(bus)]);
    for (let k = 0; k < 40; k++) {
      const { stored } = await store.append(logs(3, `batch ${k}`));
      nodes[k % 2]?.publish(stored);
    }
    await vi.waitFor(
      () => {
        for (const ids of heard) expect(ids).toEqual(upTo(120));
      },
      { timeout: 10_000, interval: 10 },
    );
  });
});

describe.each(buses.filter((bus) => bus.lossy))('$name bus, losing messages', ({ open, skip }) => {
  let fixture: Fixture | undefined;
  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
  });

  it.skipIf(skip)('fills a gap from the store before delivering past it', async () => {
    fixture = await open();
    const { store, node } = fixture;
    const [a, b] = [await node(), await node()];
    const heard = [listen(a), listen(b)];
    // The first commit's message is lost; the second's arrives.
    await store.append(logs(5, 'lost'));
    const { stored } = await store.append(logs(2, 'sent'));
    a.publish(stored);
    await vi.waitFor(
      () => {
        for (const ids of heard) expect(ids).toEqual(upTo(7));
      },
      { timeout: 10_000, interval: 10 },
    );
  });

  it.skipIf(skip)('catches a lost last message with the head check', async () => {
    fixture = await open();
    const { store, node } = fixture;
    const a = await node();
    const heard = listen(a);
    await store.append(logs(3, 'never announced'));
    await vi.waitFor(
      () => {
        expect(heard).toEqual(upTo(3));
      },
      { timeout: 10_000, interval: 10 },
    );
  });

  it.skipIf(skip)('orders late messages and drops repeated ones', async () => {
    fixture = await open();
    const { store, node } = fixture;
    const a = await node();
    const heard = listen(a);
    const first = await store.append(logs(2, 'first'));
    const second = await store.append(logs(2, 'second'));
    a.publish(second.stored);
    a.publish(first.stored);
    a.publish(second.stored);
    const third = await store.append(logs(1, 'third'));
    a.publish(third.stored);
    await vi.waitFor(
      () => {
        expect(heard).toEqual(upTo(5));
      },
      { timeout: 10_000, interval: 10 },
    );
  });
});

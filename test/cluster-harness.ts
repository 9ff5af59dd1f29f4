/**
 * Cluster test helpers: several real server processes on one fresh PostgreSQL schema, with their own bus
 * channel, torn down (processes killed, schema dropped) on dispose.
 */
import { expect } from 'vitest';
import type { PublishInput } from '@switchboard/shared';
import { pgSchema, pgUrl, redisUrl, uniqueName } from './engines.js';
import { connect, spawnServer } from './harness.js';

export type Node = Awaited<ReturnType<typeof spawnServer>>;

/** Where one node finds its engines (e.g. through a fault proxy), and flags of its own. */
export interface NodeLinks {
  db?: string;
  redisUrl?: string;
  flags?: readonly string[];
}

/**
 * Node processes on one fresh schema; `redis` selects the Redis bus, else NOTIFY. `links(i)` can route node i's
 * engine connections elsewhere (a fault proxy) and add flags.
 */
export async function cluster(count: number, redis: boolean, links: (index: number) => NodeLinks = () => ({})) {
  const schema = pgSchema();
  const channel = uniqueName('sb_bus');
  const spawn = (index: number) => {
    const own = links(index);
    const flags = ['--pg-schema', schema.schema, '--bus-channel', channel, '--head-check-ms', '200'];
    if (redis) flags.push('--redis-url', own.redisUrl ?? redisUrl);
    return spawnServer({ db: own.db ?? pgUrl, flags: [...flags, ...(own.flags ?? [])] });
  };
  const nodes: Node[] = [];
  try {
    // One node first, so the others find the schema migrated; the rest start together.
    nodes.push(await spawn(0));
    nodes.push(...(await Promise.all(Array.from({ length: count - 1 }, (_, i) => spawn(i + 1)))));
  } catch (error) {
    for (const node of nodes) await node[Symbol.asyncDispose]();
    await schema[Symbol.asyncDispose]();
    throw error;
  }
  return {
    nodes,
    channel,
    async [Symbol.asyncDispose]() {
      for (const node of nodes) await node[Symbol.asyncDispose]();
      await schema[Symbol.asyncDispose]();
    },
  };
}

export const event = (lane: string, i: number): PublishInput => ({
  type: 'agent.log',
  key: `${lane}-${i}`,
  data: { agentId: lane, level: 'info', message: `${i}` },
});

/** Publishes `count` events from one lane through `url`, in batches, one batch after another. */
export async function publish(url: string, lane: string, count: number, batch = 100): Promise<void> {
  await using client = connect(url);
  for (let i = 0; i < count; i += batch) {
    const size = Math.min(batch, count - i);
    await client.publishBatch.mutate(Array.from({ length: size }, (_, j) => event(lane, i + j)));
  }
}

export function expectExactlyOnceInOrder(ids: readonly string[], total: number): void {
  expect(ids.map(Number)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
}

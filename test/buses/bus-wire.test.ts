/**
 * What crosses the bus between nodes is validated like any other input. Malformed messages (a stray or hostile
 * publisher on the Redis channel, a NOTIFY on the channel's name) are dropped and counted, and the bus stays up.
 * Two real servers on real PostgreSQL and Redis; the garbage is sent with raw clients. The head check is made
 * slow, so an event that arrives in time came over the bus, not from the store.
 */
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { healthSchema, type EventEnvelope } from '@switchboard/shared';
import { createClient } from 'redis';
import { expect, it, vi } from 'vitest';
import { createRedisTransport } from '../../server/bus/redis.js';
import { encodeEvents, encodeMessages } from '../../server/bus/wire.js';
import { runChars } from '../../server/core/text-runs.js';
import type { BusMessage } from '../../server/core/bus.js';
import { loadConfig } from '../../server/ops/config.js';
import { createLogger } from '../../server/ops/log.js';
import { describeWith, pgQuery, pgSchema, pgUrl, redisUrl, uniqueName } from '../engines.js';
import { agentLog } from '../fixtures.js';
import { collect, connect, startTestServer } from '../harness.js';

async function health(url: string) {
  return healthSchema.parse(await (await fetch(`${url}/healthz`)).json());
}

async function dropped(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^switchboard_bus_messages_dropped_total (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

/** Two nodes on one fresh schema and bus channel; an event published on the first reaches the second. */
async function twoNodes(redis: boolean, busSecret?: string) {
  const schema = pgSchema();
  const channel = uniqueName('sb_bus');
  const options = {
    db: pgUrl,
    pgSchema: schema.schema,
    busChannel: channel,
    headCheckMs: 60_000,
    ...(redis && { redisUrl }),
    ...(busSecret !== undefined && { busSecret }),
  };
  // Node b's warnings, as JSON lines.
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const a = await startTestServer(options);
  const b = await startTestServer({ ...options, logger: createLogger({ logLevel: 'warn', logFormat: 'json' }, sink) });
  return {
    a,
    b,
    channel,
    warnings: () => lines,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
      await schema[Symbol.asyncDispose]();
    },
  };
}

/** Subscribes on node b, sends the garbage, then publishes a real event on node a: it must arrive on b. */
async function expectGarbageDroppedAndBusUp(nodes: Awaited<ReturnType<typeof twoNodes>>, send: () => Promise<number>) {
  await using subscriber = connect(nodes.b.url);
  const live = collect(subscriber.events, {});
  await live.started();
  const sent = await send();
  // Counted once each, on the node that received them.
  await vi.waitFor(
    async () => {
      expect(await dropped(nodes.b.url)).toBe(sent);
    },
    { timeout: 10_000, interval: 20 },
  );
  // One warning for all of them, not one per message.
  expect(nodes.warnings().filter((w) => w.includes('malformed message on the bus channel'))).toHaveLength(1);
  expect((await health(nodes.b.url)).bus.state).toBe('up');
  await using publisher = connect(nodes.a.url);
  const stored = await publisher.publish.mutate(agentLog('a-1', 'after the garbage'));
  await live.atLeast(1, 10_000);
  // The real event, not one of the garbage under its id.
  expect(live.items.map((e) => [e.data.id, (e.data.data as { message?: unknown }).message])).toEqual([
    [stored.id, 'after the garbage'],
  ]);
  expect((await health(nodes.b.url)).bus.state).toBe('up');
}

describeWith(['postgres', 'redis'], 'malformed messages on the Redis bus', () => {
  it('are dropped and counted, the bus stays up, and a real event still arrives live', async () => {
    await using nodes = await twoNodes(true);
    const raw = createClient({ url: redisUrl });
    await raw.connect();
    try {
      await expectGarbageDroppedAndBusUp(nodes, async () => {
        const garbage = [
          'not json',
          '{"events":1}',
          'null',
          '[]',
          JSON.stringify([{ id: 'x', type: 'agent.log', topic: 'agent:a', timestamp: 0, data: {} }]),
          JSON.stringify([{ id: '5', type: 'agent.log', topic: 'agent:a', timestamp: 'soon', data: {} }]),
          JSON.stringify([{ id: '5', type: 'agent.log', timestamp: 0, data: {} }]),
        ];
        for (const message of garbage) await raw.publish(`${nodes.channel}:events`, message);
        return garbage.length;
      });
    } finally {
      await raw.close();
    }
  });
});

describeWith(['postgres', 'redis'], 'messages on a Redis bus signed with SWITCHBOARD_BUS_SECRET', () => {
  it('take only what a node holding the key signed: a forged event is dropped, a real one arrives live', async () => {
    const secret = 'the-cluster-key-0123456789abcdef0123';
    await using nodes = await twoNodes(true, secret);
    const raw = createClient({ url: redisUrl });
    await raw.connect();
    try {
      await expectGarbageDroppedAndBusUp(nodes, async () => {
        // Well-formed events under the next id: what a node without the key would have taken.
        const forged = encodeEvents([
          {
            id: '1',
            type: 'agent.log',
            topic: 'agent:a-1',
            timestamp: new Date(),
            data: { agentId: 'a-1', level: 'info', message: 'forged' },
          },
        ] as unknown as EventEnvelope[]);
        const mac = (key: string, text: string) => createHmac('sha256', key).update(text).digest('hex');
        const epoch = (await health(nodes.a.url)).epoch;
        const messages = [
          forged,
          mac('another-key-0123456789abcdef0123456', forged) + forged,
          // The key, but not this channel and log: a message of another cluster, or from before a new epoch.
          mac(secret, forged) + forged,
          mac(secret, `another:events\n${epoch}\n${forged}`) + forged,
          mac(secret, `${nodes.channel}:events\nfeedfacecafe\n${forged}`) + forged,
          'f'.repeat(64) + forged,
          'not hex at all, sixty-four characters long, then the message....' + forged,
        ];
        for (const message of messages) await raw.publish(`${nodes.channel}:events`, message);
        return messages.length;
      });
    } finally {
      await raw.close();
    }
    expect(nodes.warnings().join('\n')).toContain("not signed with this cluster's SWITCHBOARD_BUS_SECRET");
    // From the environment only, long enough, and only with the Redis bus.
    const flags = ['--db', pgUrl, '--redis-url', redisUrl];
    expect(loadConfig(flags, { SWITCHBOARD_BUS_SECRET: secret }).busSecret).toBe(secret);
    expect(() => loadConfig(flags, { SWITCHBOARD_BUS_SECRET: 'short' })).toThrow(/at least 32 characters/);
    expect(() => loadConfig(['--db', pgUrl], { SWITCHBOARD_BUS_SECRET: secret })).toThrow(/needs --redis-url/);
  });
});

/** A Redis transport started on its own channel, what it received, and a raw client to publish beside it. */
async function transportAndRaw(
  options: Omit<Parameters<typeof createRedisTransport>[0], 'url' | 'prefix'>,
  name: string,
) {
  const prefix = uniqueName(name);
  const transport = createRedisTransport({ url: redisUrl, prefix, ...options });
  const received: BusMessage[] = [];
  await transport.start(
    (message) => received.push(message),
    () => undefined,
  );
  const raw = createClient({ url: redisUrl });
  await raw.connect();
  return {
    transport,
    received,
    /** Publishes `message` on the transport's channel, as anyone with Redis access can. */
    publish: (message: string) => raw.publish(`${prefix}:events`, message),
    channel: `${prefix}:events`,
    async [Symbol.asyncDispose]() {
      await raw.close();
      await transport.close();
    },
  };
}

describeWith(['redis'], 'a signed Redis bus, transport to transport', () => {
  it('takes a message signed with the key over its channel and log, and no other', async () => {
    const secret = 'the-cluster-key-0123456789abcdef0123';
    const problems: string[] = [];
    const onMalformed = (problem: string) => problems.push(problem);
    await using bus = await transportAndRaw({ secret, scope: 'abc123', onMalformed }, 'sb_signed');
    const text = encodeEvents([
      { id: '7', type: 'agent.log', topic: 'agent:a-1', timestamp: new Date(1_000), data: { agentId: 'a-1' } },
    ] as unknown as EventEnvelope[]);
    const mac = (covered: string) => createHmac('sha256', secret).update(covered).digest('hex');
    await bus.publish(mac(`${bus.channel}\nzzz999\n${text}`) + text);
    await bus.publish(mac(`${bus.channel}\nabc123\n${text}`) + text);
    await vi.waitFor(() => {
      expect(bus.received).toHaveLength(1);
    });
    expect(problems).toEqual(["not signed with this cluster's SWITCHBOARD_BUS_SECRET"]);
  });
});

describeWith(['postgres'], 'malformed NOTIFY payloads', () => {
  it('are dropped and counted, and the doorbell still rings for a real event', async () => {
    await using nodes = await twoNodes(false);
    await expectGarbageDroppedAndBusUp(nodes, async () => {
      const garbage = ['not a number', '-3', '1.5', '', '99999999999999999999'];
      for (const payload of garbage) await pgQuery('SELECT pg_notify($1, $2)', [`${nodes.channel}_events`, payload]);
      return garbage.length;
    });
  });
});

describeWith(['redis'], "a node's own messages on the Redis bus", () => {
  it('go out in the order they were published, and a transport closed in the turn it published sends them first', async () => {
    await using bus = await transportAndRaw({}, 'sb_turn');
    // Other nodes on the same channel.
    const prefix = bus.channel.replace(/:events$/, '');
    const other = createRedisTransport({ url: redisUrl, prefix });
    const theirs: BusMessage[] = [];
    await other.start(
      (message) => theirs.push(message),
      () => undefined,
    );
    const commit = (first: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({
        id: String(first + i),
        type: 'agent.log',
        topic: 'agent:a-1',
        timestamp: new Date(1_000),
        data: { agentId: 'a-1', message: `event ${first + i}` },
      })) as unknown as EventEnvelope[];
    const idsOf = (list: BusMessage[]) =>
      list.flatMap((message) => ('events' in message ? message.events.map((e) => Number(e.id)) : []));
    try {
      // Three commits published in one turn reach the other node in the order they were published.
      bus.transport.publish(commit(1, 2));
      bus.transport.publish(commit(3, 1));
      bus.transport.publish(commit(4, 3));
      await vi.waitFor(() => {
        expect(idsOf(theirs)).toEqual([1, 2, 3, 4, 5, 6]);
      });
      // Published, then closed in the same turn: the close sends them before it lets go of Redis.
      const closing = createRedisTransport({ url: redisUrl, prefix });
      await closing.start(
        () => undefined,
        () => undefined,
      );
      closing.publish(commit(7, 2));
      await closing.close();
      await vi.waitFor(() => {
        expect(idsOf(theirs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      });
    } finally {
      await other.close();
    }
  });

  for (const signedBy of [undefined, 'the-cluster-key-0123456789abcdef0123']) {
    it(`go out in messages of at most runChars, in order; its own come back dropped unparsed, the same text from anyone else is checked${signedBy ? ' (signed)' : ''}`, async () => {
      const keys = signedBy === undefined ? {} : { secret: signedBy, scope: 'abc123' };
      await using bus = await transportAndRaw(keys, 'sb_own');
      const { transport, received } = bus;
      // What another publisher sends as this cluster's nodes do: signed over the channel and scope when they sign.
      const asNodes = (text: string) =>
        signedBy === undefined
          ? text
          : createHmac('sha256', signedBy).update(`${bus.channel}\nabc123\n${text}`).digest('hex') + text;
      // Another node on the same channel: what every other node receives.
      const other = createRedisTransport({ url: redisUrl, prefix: bus.channel.replace(/:events$/, ''), ...keys });
      const theirs: BusMessage[] = [];
      await other.start(
        (message) => theirs.push(message),
        () => undefined,
      );
      try {
        // Three messages' worth: more than `runChars` of text would be one large object at every step.
        const events = Array.from({ length: 3 * Math.ceil(runChars / 400) }, (_, i) => ({
          id: String(i + 1),
          type: 'agent.log',
          topic: 'agent:a-1',
          timestamp: new Date(1_000),
          data: { agentId: 'a-1', message: 'x'.repeat(300) },
        })) as unknown as EventEnvelope[];
        const messages = encodeMessages(events);
        expect(messages.length).toBeGreaterThanOrEqual(3);
        for (const message of messages) expect(message.length).toBeLessThanOrEqual(runChars);
        transport.publish(events);
        const eventsOf = (list: BusMessage[]) => list.flatMap((message) => ('events' in message ? message.events : []));
        await vi.waitFor(() => {
          expect(eventsOf(theirs)).toHaveLength(events.length);
        });
        expect(theirs).toHaveLength(messages.length);
        expect(eventsOf(theirs)).toEqual(events);
        // Redis handed every subscriber those messages before this one: once it is here, this node's own copies
        // have been read, and dropped.
        const later = [{ ...events[0], id: String(events.length + 1) }] as EventEnvelope[];
        await bus.publish(asNodes(encodeEvents(later)));
        await vi.waitFor(() => {
          expect(received).toHaveLength(1);
        });
        expect(eventsOf(received)).toEqual(later);
        // The same text as one of its own, from another publisher, is no longer this node's in flight: checked.
        await bus.publish(asNodes(messages[0] ?? ''));
        await vi.waitFor(() => {
          expect(received).toHaveLength(2);
        });
        const decoded = eventsOf(received.slice(1));
        expect(decoded).toEqual(events.slice(0, decoded.length));
      } finally {
        await other.close();
      }
    });
  }
});

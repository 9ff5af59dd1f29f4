/**
 * The Publisher against the real server process, killed with SIGKILL and restarted on the same file while it
 * writes: every accepted event is stored exactly once and in publish order; overflow is counted exactly.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createPublisher, createSwitchboardClient, type DropReason } from '../../client/index.js';
import type { EventEnvelope } from '@switchboard/shared';
import { agentStatus } from '../fixtures.js';
import { oneEventASecond, spawnServer, startTestServer, storedEvents, tempDir, waitUntil } from '../harness.js';

const event = (i: number) => ({
  type: 'agent.log' as const,
  source: 'publisher-test',
  data: { agentId: `agent-${i % 7}`, level: 'info' as const, message: `event ${i}` },
});

const messages = (events: EventEnvelope[]) => events.map((e) => (e.type === 'agent.log' ? e.data.message : e.type));

describe('Publisher', () => {
  it(
    'stores every accepted event exactly once, in order, across a SIGKILL and restart',
    { timeout: 60_000 },
    async () => {
      using dir = tempDir();
      const db = dir.file('publisher.db');
      let server = await spawnServer({ db });
      const { port } = server;
      const publisher = createPublisher({
        url: server.url,
        WebSocket,
        outboxLimit: 10_000,
        batchSize: 50,
        retry: { initialMs: 20, maxMs: 200 },
        reconnect: { initialMs: 20, maxMs: 200 },
        requestTimeoutMs: 2_000,
      });
      try {
        const total = 3_000;
        let published = 0;
        const publishUpTo = (n: number) => {
          for (; published < n; published++) expect(publisher.publish(event(published)).accepted).toBe(true);
        };

        publishUpTo(1_000);
        await waitUntil('some events to be acknowledged', () => publisher.stats().sent >= 300, 20_000);
        await server.kill();
        // While the server is down, publish() still accepts at once.
        publishUpTo(2_000);
        expect(publisher.stats().queued).toBeGreaterThan(0);
        server = await spawnServer({ db, port });
        publishUpTo(total);
        await publisher.flush(30_000);

        const stats = publisher.stats();
        expect(stats).toMatchObject({ queued: 0, sent: total, dropped: 0, rejected: 0 });
        expect(stats.retried).toBeGreaterThan(0);
        const stored = await storedEvents(server.url);
        expect(messages(stored)).toEqual(Array.from({ length: total }, (_, i) => `event ${i}`));
        expect(new Set(stored.map((e) => e.key)).size).toBe(total);
      } finally {
        await publisher.close(1_000);
        await server[Symbol.asyncDispose]();
      }
    },
  );

  it(
    'drops the newest events of a full outbox, counts them exactly, and stores the rest',
    { timeout: 60_000 },
    async () => {
      using dir = tempDir();
      const db = dir.file('overflow.db');
      let server = await spawnServer({ db });
      const { port } = server;
      const drops: DropReason[] = [];
      const publisher = createPublisher({
        url: server.url,
        WebSocket,
        outboxLimit: 100,
        retry: { initialMs: 20, maxMs: 200 },
        reconnect: { initialMs: 20, maxMs: 200 },
        requestTimeoutMs: 2_000,
        onDrop: (_event, reason) => drops.push(reason),
      });
      try {
        for (let i = 0; i < 50; i++) publisher.publish(event(i));
        await publisher.flush(20_000);
        await server.kill();

        const results = Array.from({ length: 250 }, (_, i) => publisher.publish(event(50 + i)));
        const accepted = results.filter((r) => r.accepted).length;
        expect(accepted).toBe(100);
        expect(results.slice(100).every((r) => !r.accepted && r.reason === 'outbox_full')).toBe(true);
        expect(publisher.stats().dropped).toBe(150);
        expect(drops).toEqual(Array.from({ length: 150 }, () => 'outbox_full'));

        server = await spawnServer({ db, port });
        await publisher.flush(30_000);
        const stored = await storedEvents(server.url);
        expect(messages(stored)).toEqual(Array.from({ length: 150 }, (_, i) => `event ${i}`));
        expect(publisher.stats()).toMatchObject({ queued: 0, sent: 150, dropped: 150 });
      } finally {
        await publisher.close(1_000);
        await server[Symbol.asyncDispose]();
      }
    },
  );

  it('keeps publish order with batches in flight while the server refuses some, dropping only those', async () => {
    const writer = {
      role: 'publisher' as const,
      token: 'writer-0123456789abcdef',
      scopes: { publish: ['agent:in-*'] },
    };
    const admin = { role: 'admin' as const, token: 'admin-0123456789abcdef' };
    await using server = await startTestServer({ tokens: [writer, admin] });
    const drops: string[] = [];
    await using publisher = createPublisher({
      url: server.url,
      WebSocket,
      token: writer.token,
      batchSize: 5,
      inFlight: 3,
      retry: { initialMs: 20, maxMs: 100 },
      onDrop: (e, reason) => drops.push(`${e.type === 'agent.log' ? e.data.message : e.type}: ${reason}`),
    });
    // Every seventh event is outside the token's publish scopes: its batch is FORBIDDEN as a whole, and the
    // batches sent behind it (after its last key) are refused as out of order until it is sorted out.
    const total = 60;
    const outside = (i: number) => i % 7 === 3;
    for (let i = 0; i < total; i++) {
      const e = event(i);
      publisher.publish({ ...e, data: { ...e.data, agentId: outside(i) ? 'out-1' : 'in-1' } });
    }
    await publisher.flush(10_000);
    const kept = Array.from({ length: total }, (_, i) => i).filter((i) => !outside(i));
    const refused = Array.from({ length: total }, (_, i) => i).filter(outside);
    expect(publisher.stats()).toMatchObject({ queued: 0, sent: kept.length, rejected: refused.length, dropped: 0 });
    expect(drops).toEqual(refused.map((i) => `event ${i}: rejected_by_server`));
    await using reader = createSwitchboardClient({ url: server.url, WebSocket, token: admin.token });
    const { events } = await reader.history.query({ limit: 1_000 });
    expect(messages(events)).toEqual(kept.map((i) => `event ${i}`));
  });

  it('sends events queued while a batch is out before that batch is answered, in order', async () => {
    await using server = await startTestServer();
    await using real = createSwitchboardClient({ url: server.url, WebSocket });
    // The first batch's answer is held (a delay injected on purpose) until a second batch has been sent.
    let calls = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const client = new Proxy(real, {
      get(target, property, receiver) {
        if (property !== 'ingest') return Reflect.get(target, property, receiver) as unknown;
        return {
          mutate: async (...args: Parameters<typeof real.ingest.mutate>) => {
            const call = ++calls;
            const answer = await real.ingest.mutate(...args);
            if (call === 1) await held;
            return answer;
          },
        };
      },
    });
    const publisher = createPublisher({ url: server.url, WebSocket, client });
    try {
      publisher.publish(event(0));
      await waitUntil('the first batch to be sent', () => calls === 1, 5_000);
      publisher.publish(event(1));
      publisher.publish(event(2));
      await waitUntil('the events queued meanwhile to be sent before its answer', () => calls === 2, 5_000);
      release();
      await publisher.flush(5_000);
      expect(publisher.stats()).toMatchObject({ sent: 3, retried: 0 });
      expect(messages(await storedEvents(server.url))).toEqual(['event 0', 'event 1', 'event 2']);
    } finally {
      release();
      await publisher.close(1_000);
    }
  });

  it('waits what a refusal past the publish rate asks before it sends again', async () => {
    // One event a second with a burst of a thousand, 1,005 published at once: the first goes alone, the next
    // thousand are refused (a token short) with a wait, and the four behind them, sent before that answer, are
    // refused out of order. A backoff of at most 50 ms would ask again twenty times a second, and batches sent two
    // at a time after the refusal would spend the tokens the thousand wait for, for ever.
    await using server = await startTestServer(oneEventASecond);
    const retries: string[] = [];
    const publisher = createPublisher({
      url: server.url,
      WebSocket,
      outboxLimit: 2_000,
      retry: { initialMs: 10, maxMs: 50 },
      onRetry: (error) => retries.push(error.message),
    });
    for (let i = 0; i < 1_005; i++) expect(publisher.publish(event(i))).toMatchObject({ accepted: true });
    await publisher.flush(20_000);
    expect(publisher.stats()).toMatchObject({ sent: 1_005, rejected: 0 });
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.length, retries.join('\n')).toBeLessThanOrEqual(3);
    expect(retries[0]).toMatch(/publish rate limit: 1 events\/s per publisher/);
    expect(await publisher.close()).toEqual({ unsent: 0 });
  });

  it('sends an event as the JSON written when it was taken, and one whose JSON would not say it whole as the event', async () => {
    await using server = await startTestServer();
    /** Every text frame the Publisher's socket sends. */
    const frames: string[] = [];
    class Recording extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        const send = this.send.bind(this) as (...args: unknown[]) => void;
        this.send = ((...args: unknown[]) => {
          if (typeof args[0] === 'string') frames.push(args[0]);
          send(...args);
        }) as WebSocket['send'];
      }
    }
    await using publisher = createPublisher({ url: server.url, WebSocket: Recording });
    const at = new Date(Date.UTC(2026, 11, 1, 12, 0, 0, 250));
    const taken = {
      type: 'agent.log' as const,
      timestamp: at,
      data: { agentId: 'a', level: 'info' as const, message: 'as taken' },
    };
    expect(publisher.publish(taken).accepted).toBe(true);
    // Its JSON was written when publish took it: a change to the caller's object afterwards is not sent.
    taken.data.message = 'changed afterwards';
    await publisher.flush(5_000);
    // It went as that text: its timestamp the ISO string, with no superjson annotation of a `Date`.
    const first = frames.find((f) => f.includes('"path":"ingest"'));
    expect(first).toContain(`{"type":"agent.log","timestamp":"${at.toISOString()}","data":{"agentId":"a"`);
    expect(first).not.toContain('"meta"');

    // `undefined` is not JSON: these go as the events, each a copy taken at publish, one object reused for all four.
    const reused: { type: 'agent.log'; key?: string; data: Record<string, unknown> } = { type: 'agent.log', data: {} };
    for (let i = 0; i < 4; i++) {
      reused.key = `own-key-${i}`;
      reused.data = { agentId: 'b', level: 'warn', message: `as the event ${i}`, context: undefined };
      expect(publisher.publish(reused as Parameters<typeof publisher.publish>[0]).accepted).toBe(true);
    }
    expect(publisher.publish(agentStatus('c')).accepted).toBe(true);
    await publisher.flush(5_000);
    const stored = await storedEvents(server.url);
    expect(
      stored.map((e) => [
        e.key?.replace(/^pub-[A-Za-z0-9_-]{16}:/, 'pub-…:'),
        e.type === 'agent.log' ? e.data.message : e.topic,
      ]),
    ).toEqual([
      ['pub-…:0', 'as taken'],
      ['own-key-0', 'as the event 0'],
      ['own-key-1', 'as the event 1'],
      ['own-key-2', 'as the event 2'],
      ['own-key-3', 'as the event 3'],
      ['pub-…:1', 'agent:c'],
    ]);
    expect(stored[0]?.timestamp).toEqual(at);
    expect(stored[1]?.data).toEqual({ agentId: 'b', level: 'warn', message: 'as the event 0' });
  });

  it('sends one at a time a batch the server cannot read as sent, so events sharing one object are stored', async () => {
    await using server = await startTestServer();
    // One batch in flight: the two events sharing `data` wait together behind the first, and go as one batch.
    await using publisher = createPublisher({ url: server.url, WebSocket, inFlight: 1, retry: { initialMs: 20 } });
    expect(publisher.publish(agentStatus('first')).accepted).toBe(true);
    // Not plain JSON (`undefined`): the batch goes through superjson, which marks the second `data` as the first.
    const shared = { agentId: 's', level: 'info' as const, message: 'shared', context: undefined };
    expect(publisher.publish({ type: 'agent.log', data: shared }).accepted).toBe(true);
    expect(publisher.publish({ type: 'agent.log', data: shared }).accepted).toBe(true);
    await publisher.flush(5_000);
    expect(publisher.stats()).toMatchObject({ sent: 3, rejected: 0, dropped: 0 });
    const stored = await storedEvents(server.url);
    expect(stored.map((e) => e.type)).toEqual(['agent.status', 'agent.log', 'agent.log']);
  });

  it('refuses invalid events without blocking the valid ones, and reports what close left unsent', async () => {
    await using server = await startTestServer();
    const publisher = createPublisher({ url: server.url, WebSocket, retry: { initialMs: 20, maxMs: 100 } });
    const bad = publisher.publish({ type: 'agent.status', data: { agentId: '', agentType: 'x', status: 'idle' } });
    expect(bad).toMatchObject({ accepted: false, reason: 'invalid' });
    expect(publisher.publish(agentStatus('a'))).toMatchObject({ accepted: true });
    await publisher.flush(5_000);
    expect(publisher.stats()).toMatchObject({ sent: 1, rejected: 1 });
    expect(await publisher.close()).toEqual({ unsent: 0 });
    expect(publisher.publish(agentStatus('b'))).toMatchObject({ accepted: false, reason: 'closed' });

    // Nothing listens on this port: close gives up after its timeout and says how many were left.
    const orphan = createPublisher({ url: 'http://127.0.0.1:9', WebSocket, retry: { initialMs: 20, maxMs: 50 } });
    orphan.publish(agentStatus('c'));
    orphan.publish(agentStatus('d'));
    expect(await orphan.close(200)).toEqual({ unsent: 2 });
  });

  it(
    "splits batches that would exceed the server's frame limit, and stores them all",
    { timeout: 30_000 },
    async () => {
      // 120 events of ~12 KB each: ~1.4 MB as one batch of 120, over the server's 1 MiB frame limit.
      await using server = await startTestServer({ maxMessageBytes: 1024 * 1024, publishRate: 100_000 });
      await using publisher = createPublisher({
        url: server.url,
        WebSocket,
        batchSize: 1_000,
        reconnect: { initialMs: 20, maxMs: 200 },
        retry: { initialMs: 20, maxMs: 200 },
      });
      const total = 120;
      for (let i = 0; i < total; i++) {
        publisher.publish({
          type: 'agent.log',
          data: { agentId: 'big', level: 'info', message: `${i} ${'é'.repeat(6_000)}` },
        });
      }
      await publisher.flush(20_000);
      expect(publisher.stats()).toMatchObject({ sent: total, dropped: 0, rejected: 0 });
      const stored = await storedEvents(server.url);
      expect(stored.map((e) => (e.type === 'agent.log' ? e.data.message.split(' ')[0] : ''))).toEqual(
        Array.from({ length: total }, (_, i) => String(i)),
      );
    },
  );
});

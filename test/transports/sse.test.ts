/**
 * Subscriptions over Server-Sent Events: a plain EventSource, a `fetch` reader and the typed client with
 * `transport: 'sse'` receive and resume streams (across a restart on the same SQLite file), with the same auth,
 * filters, snapshots and limits as over WebSocket; pings while idle; a replay's messages written together, in few
 * chunks of the response.
 */
import { createConnection } from 'node:net';
import { EventSource } from 'eventsource';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { createSwitchboardClient, type ConnectionState } from '../../client/index.js';
import type { RunningServer } from '../../server/server.js';
import { agentLog, agentStatus } from '../fixtures.js';
import { collect, connect, startTestServer, tempDir, waitUntil } from '../harness.js';
import { eventIdOf, parseSse, readSse, subscriptionUrl } from '../sse-reader.js';

/** Ids of messages, as numbers: each exactly once and in order is `1..n`. */
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

function listen(source: EventSource) {
  const received: { id: string; data: unknown }[] = [];
  const errors: string[] = [];
  source.addEventListener('message', (message) => {
    received.push({ id: message.lastEventId, data: JSON.parse(String(message.data)) as unknown });
  });
  source.addEventListener('serialized-error', (message) => {
    errors.push(String(message.data));
  });
  return { received, errors, ids: () => received.map((r) => eventIdOf(r.id)) };
}

describe('SSE subscriptions', () => {
  it('a plain EventSource resumes with Last-Event-ID across a restart on the same file', async () => {
    using dir = tempDir();
    const db = dir.file('sse.db');
    let server: RunningServer = await startTestServer({ db, sseRetryMs: 100 });
    const { port } = server;
    try {
      {
        await using publisher = connect(server.url);
        await publisher.publishBatch.mutate(range(1, 5).map((i) => agentLog('a1', `before ${i}`)));
      }
      const source = new EventSource(subscriptionUrl(server.url, 'events', { lastEventId: '0' }));
      const events = listen(source);
      try {
        await waitUntil('5 events', () => events.received.length >= 5);
        await server.close();
        // The same port and file: the EventSource reconnects by itself and sends the last id it saw.
        server = await startTestServer({ db, port, sseRetryMs: 100 });
        await using publisher = connect(server.url);
        await publisher.publishBatch.mutate(range(6, 10).map((i) => agentLog('a1', `after ${i}`)));
        await waitUntil(
          () => `10 events (${events.ids().join(',')})`,
          () => events.received.length >= 10,
        );
        await publisher.publish.mutate(agentLog('a1', 'last'));
        await waitUntil('11 events', () => events.received.length >= 11);
        expect(events.ids()).toEqual(range(1, 11));
        expect(events.received[10]?.data).toMatchObject({ json: { id: '11', type: 'agent.log', topic: 'agent:a1' } });
        expect(events.errors).toEqual([]);
      } finally {
        source.close();
      }
    } finally {
      await server.close();
    }
  });

  it('a fetch reader gets the tRPC format and resumes from Last-Event-ID or lastEventId', async () => {
    await using server = await startTestServer();
    await using publisher = connect(server.url);
    await publisher.publishBatch.mutate([agentLog('a1', 'one'), agentLog('a2', 'two'), agentLog('a1', 'three')]);

    const url = subscriptionUrl(server.url, 'events', { topics: ['agent:a1'], lastEventId: '0' });
    await using first = readSse(url);
    await first.atLeast(2);
    expect(first.status).toBe(200);
    expect(first.messages[0]?.event).toBe('connected');
    expect(JSON.parse(first.messages[0]?.data ?? '')).toEqual({ reconnectAfterInactivityMs: 45_000 });
    expect(first.ids()).toEqual(['1', '3']);
    // Each `id:` line is the event's cursor, with the log's epoch: what a reconnect sends back.
    for (const cursor of first.cursors()) expect(cursor).toMatch(/^[13]@[0-9a-f]{12}$/);
    expect(JSON.parse(first.data()[1]?.data ?? '')).toMatchObject({
      json: { id: '3', data: { message: 'three' } },
      meta: { values: { timestamp: ['Date'] } },
    });
    await first.close();

    await publisher.publishBatch.mutate([agentLog('a1', 'four'), agentLog('a2', 'five'), agentLog('a1', 'six')]);
    // The header wins over the input's cursor, as an EventSource's reconnect needs.
    await using byHeader = readSse(url, { 'last-event-id': '3' });
    await using byInput = readSse(subscriptionUrl(server.url, 'events', { topics: ['agent:a1'], lastEventId: '3' }));
    await Promise.all([byHeader.atLeast(2), byInput.atLeast(2)]);
    await publisher.publish.mutate(agentLog('a1', 'seven'));
    await Promise.all([byHeader.atLeast(3), byInput.atLeast(3)]);
    expect(byHeader.ids()).toEqual(['4', '6', '7']);
    expect(byInput.ids()).toEqual(['4', '6', '7']);
  });

  it('the typed client with transport sse subscribes, publishes over HTTP and resumes across a restart', async () => {
    using dir = tempDir();
    const db = dir.file('typed.db');
    let server: RunningServer = await startTestServer({ db, sseRetryMs: 100 });
    const { port } = server;
    const client = createSwitchboardClient({
      url: server.url,
      transport: 'sse',
      EventSource,
      reconnect: { initialMs: 20, maxMs: 20 },
    });
    const states: ConnectionState['state'][] = [];
    const stopWatching = client.connection.subscribe((s) => states.push(s.state));
    try {
      await client.publish.mutate(agentStatus('coder-1', 'idle'));
      using watch = collect(client.agentStatus, { agentIds: ['coder-1'] });
      await watch.atLeast(1);
      // The snapshot: the agent's current status, with its original id.
      expect(watch.items[0]).toMatchObject({ data: { id: '1', type: 'agent.status', data: { status: 'idle' } } });
      await client.publish.mutate(agentStatus('coder-1', 'busy'));
      await watch.atLeast(2);
      expect(client.connection.current.state).toBe('open');

      await server.close();
      await waitUntil('the client to see the drop', () => client.connection.current.state === 'connecting');
      server = await startTestServer({ db, port, sseRetryMs: 100 });
      {
        await using other = connect(server.url);
        await other.publish.mutate(agentStatus('coder-2', 'busy'));
        await other.publish.mutate(agentStatus('coder-1', 'blocked'));
      }
      await watch.atLeast(3);
      await client.publish.mutate(agentStatus('coder-1', 'idle'));
      await watch.atLeast(4);
      expect(watch.items.map((i) => i.data.id)).toEqual(['1', '2', '4', '5']);
      const last = watch.items[3];
      if (last?.data.type !== 'agent.status') expect.fail('expected an agent.status');
      // Typed end to end: a `Date` through superjson, `status` from the schema's union.
      expect(last.data.timestamp).toBeInstanceOf(Date);
      expect(last.data.data.status).toBe('idle');
      expectTypeOf(last.data.data.status).toEqualTypeOf<'idle' | 'busy' | 'blocked' | 'error' | 'offline'>();
      expect(states).toContain('connecting');
      expect(client.connection.current.state).toBe('open');
    } finally {
      stopWatching();
      await client.close();
      await server.close();
    }
    expect(client.connection.current.state).toBe('closed');
  });

  it('serves the snapshot and filters, and keeps the per-client subscription limit', async () => {
    await using server = await startTestServer({ maxSubscriptions: 2 });
    await using publisher = connect(server.url);
    await publisher.publishBatch.mutate([
      agentStatus('a1', 'busy'),
      agentStatus('a2', 'busy'),
      agentStatus('a1', 'idle'),
      agentLog('a1', 'not a status'),
    ]);
    await using snapshot = readSse(subscriptionUrl(server.url, 'agentStatus', { agentIds: ['a1'] }));
    await using logs = readSse(subscriptionUrl(server.url, 'events', { types: ['agent.log'], lastEventId: '0' }));
    await Promise.all([snapshot.atLeast(1), logs.atLeast(1)]);
    await publisher.publishBatch.mutate([agentStatus('a2', 'idle'), agentStatus('a1', 'busy'), agentLog('a2', 'x')]);
    await Promise.all([snapshot.atLeast(2), logs.atLeast(2)]);
    expect(snapshot.ids()).toEqual(['3', '6']);
    expect(logs.ids()).toEqual(['4', '7']);

    await using third = readSse(subscriptionUrl(server.url, 'events', {}));
    const error = await third.waitFor('serialized-error');
    expect(JSON.parse(error.data)).toMatchObject({
      json: { data: { code: 'TOO_MANY_REQUESTS', reason: 'too_many_subscriptions' } },
    });
    await waitUntil('the refused stream to end', () => third.ended);
  });

  it('starts a cursor behind retention with the reset notice, then the current state', async () => {
    await using server = await startTestServer({ retentionRows: 5, retentionIntervalMs: 20 });
    await using publisher = connect(server.url);
    await publisher.publish.mutate(agentStatus('a1', 'busy'));
    await publisher.publishBatch.mutate(range(1, 20).map((i) => agentLog('a1', `log ${i}`)));
    // 21 events, 5 kept: #16 and everything before it goes, but a1's current status (#1).
    await vi.waitFor(
      async () => {
        expect((await publisher.history.query({})).retainedAfter).toBe('16');
      },
      { timeout: 10_000, interval: 20 },
    );
    await using stream = readSse(subscriptionUrl(server.url, 'agentStatus', {}), { 'last-event-id': '0' });
    await stream.atLeast(2);
    expect(stream.ids()).toEqual(['16', '1']);
    expect(JSON.parse(stream.data()[0]?.data ?? '')).toMatchObject({
      json: { type: 'stream.reset', data: { reason: 'retention', requestedAfter: '0', retainedAfter: '16' } },
    });
  });

  it("writes a replay's messages in a few chunks of the response, each once and in order", async () => {
    await using server = await startTestServer();
    const total = 3_000;
    {
      await using publisher = connect(server.url);
      for (let from = 1; from <= total; from += 1_000)
        await publisher.publishBatch.mutate(range(from, from + 999).map((i) => agentLog('a1', `line ${i}`)));
    }
    // The body as the socket carries it, chunk by chunk (HTTP/1.1 chunked encoding), read without an HTTP client.
    const url = new URL(subscriptionUrl(server.url, 'events', { lastEventId: '0' }));
    const socket = createConnection({ host: url.hostname, port: Number(url.port) });
    let raw = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      raw = Buffer.concat([raw, data]);
    });
    socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`);
    const body = () => {
      const headersEnd = raw.indexOf('\r\n\r\n');
      const chunks: string[] = [];
      for (let at = headersEnd + 4; headersEnd !== -1;) {
        const line = raw.indexOf('\r\n', at);
        if (line === -1) break;
        const size = Number.parseInt(raw.subarray(at, line).toString('latin1'), 16);
        if (!(size > 0) || raw.length < line + 2 + size + 2) break;
        chunks.push(raw.subarray(line + 2, line + 2 + size).toString('utf8'));
        at = line + 2 + size + 2;
      }
      return { chunks, ids: parseSse(chunks.join('')).messages.flatMap((m) => (m.id ? [eventIdOf(m.id)] : [])) };
    };
    try {
      await waitUntil(
        () => `${total} messages (${body().ids.length})`,
        () => body().ids.length >= total,
      );
      const { chunks, ids } = body();
      expect(ids).toEqual(range(1, total));
      // A write per message would make a chunk of each (3,000 and the opening); the messages of a turn go together.
      expect(chunks.length).toBeLessThan(total / 20);
    } finally {
      socket.destroy();
    }
  });

  it('sends pings while idle', async () => {
    await using server = await startTestServer({ ssePingMs: 100 });
    await using stream = readSse(subscriptionUrl(server.url, 'events', {}));
    const ping = await stream.waitFor('ping');
    expect(ping).toEqual({ event: 'ping', data: '' });
    expect(stream.data()).toEqual([]);
  });
});

describe('SSE auth', () => {
  const viewer = 'viewer-token-0123456789';
  const publisherToken = 'publisher-token-0123456789';
  const tokens = [
    { role: 'viewer' as const, token: viewer },
    { role: 'publisher' as const, token: publisherToken },
  ];

  it('takes a bearer header or the connection params, and refuses a missing or wrong token', async () => {
    await using server = await startTestServer({ tokens });
    const url = subscriptionUrl(server.url, 'events', { lastEventId: '0' });
    await using writer = createSwitchboardClient({
      url: server.url,
      transport: 'sse',
      EventSource,
      token: publisherToken,
    });
    await writer.publish.mutate(agentLog('a1', 'secret'));

    await using bearer = readSse(url, { authorization: `Bearer ${viewer}` });
    await using params = readSse(`${url}&connectionParams=${encodeURIComponent(JSON.stringify({ token: viewer }))}`);
    await Promise.all([bearer.atLeast(1), params.atLeast(1)]);
    expect(bearer.ids()).toEqual(['1']);
    expect(params.ids()).toEqual(['1']);

    // A reader that knows nothing of tRPC gets the refusal as an HTTP status, before any stream.
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    const wrongRole = await fetch(url, { headers: { authorization: `Bearer ${publisherToken}` } });
    expect(wrongRole.status).toBe(403);

    // tRPC's link (connection params) gets tRPC's error message, which ends its subscription with the code.
    for (const [token, code] of [
      [undefined, 'UNAUTHORIZED'],
      [publisherToken, 'FORBIDDEN'],
    ] as const) {
      await using refused = createSwitchboardClient({ url: server.url, transport: 'sse', EventSource, token });
      using failing = collect(refused.events, { lastEventId: '0' });
      await failing.failed();
      expect(failing.errors[0]).toMatchObject({ data: { code } });
      expect(failing.items).toEqual([]);
    }

    await using reader = createSwitchboardClient({ url: server.url, transport: 'sse', EventSource, token: viewer });
    using typed = collect(reader.events, { lastEventId: '0' });
    await typed.atLeast(1);
    expect(typed.items[0]?.data.data).toMatchObject({ message: 'secret' });
  });
});

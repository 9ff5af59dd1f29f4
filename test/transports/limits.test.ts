/**
 * Limits against the real server, each with an error that names it: connections, subscriptions per
 * connection, message size, publish rate; and keepalive dropping a peer that stops answering.
 */
import { connect as tcpConnect } from 'node:net';
import { TRPCClientError } from '@trpc/client';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createSwitchboardClient } from '../../client/index.js';
import { PublishRateError, PublishRates, publisherOf, TokenBucket } from '../../server/security/limits.js';
import { agentLog, agentStatus } from '../fixtures.js';
import { collect, connect, oneEventASecond, startTestServer, statedWaitMs, waitUntil } from '../harness.js';
import { healthSchema } from '@switchboard/shared';

const wsUrl = (url: string) => `${url.replace('http', 'ws')}/trpc`;

/** A raw WebSocket, open, with what closed it once it closes. */
async function rawSocket(url: string) {
  const ws = new WebSocket(wsUrl(url));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
    });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, closed };
}

async function health(url: string) {
  return healthSchema.parse(await (await fetch(`${url}/healthz`)).json());
}

const dataOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error.data as { code: string; reason?: string }) : undefined;

describe('limits', () => {
  it('closes connections past the maximum with 1013 and a reason, leaving the others working', async () => {
    await using server = await startTestServer({ maxConnections: 2 });
    const first = await rawSocket(server.url);
    const second = await rawSocket(server.url);
    const third = await rawSocket(server.url);
    expect(await third.closed).toEqual({
      code: 1013,
      reason: 'connection limit 2 reached (SWITCHBOARD_MAX_CONNECTIONS)',
    });
    // The first two still answer.
    for (const { ws } of [first, second]) {
      const pong = new Promise<string>((resolve) => {
        ws.once('message', (m: Buffer) => {
          resolve(m.toString());
        });
      });
      ws.send('PING');
      expect(await pong).toBe('PONG');
      ws.close();
    }
  });

  it('refuses a subscription past the per-connection limit until one ends', async () => {
    await using server = await startTestServer({ maxSubscriptions: 2 });
    await using client = connect(server.url);
    using a = collect(client.events, {});
    const b = collect(client.agentStatus, {});
    await Promise.all([a.started(), b.started()]);
    using c = collect(client.tddPhase, {});
    await c.failed();
    expect(dataOf(c.errors[0])).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'too_many_subscriptions' });
    expect((c.errors[0] as Error).message).toContain(
      'subscription limit: 2 per connection (SWITCHBOARD_MAX_SUBSCRIPTIONS)',
    );
    b[Symbol.dispose]();
    await vi.waitFor(
      async () => {
        expect(await health(server.url)).toMatchObject({ subscriptions: 1 });
      },
      {
        interval: 10,
      },
    );
    using d = collect(client.tddPhase, {});
    await d.started();
    await client.publish.mutate(agentStatus('x'));
    await a.atLeast(1);
  });

  it('closes a socket that sends a frame over the message limit with 1009', async () => {
    await using server = await startTestServer({ maxMessageBytes: 4096 });
    const { ws, closed } = await rawSocket(server.url);
    ws.send('x'.repeat(5000));
    expect((await closed).code).toBe(1009);
    // The server keeps serving.
    await using client = connect(server.url);
    expect((await client.publish.mutate(agentStatus('a'))).id).toBe('1');
  });

  it('answers a tRPC HTTP body over the limit with 413 naming it, declared or sent chunked, storing nothing', async () => {
    await using server = await startTestServer();
    // 100 events of 15,000 characters: a valid batch, but 1.5 MB as one body.
    const batch = Array.from({ length: 100 }, (_, i) => agentLog(`a-${i}`, 'x'.repeat(15_000)));
    const body = JSON.stringify({ json: batch });
    const post = (init: RequestInit) =>
      fetch(`${server.url}/trpc/publishBatch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        ...init,
      });
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(body);
        for (let at = 0; at < bytes.length; at += 64 * 1024) controller.enqueue(bytes.subarray(at, at + 64 * 1024));
        controller.close();
      },
    });
    for (const response of [await post({ body }), await post({ body: chunked, duplex: 'half' } as RequestInit)]) {
      expect(response.status).toBe(413);
      const answer = (await response.json()) as { error: { json: { message: string; data: { code: string } } } };
      expect(answer.error.json.data.code).toBe('PAYLOAD_TOO_LARGE');
      expect(answer.error.json.message).toMatch(/the limit is 1048576 bytes per request/);
      expect(answer.error.json.message).toMatch(/publishBatch in smaller batches/);
    }
    await using client = connect(server.url);
    expect((await client.history.query({})).events).toEqual([]);
    // A body under the limit goes through as before.
    const small = await post({ body: JSON.stringify({ json: batch.slice(0, 10) }) });
    expect(small.status).toBe(200);
  });

  it('answers a Claude Code hook past the publish rate with 429 and the Retry-After its message names', async () => {
    const token = 'rate-hook-publisher-0123';
    await using server = await startTestServer({
      ...oneEventASecond,
      tokens: [{ role: 'publisher', token, name: 'hooks' }],
    });
    await using client = createSwitchboardClient({ url: server.url, WebSocket, token });
    // The burst spent at once; it refills at one event a second.
    const batch = Array.from({ length: 1_000 }, (_, i) => agentStatus(`h-${i}`));
    expect(await client.publishBatch.mutate(batch)).toHaveLength(1_000);
    const hook = (n: number) =>
      fetch(`${server.url}/ingest/claude-code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          session_id: 'limits-session',
          transcript_path: '/tmp/limits-session.jsonl',
          cwd: '/tmp',
          hook_event_name: 'UserPromptSubmit',
          prompt: `prompt ${n}`,
        }),
      });
    // Refused unless a second passed since the burst; each hook taken spends what refilled, so one of five in a row
    // is refused however slowly this test runs.
    let refused: Response | undefined;
    for (let n = 0; n < 5 && !refused; n++) {
      const answer = await hook(n);
      if (answer.status === 429) refused = answer;
      else expect(answer.status).toBe(200);
    }
    if (!refused) throw new Error('five hooks in a row were taken at one event a second');
    const { error } = (await refused.json()) as { error: string };
    expect(error).toMatch(/^publish rate limit: 1 events\/s per publisher/);
    const waitMs = statedWaitMs(error);
    expect(waitMs).toBeGreaterThan(0);
    expect(refused.headers.get('retry-after')).toBe(String(Math.ceil(waitMs / 1000)));
  });

  it('limits the publish rate per publisher, across its connections, with TOO_MANY_REQUESTS naming the limit', async () => {
    const tokens = { a: 'rate-publisher-a-0123', b: 'rate-publisher-b-0123' };
    await using server = await startTestServer({
      publishRate: 10,
      publishBurst: 1_000,
      tokens: [
        { role: 'publisher', token: tokens.a, name: 'a' },
        { role: 'publisher', token: tokens.b, name: 'b' },
      ],
    });
    await using client = createSwitchboardClient({ url: server.url, WebSocket, token: tokens.a });
    // The burst allows one full batch at once.
    const batch = Array.from({ length: 1_000 }, (_, i) => agentStatus(`a-${i}`));
    expect(await client.publishBatch.mutate(batch)).toHaveLength(1_000);
    // 500 more would take 50 s to refill at 10/s: refused, however slowly this test runs.
    const error: unknown = await client.publishBatch.mutate(batch.slice(0, 500)).catch((e: unknown) => e);
    expect(dataOf(error)).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' });
    expect((error as Error).message).toMatch(
      /^publish rate limit: 10 events\/s per publisher, bursts of 1000 \(SWITCHBOARD_PUBLISH_RATE, SWITCHBOARD_PUBLISH_BURST\); retry in \d+ ms/,
    );
    // The wait as data too, which the Publisher waits out: the same as the message says.
    expect(dataOf(error)).toMatchObject({ retryAfterMs: statedWaitMs((error as Error).message) });
    expect(statedWaitMs((error as Error).message)).toBeGreaterThan(0);
    // A second connection of the same token draws from the same bucket: more connections buy no more.
    await using again = createSwitchboardClient({ url: server.url, WebSocket, token: tokens.a });
    const second: unknown = await again.publishBatch.mutate(batch.slice(0, 500)).catch((e: unknown) => e);
    expect(dataOf(second)).toMatchObject({ code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' });
    // So does its HTTP ingest.
    const ingest = await fetch(`${server.url}/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.a}` },
      body: JSON.stringify(batch.slice(0, 500)),
    });
    expect(ingest.status).toBe(429);
    // With Retry-After: the wait the message names, in whole seconds (500 events at 10 a second: at most 50).
    const waitMs = statedWaitMs(((await ingest.json()) as { error: string }).error);
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(50_000);
    expect(ingest.headers.get('retry-after')).toBe(String(Math.ceil(waitMs / 1000)));
    // And its tRPC calls over HTTP: the wait in the error's data and as Retry-After.
    const overHttp = await fetch(`${server.url}/trpc/publishBatch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.a}` },
      body: JSON.stringify({ json: batch.slice(0, 500) }),
    });
    expect(overHttp.status).toBe(429);
    const { error: httpError } = (await overHttp.json()) as {
      error: { json: { message: string; data: { retryAfterMs: number } } };
    };
    expect(httpError.json.data.retryAfterMs).toBe(statedWaitMs(httpError.json.message));
    expect(overHttp.headers.get('retry-after')).toBe(String(Math.ceil(httpError.json.data.retryAfterMs / 1000)));
    // Another token has its own bucket.
    await using other = createSwitchboardClient({ url: server.url, WebSocket, token: tokens.b });
    expect((await other.publish.mutate(agentStatus('other'))).id).toBe('1001');
  });

  it('refills the token bucket at its rate', () => {
    let now = 0;
    const bucket = new TokenBucket(100, 100, () => now);
    expect(bucket.take(100)).toBe(0);
    expect(bucket.take(1)).toBe(10);
    now += 500;
    expect(bucket.take(50)).toBe(0);
    expect(bucket.take(1)).toBe(10);
    now += 10_000;
    // More than the bucket ever holds: no wait admits it.
    expect(bucket.take(101)).toBe(Infinity);
    expect(bucket.take(100)).toBe(0);
  });

  it('states a wait as HTTP and gRPC say it, whole seconds rounded up, and none for a call no wait admits', () => {
    const wait = (ms?: number) =>
      new PublishRateError('TOO_MANY_REQUESTS', 'rate_limited', 'past the rate', ms).retryAfterSeconds;
    expect([wait(1), wait(999), wait(1_000), wait(1_001), wait(61_500)]).toEqual([1, 1, 1, 2, 62]);
    expect(new PublishRateError('PAYLOAD_TOO_LARGE', 'batch_too_large', 'too large').retryAfterSeconds).toBe(undefined);
  });

  it('keeps one bucket per publisher, forgetting only full ones when too many are kept', () => {
    let now = 0;
    const rates = new PublishRates({ publishRate: 100, publishBurst: 1_000 }, () => now);
    expect(publisherOf('token:a', '127.0.0.1')).toBe('token:a');
    expect(publisherOf('', '127.0.0.1')).toBe('address:127.0.0.1');
    const busy = rates.bucketOf('token:busy');
    expect(busy.take(1_000)).toBe(0);
    expect(rates.bucketOf('token:busy')).toBe(busy);
    for (let i = 0; i < 9_999; i++) rates.bucketOf(`token:idle-${i}`);
    expect(rates.size).toBe(10_000);
    // One more: the idle (full) buckets are forgotten, the one mid-burst is kept with what it has spent.
    rates.bucketOf('token:new');
    expect(rates.size).toBe(2);
    expect(rates.bucketOf('token:busy').take(1)).toBe(10);
    now += 10_000;
    expect(rates.bucketOf('token:busy').full()).toBe(true);
  });

  it('keeps a peer that answers its pings, however many intervals pass', async () => {
    await using server = await startTestServer({ pingMs: 50, pongWaitMs: 50 });
    const { ws } = await rawSocket(server.url);
    let pings = 0;
    ws.on('message', (m: Buffer) => {
      if (m.toString() !== 'PING') return;
      pings++;
      ws.send('PONG');
    });
    // Ten pings answered: ten times the interval after which an unanswering peer would be gone.
    await waitUntil('ten pings', () => pings >= 10, 10_000);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(await health(server.url)).toMatchObject({ connections: 1 });
    ws.close();
  });

  it('drops a peer that stops answering pings within ping + pong wait', async () => {
    await using server = await startTestServer({ pingMs: 100, pongWaitMs: 100 });
    // A hand-made WebSocket handshake on a socket that then never writes: it never answers a ping.
    const socket = tcpConnect(server.port, '127.0.0.1');
    const ended = new Promise<void>((resolve) => {
      socket.on('close', () => {
        resolve();
      });
    });
    socket.write(
      'GET /trpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise<void>((resolve) => {
      socket.once('data', () => {
        resolve();
      });
    });
    expect(await health(server.url)).toMatchObject({ connections: 1 });
    const started = performance.now();
    await ended;
    // Dropped after one ping interval and one pong wait (100 + 100 ms), give or take timer slack.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await health(server.url)).toMatchObject({ connections: 0 });
  });
});

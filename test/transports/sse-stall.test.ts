/**
 * A reader that stops reading its event stream while 12.8 MB of events flow: the server holds at most the replay
 * window (256 KiB) and one message unsent for it, pauses the stream and later catches it up from the store;
 * stalled past `--sse-stall-ms`, the stream is closed and the reader resumes from its last id. Nothing is lost
 * or sent twice either way.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import type { SwitchboardClient } from '../../client/index.js';
import type { PublishInput } from '@switchboard/shared';
import { connect, startTestServer, waitUntil } from '../harness.js';
import { eventIdOf, parseSse, readSse, subscriptionUrl, type SseMessage } from '../sse-reader.js';

const total = 800;
const perBatch = 50;
/** Each event carries a 16,000-character message: ~16 KB on the wire, 12.8 MB in all, beyond what the kernel buffers. */
const message = 'x'.repeat(16_000);
const windowBytes = 256 * 1024;
const frameBytes = 17 * 1024;

const event = (i: number): PublishInput => ({
  type: 'agent.log',
  data: { agentId: 'a1', level: 'info', message: `${i} ${message}` },
});

/**
 * A raw HTTP/1.0 request (so the body is not chunked): the reader stops reading when told, as a stuck consumer
 * would, and parses whatever it gets once it reads again.
 */
function rawReader(port: number, path: string) {
  const socket: Socket = tcpConnect(port, '127.0.0.1');
  const messages: SseMessage[] = [];
  let text = '';
  let headersDone = false;
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
    if (!headersDone) {
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      headersDone = true;
      text = text.slice(end + 4);
    }
    const { messages: complete, rest } = parseSse(text);
    text = rest;
    messages.push(...complete);
  });
  socket.on('close', () => (closed = true));
  socket.write(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`);
  const cursors = () => messages.filter((m) => m.event === 'message').map((m) => m.id ?? '');
  const ids = () => cursors().map(eventIdOf);
  return { socket, messages, ids, cursors, closed: () => closed };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

/** Publishes every event, reading the server's unsent SSE bytes after each batch; returns the most seen. */
async function publishAll(url: string, publisher: SwitchboardClient): Promise<number> {
  let most = 0;
  for (let from = 1; from <= total; from += perBatch) {
    await publisher.publishBatch.mutate(Array.from({ length: perBatch }, (_, i) => event(from + i)));
    most = Math.max(most, await metric(url, 'switchboard_sse_unsent_bytes'));
  }
  return most;
}

const expected = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('a stalled SSE reader', () => {
  it('holds bounded memory while paused, then catches up from the store', { timeout: 60_000 }, async () => {
    await using server = await startTestServer({ publishRate: 1_000_000 });
    await using publisher = connect(server.url);
    const url = new URL(subscriptionUrl(server.url, 'events', {}));
    const reader = rawReader(server.port, url.pathname + url.search);
    try {
      await waitUntil('connected', () => reader.messages.some((m) => m.event === 'connected'));
      reader.socket.pause();
      const most = await publishAll(server.url, publisher);
      // The kernel's buffers filled and the stream paused with at most the window and one message unsent.
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(windowBytes + frameBytes);
      reader.socket.resume();
      await waitUntil(
        () => `${total} events (have ${reader.ids().length})`,
        () => reader.ids().length >= total,
        30_000,
      );
      expect(reader.ids()).toEqual(expected(1, total));
    } finally {
      reader.socket.destroy();
    }
  });

  it('is closed past the stall time and resumes from its last id', { timeout: 60_000 }, async () => {
    await using server = await startTestServer({ publishRate: 1_000_000, sseStallMs: 300 });
    await using publisher = connect(server.url);
    const url = subscriptionUrl(server.url, 'events', {});
    const { pathname, search } = new URL(url);
    const reader = rawReader(server.port, pathname + search);
    // A reader that keeps reading, beside the stalled one: it must not wait for it.
    await using other = readSse(url);
    try {
      await waitUntil('connected', () => reader.messages.some((m) => m.event === 'connected'));
      await other.waitFor('connected');
      reader.socket.pause();
      await publishAll(server.url, publisher);
      await other.atLeast(total);
      expect(other.ids()).toEqual(expected(1, total));
      await other.close();
      await vi.waitFor(
        async () => {
          const health = (await (await fetch(`${server.url}/healthz`)).json()) as { subscriptions: number };
          expect(health.subscriptions, 'the stalled stream to be closed').toBe(0);
        },
        { timeout: 15_000, interval: 20 },
      );
    } finally {
      reader.socket.resume();
    }
    await waitUntil('the reader to see the close', () => reader.closed());
    const got = reader.ids();
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(total);
    expect(got).toEqual(expected(1, got.length));

    await using resumed = readSse(url, { 'last-event-id': reader.cursors().at(-1) ?? '0' });
    await resumed.atLeast(total - got.length);
    expect(resumed.ids()).toEqual(expected(got.length + 1, total));
  });
});

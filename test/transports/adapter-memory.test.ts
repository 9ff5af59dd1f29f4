/**
 * What a pulled subscription keeps between items: nothing. Once an item has been written to the socket, the
 * adapter holds no reference to it while it waits for the next one, which may be hours away (tRPC fixed the
 * same leak in its own adapter, trpc/trpc#6156). Checked as tRPC's `websockets.memory` test checks it: weak
 * references to the items, and a forced collection (`--expose-gc`, set for this file in vitest.config.ts).
 */
import { EventEmitter, on } from 'node:events';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { transformer } from '@switchboard/shared';
import { legacy, serveRouter } from '../adapter-harness.js';

interface Payload {
  n: number;
  text: string;
}

function createRouter(feed: EventEmitter) {
  const t = initTRPC.create({ transformer });
  return t.router({
    // The iterator is returned as is: a generator of the test's own would hold its last item in its own frame.
    generator: t.procedure.subscription(
      ({ signal }) => on(feed, 'item', { signal }) as AsyncIterableIterator<[Payload]>,
    ),
    observable: t.procedure.subscription(() =>
      legacy(
        // Emitting what `on()` yields, the listener's arguments, so that both procedures have one type.
        observable<[Payload]>((emit) => {
          const next = (item: Payload) => {
            emit.next([item]);
          };
          feed.on('item', next);
          return () => feed.off('item', next);
        }),
      ),
    ),
  });
}

/** A full, synchronous collection. */
function collectGarbage(): void {
  const { gc } = globalThis;
  if (gc === undefined) throw new Error('run with --expose-gc (vitest.config.ts sets it for this file)');
  gc();
}

describe('a pulled subscription between items', () => {
  it.each(['generator', 'observable'] as const)('keeps no %s item reachable once it is sent', async (path) => {
    const feed = new EventEmitter();
    await using server = await serveRouter({ router: createRouter(feed), createContext: () => ({}) });
    const wsClient = createWSClient({
      url: server.url,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    await using _client = { [Symbol.asyncDispose]: () => wsClient.close() };
    const trpc = createTRPCClient<ReturnType<typeof createRouter>>({
      links: [wsLink({ client: wsClient, transformer })],
    });
    let started = false;
    const received: unknown[] = [];
    const subscription = trpc[path].subscribe(undefined, {
      onStarted: () => (started = true),
      onData: (item) => received.push(item),
    });
    await vi.waitFor(() => {
      expect(started).toBe(true);
    });
    const refs = [1, 2].map((n) => {
      const item: Payload = { n, text: 'x'.repeat(1024) };
      feed.emit('item', item);
      return new WeakRef(item);
    });
    await vi.waitFor(() => {
      expect(received).toHaveLength(2);
    });
    // Collected in a later turn than the one that made the weak references (a WeakRef keeps its target alive
    // until the end of the turn that created or read it).
    await vi.waitFor(
      () => {
        collectGarbage();
        expect(refs.map((ref) => ref.deref()?.n)).toEqual([undefined, undefined]);
      },
      { timeout: 2_000 },
    );
    subscription.unsubscribe();
  });
});

/**
 * The project's WebSocket handler serving a router built for a test, on 127.0.0.1 port 0, and a raw socket that
 * records every frame, for tests where the wire is the point. Disposable with `await using`.
 */
import { once } from 'node:events';
import type { AnyRouter } from '@trpc/server';
import type { Observable } from '@trpc/server/observable';
import WebSocket, { WebSocketServer } from 'ws';
import { serveWebSockets, type WebSocketHandlerOptions } from '../server/transports/ws/handler.js';

/** The handler's options without the server, with quiet keepalive unless a test sets it. */
export type ServeOptions<TRouter extends AnyRouter> = Omit<WebSocketHandlerOptions<TRouter>, 'wss' | 'keepAlive'> &
  Partial<Pick<WebSocketHandlerOptions<TRouter>, 'keepAlive'>>;

export async function serveRouter<TRouter extends AnyRouter>(options: ServeOptions<TRouter>) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const handler = serveWebSockets({ keepAlive: { pingMs: 30_000, pongWaitMs: 10_000 }, ...options, wss });
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  return {
    url: `ws://127.0.0.1:${address.port}`,
    wss,
    handler,
    [Symbol.asyncDispose]: async () => {
      handler.close();
      for (const socket of wss.clients) socket.terminate();
      await new Promise((resolve) => {
        wss.close(resolve);
      });
    },
  };
}

/** A reply as it arrives, JSON-parsed; `error` and `result.data` are still superjson. */
export interface RawReply {
  id: number | string | null;
  result?: { type: string; id?: string; data?: unknown };
  error?: unknown;
}

/** A plain `ws` client that keeps every text frame, parsed when it is JSON, and how the socket closed. */
export async function rawSocket(url: string) {
  const socket = new WebSocket(url);
  const frames: string[] = [];
  const closed = { code: undefined as number | undefined, reason: '' };
  socket.on('message', (data: Buffer) => frames.push(data.toString()));
  socket.on('close', (code, reason) => {
    closed.code = code;
    closed.reason = reason.toString();
  });
  await once(socket, 'open');
  return {
    socket,
    frames,
    closed,
    /** Every frame that is a JSON reply. */
    replies: (): RawReply[] => frames.filter((f) => f.startsWith('{')).map((f) => JSON.parse(f) as RawReply),
    send: (message: unknown) => {
      socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    },
    [Symbol.dispose]: () => {
      socket.terminate();
    },
  };
}

/**
 * tRPC 11 still serves observable subscriptions but has deprecated their builder signature, steering types to
 * async iterables; this types an observable as the iterable the client will see, so that the tests exercise
 * the runtime path users of the older style depend on without calling a deprecated signature.
 */
export function legacy<T>(source: Observable<T, unknown>): AsyncIterable<T, void> {
  return source as unknown as AsyncIterable<T, void>;
}

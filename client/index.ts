/**
 * The typed client: `createSwitchboardClient({ url })` gives a tRPC client whose every procedure, input and
 * output is inferred from the server's `AppRouter`, over one WebSocket with the superjson transformer.
 * Subscriptions resume by themselves after a reconnect: tRPC sends the last tracked id as `lastEventId`.
 */
import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '../server/routers/_app.js';
import { transformer } from '../shared/transformer.js';

export type { AppRouter };

export interface SwitchboardClientOptions {
  /** The server's address: `http://127.0.0.1:8765` or `ws://127.0.0.1:8765/trpc`. */
  url: string;
  /** The `WebSocket` class; Node 20 has none built in, so pass `ws`'s there. Browsers use theirs. */
  WebSocket?: WebSocketClass;
  /** Delay before reconnect attempt `n` (0-based). Default: 0, then doubling from 1 s up to 30 s, with jitter. */
  retryDelayMs?: (attempt: number) => number;
  /** Client-side keepalive: a ping every `intervalMs`; no pong within `pongTimeoutMs` means reconnect. */
  keepAlive?: { intervalMs: number; pongTimeoutMs: number };
}

/** The browser's `WebSocket` or `ws`'s: any class constructed as `new WebSocket(url, protocols?)`. */
export type WebSocketClass = new (url: string, protocols?: string | string[]) => object;

export type SwitchboardClient = TRPCClient<AppRouter> &
  AsyncDisposable & {
    /** Closes the WebSocket for good; subscriptions end. `await using` calls it too. */
    close(): Promise<void>;
  };

/** `http(s)://host:port[/trpc]` or `ws(s)://...` → the WebSocket endpoint. */
export function toWebSocketUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/trpc';
  return u.toString();
}

export function defaultRetryDelayMs(attempt: number): number {
  if (attempt === 0) return 0;
  const base = Math.min(30_000, 1_000 * 2 ** (attempt - 1));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

export function createSwitchboardClient(options: SwitchboardClientOptions): SwitchboardClient {
  const wsClient = createWSClient({
    url: toWebSocketUrl(options.url),
    // `ws` implements every member of the browser's WebSocket that tRPC uses, but not the DOM's EventTarget.
    ...(options.WebSocket && { WebSocket: options.WebSocket as typeof globalThis.WebSocket }),
    retryDelayMs: options.retryDelayMs ?? defaultRetryDelayMs,
    keepAlive: { enabled: true, ...(options.keepAlive ?? { intervalMs: 30_000, pongTimeoutMs: 10_000 }) },
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer })] });
  const close = () => wsClient.close();
  // The tRPC client is a proxy that turns every property into a procedure path; `close` is answered first.
  return new Proxy(client, {
    get: (target, key, receiver) =>
      key === 'close' || key === Symbol.asyncDispose ? close : (Reflect.get(target, key, receiver) as unknown),
  }) as SwitchboardClient;
}

/**
 * The typed client factory: `createSwitchboardClient({ url })` gives a tRPC client whose every procedure, input and
 * output is inferred from the server's `AppRouter`, over one WebSocket with the superjson transformer.
 * Subscriptions resume by themselves after a reconnect: tRPC sends the last tracked id as `lastEventId`.
 */
import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '../server/routers/_app.js';
import { transformer } from '../shared/transformer.js';

export type { AppRouter };

/** The browser's `WebSocket` or `ws`'s: any class constructed as `new WebSocket(url, protocols?)`. */
export type WebSocketClass = new (url: string, protocols?: string | string[]) => object;

export interface SwitchboardClientOptions {
  /**
   * The server's address: `http://127.0.0.1:8765` or `ws://127.0.0.1:8765/trpc`. Several nodes of one cluster:
   * the first is used first, and each reconnect moves to the next (round robin), resuming from the cursor.
   */
  url: string | readonly string[];
  /** Sent once per connection as tRPC `connectionParams` (`{ token }`), for servers that require one. */
  token?: string;
  /** The `WebSocket` class; Node 20 has none built in, so pass `ws`'s there. Browsers use theirs. */
  WebSocket?: WebSocketClass;
  /** Reconnect backoff: the first retry at once, then doubling from `initialMs` up to `maxMs`, with jitter. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Client-side keepalive: a ping every `intervalMs`; no pong within `pongTimeoutMs` means reconnect. */
  keepAlive?: { intervalMs: number; pongTimeoutMs: number };
}

export interface ConnectionState {
  state: 'connecting' | 'open' | 'closed';
  /** Why the last connection attempt failed or closed, while reconnecting. */
  reason?: string;
}

export interface Connection {
  readonly current: ConnectionState;
  /** Calls `listener` with the current state now and on every change; returns the unsubscribe function. */
  subscribe(listener: (state: ConnectionState) => void): () => void;
}

export type SwitchboardClient = TRPCClient<AppRouter> &
  AsyncDisposable & {
    /** Closes the WebSocket for good; subscriptions end. `await using` calls it too. */
    close(): Promise<void>;
    /** The WebSocket's state, for a UI to show "live / reconnecting / offline". */
    connection: Connection;
  };

/** `http(s)://host:port[/trpc]` or `ws(s)://...` → the WebSocket endpoint. */
export function toWebSocketUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/trpc';
  return u.toString();
}

/** Exponential backoff with "equal jitter": attempt 0 at once, then [d/2, d) for d = initial·2ⁿ⁻¹ capped. */
export function backoff({ initialMs = 1_000, maxMs = 30_000 }: { initialMs?: number; maxMs?: number } = {}) {
  return (attempt: number): number => {
    if (attempt === 0) return 0;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  };
}

export function createSwitchboardClient(options: SwitchboardClientOptions): SwitchboardClient {
  const { token } = options;
  const urls = (typeof options.url === 'string' ? [options.url] : options.url).map(toWebSocketUrl);
  if (urls.length === 0) throw new TypeError('createSwitchboardClient: url lists no address');
  let attempt = 0;
  const wsClient = createWSClient({
    // tRPC asks for the URL at every connection attempt: that is where a reconnect moves to the next node.
    url: () => urls[attempt++ % urls.length] ?? '',
    // `ws` implements every member of the browser's WebSocket that tRPC uses, but not the DOM's EventTarget.
    ...(options.WebSocket && { WebSocket: options.WebSocket as typeof globalThis.WebSocket }),
    ...(token !== undefined && { connectionParams: { token } }),
    retryDelayMs: backoff(options.reconnect),
    keepAlive: { enabled: true, ...(options.keepAlive ?? { intervalMs: 30_000, pongTimeoutMs: 10_000 }) },
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer })] });

  const toState = (s: ReturnType<typeof wsClient.connectionState.get>): ConnectionState => {
    const state = s.state === 'pending' ? 'open' : s.state === 'connecting' ? 'connecting' : 'closed';
    return s.error ? { state, reason: s.error.message } : { state };
  };
  const connection: Connection = {
    get current() {
      return toState(wsClient.connectionState.get());
    },
    subscribe(listener) {
      const sub = wsClient.connectionState.subscribe({
        next: (s) => {
          listener(toState(s));
        },
      });
      return () => {
        sub.unsubscribe();
      };
    },
  };
  const close = () => wsClient.close();
  const extras: Record<string | symbol, unknown> = { close, connection, [Symbol.asyncDispose]: close };
  // The tRPC client is a proxy that turns every property into a procedure path; our few names are answered first.
  return new Proxy(client, {
    get: (target, key, receiver) => (key in extras ? extras[key] : (Reflect.get(target, key, receiver) as unknown)),
  }) as SwitchboardClient;
}

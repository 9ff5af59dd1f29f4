/**
 * The typed client factory: `createSwitchboardClient({ url })` gives a tRPC client whose every procedure, input and
 * output is inferred from the server's `AppRouter`, over one WebSocket with the superjson transformer.
 * Subscriptions resume by themselves after a reconnect: tRPC sends the last tracked id as `lastEventId`.
 */
import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { AppRouter, AppRouterFor } from '../server/routers/_app.js';
import { transformer } from '@switchboard/shared';
import { answeredLink } from './answered-link.js';
import { describeConnectionError } from './connection-error.js';
import { frameEncoder } from './frame-encoder.js';
import { readToken, type Connection, type ConnectionState, type TokenSource } from './connection.js';
import { createSseTransport, type EventSourceClass } from './sse-links.js';

export type { AppRouter, AppRouterFor, Connection, ConnectionState, EventSourceClass, TokenSource };

/** The browser's `WebSocket` or `ws`'s: any class constructed as `new WebSocket(url, protocols?)`. */
export type WebSocketClass = new (url: string, protocols?: string | string[]) => object;

export interface SwitchboardClientOptions {
  /**
   * The server's address: `http://127.0.0.1:8765` or `ws://127.0.0.1:8765/trpc`. Several nodes of one cluster:
   * the first is used first, and each reconnect moves to the next (round robin), resuming from the cursor.
   */
  url: string | readonly string[];
  /**
   * Sent once per connection as tRPC `connectionParams` (`{ token }`), for servers that require one. A function
   * is called on every connect, so a short-lived token (a JWT) is fetched fresh when the server closes the
   * connection at its expiry; subscriptions then resume from their cursors.
   */
  token?: TokenSource;
  /** The `WebSocket` class; Node 20 has none built in, so pass `ws`'s there. Browsers use theirs. */
  WebSocket?: WebSocketClass;
  /** Reconnect backoff: the first retry at once, then doubling from `initialMs` up to `maxMs`, with jitter. */
  reconnect?: RetryOptions;
  /** Client-side keepalive: a ping every `intervalMs`; no pong within `pongTimeoutMs` means reconnect. */
  keepAlive?: { intervalMs: number; pongTimeoutMs: number };
  /** `websocket` (the default): everything over one WebSocket. `sse`: subscriptions over Server-Sent Events, the rest over HTTP. */
  transport?: 'websocket' | 'sse';
  /** For `transport: 'sse'`: the `EventSource` class; Node 20 has none, so pass the `eventsource` package's there. */
  EventSource?: EventSourceClass;
}

/** A client of the built-in catalogue's router, or of `AppRouterFor<typeof catalogue>` for a team's own. */
export type SwitchboardClient<TRouter extends AnyTRPCRouter = AppRouter> = TRPCClient<TRouter> &
  AsyncDisposable & {
    /** Closes the WebSocket for good; subscriptions end. `await using` calls it too. */
    close(): Promise<void>;
    /** The WebSocket's state, for a UI to show "live / reconnecting / offline". */
    connection: Connection;
  };

/** `http(s)://host:port[/trpc]` or `ws(s)://...` → the HTTP endpoint of tRPC. */
export function toHttpUrl(url: string): string {
  const u = new URL(toWebSocketUrl(url));
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.toString().replace(/\/$/, '');
}

/** The schemes a hub's address may have. */
const hubSchemes = ['http:', 'https:', 'ws:', 'wss:'];

/**
 * A hub's address as a URL: `localhost:8765` or `127.0.0.1:8765/trpc` (no scheme) means `http://`; any scheme
 * but http, https, ws and wss, or no address at all, is a `TypeError` that shows the expected form.
 */
export function hubUrl(url: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new TypeError(`"${url}" is not a hub address; expected the form http://127.0.0.1:8765 or localhost:8765`);
  }
  if (!hubSchemes.includes(u.protocol) || u.hostname === '') {
    throw new TypeError(
      `"${url}" is not a hub address: use http://, https://, ws:// or wss:// (or none), e.g. http://127.0.0.1:8765`,
    );
  }
  return u;
}

/** `http(s)://host:port[/trpc]`, `ws(s)://...` or `host:port` → the WebSocket endpoint. */
export function toWebSocketUrl(url: string): string {
  const u = hubUrl(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/trpc';
  return u.toString();
}

/** Keepalive when none is given: the server's own ping and pong-wait defaults (30 s, 10 s). */
const defaultKeepAlive = { intervalMs: 30_000, pongTimeoutMs: 10_000 };

/** The bounds of a backoff: the client's reconnects and the Publisher's retries. */
export interface RetryOptions {
  /** The delay after the first retry (which is at once), doubled for each one after. */
  initialMs?: number;
  /** The longest delay. */
  maxMs?: number;
}

/** Exponential backoff with "equal jitter": attempt 0 at once, then [d/2, d) for d = initial·2ⁿ⁻¹ capped. */
export function backoff({ initialMs = 1_000, maxMs = 30_000 }: RetryOptions = {}) {
  return (attempt: number): number => {
    if (attempt === 0) return 0;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  };
}

/**
 * For a server started with a catalogue of one's own, name its router type:
 * `createSwitchboardClient<AppRouterFor<typeof catalogue>>({ url })`, with `AppRouterFor` from this package.
 */
export function createSwitchboardClient<TRouter extends AnyTRPCRouter = AppRouter>(
  options: SwitchboardClientOptions,
): SwitchboardClient<TRouter> {
  if (options.transport === 'sse') {
    const EventSource = options.EventSource ?? (globalThis as { EventSource?: EventSourceClass }).EventSource;
    if (EventSource === undefined)
      throw new TypeError("transport 'sse' needs an EventSource: pass the `eventsource` package's in Node 20");
    const sse = createSseTransport<TRouter>({
      // Event streams go to the first address; each EventSource reconnects there (a balancer in front spreads them).
      url: toHttpUrl(typeof options.url === 'string' ? options.url : (options.url[0] ?? '')),
      token: options.token,
      EventSource,
      retryDelayMs: backoff(options.reconnect),
    });
    return withExtras(createTRPCClient<TRouter>({ links: sse.links }), sse.close, sse.connection);
  }
  const { token } = options;
  const urls = (typeof options.url === 'string' ? [options.url] : options.url).map(toWebSocketUrl);
  if (urls.length === 0) throw new TypeError('createSwitchboardClient: url lists no address');
  const [url = ''] = urls;
  let attempt = 0;
  const wsClient = createWSClient({
    // tRPC asks for the URL at every connection attempt: that is where a reconnect moves to the next node.
    url: () => urls[attempt++ % urls.length] ?? url,
    // `ws` implements every member of the browser's WebSocket that tRPC uses, but not the DOM's EventTarget.
    ...(options.WebSocket && { WebSocket: options.WebSocket as typeof globalThis.WebSocket }),
    ...(token !== undefined && {
      connectionParams: async () => ({ token: await readToken(token) }),
    }),
    retryDelayMs: backoff(options.reconnect),
    keepAlive: { enabled: true, ...(options.keepAlive ?? defaultKeepAlive) },
    experimental_encoder: frameEncoder,
  });
  const client = createTRPCClient<TRouter>({ links: [answeredLink(), wsLink({ client: wsClient, transformer })] });

  // A failed attempt is reported twice: for ws's error event (which names the cause) and then for its close
  // event (1006, which names none); the second keeps the first one's words.
  let lastReason: string | undefined;
  const toState = (s: ReturnType<typeof wsClient.connectionState.get>): ConnectionState => {
    const state = s.state === 'pending' ? 'open' : s.state === 'connecting' ? 'connecting' : 'closed';
    if (!s.error) {
      if (state === 'open') lastReason = undefined;
      return { state };
    }
    lastReason = describeConnectionError(s.error, url, lastReason);
    return { state, reason: lastReason };
  };
  const connection: Connection = {
    url,
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
  const close = async () => {
    // tRPC's close waits for a socket that is still opening to open: one to a server that accepted the TCP
    // connection and never answers the handshake never will, so it is abandoned first.
    const current = wsClient.connection;
    if (current?.state === 'connecting') current.ws.close();
    await wsClient.close();
  };
  return withExtras(client, close, connection, true);
}

/**
 * True on a client whose frames `frameEncoder` writes (the WebSocket transport's): a call's input may then hold a
 * `JsonTexts` (the Publisher's events, written once). Over SSE a call goes through tRPC's HTTP link, which may not.
 */
export const writesJsonTexts = Symbol('writesJsonTexts');

function withExtras<TRouter extends AnyTRPCRouter>(
  client: TRPCClient<TRouter>,
  close: () => Promise<void>,
  connection: Connection,
  jsonTexts = false,
): SwitchboardClient<TRouter> {
  const extras: Record<string | symbol, unknown> = {
    close,
    connection,
    [Symbol.asyncDispose]: close,
    [writesJsonTexts]: jsonTexts,
  };
  // The tRPC client is a proxy that turns every property into a procedure path; our few names are answered first.
  return new Proxy(client, {
    get: (target, key, receiver) => (key in extras ? extras[key] : (Reflect.get(target, key, receiver) as unknown)),
  }) as SwitchboardClient<TRouter>;
}

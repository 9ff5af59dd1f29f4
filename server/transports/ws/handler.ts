/**
 * The WebSocket side of `/trpc`: tRPC's wire protocol, served by the project instead of tRPC's stock adapter
 * (`applyWSSHandler`), for any router. The unmodified `@trpc/client` works against it as against the stock
 * adapter: queries, mutations, and subscriptions that return an async generator or an observable, with
 * `tracked` ids, `lastEventId`, errors, completion, `subscription.stop`, connection params, an async
 * `createContext` and the reconnect notice; and it takes the stock adapter's `prefix` and `maxBatchSize`.
 *
 * Every call runs through tRPC itself (`callTRPCProcedure`: the same middlewares, input validation and error
 * formatting as over HTTP). A subscription whose procedure returns a `PushSource` (server/core/push-source.ts)
 * takes the fast path: the source pushes each event to the socket as a frame built once per event, with no
 * async iterator per subscriber (see subscription.ts). Whether a result is one is decided by the result
 * itself; nothing about the call travels beside it.
 *
 * What the stock adapter never did is here too: a socket that falls behind is cut (4008) by the connection's
 * limits, replies of one turn leave in one write, and keepalive is one timer for all connections (see
 * docs/protocol.md).
 */
import type { IncomingMessage } from 'node:http';
import type { AnyRouter, inferRouterContext, ProcedureType, TRPCError } from '@trpc/server';
import { WebSocket, type WebSocketServer } from 'ws';
import { z } from 'zod';
import { describeIssues } from '@switchboard/shared';
import { Connection } from './connection.js';
import { KeepAlive, type KeepAliveOptions } from './keepalive.js';
import { EventFrames, reconnectFrame } from './protocol.js';

/** What `createContext` gets, once per connection. */
export interface CreateWebSocketContextOptions {
  req: IncomingMessage;
  socket: WebSocket;
  /** The first frame's `data` when the URL has `?connectionParams=1`; null otherwise. */
  connectionParams: Record<string, string> | null;
}

/** Every error the handler answers or meets; `path` is undefined for the connection's own. */
export interface WebSocketErrorInfo<TRouter extends AnyRouter> {
  error: TRPCError;
  type: ProcedureType | 'unknown';
  path: string | undefined;
  input: unknown;
  ctx: inferRouterContext<TRouter> | undefined;
}

export interface WebSocketHandlerOptions<TRouter extends AnyRouter> {
  wss: WebSocketServer;
  router: TRouter;
  /**
   * Called once per connection (after its connection params arrive, when the URL asks for them) and awaited
   * before any call runs. A throw or a rejection is answered `{ id: null, error }`, and the socket is closed.
   */
  createContext(
    opts: CreateWebSocketContextOptions,
  ): inferRouterContext<TRouter> | PromiseLike<inferRouterContext<TRouter>>;
  /**
   * Told every error, including the handler's own (an `errorFormatter` that threw). What it returns is
   * ignored, except that it may be async: if it throws or rejects, the failure is logged (console.error) and
   * the connection carries on.
   */
  onError?(info: WebSocketErrorInfo<TRouter>): unknown;
  keepAlive: KeepAliveOptions;
  /**
   * Unsent bytes a socket may hold before it is closed with 4008 as a slow consumer, checked after every item
   * of a pulled subscription (a push source keeps its own bound: EventSubscription). No bound when absent.
   */
  slowConsumerBytes?: number;
  /** As in tRPC's `applyWSSHandler`: only connections whose URL starts with it are served by this handler. */
  prefix?: string;
  /** As in tRPC's `applyWSSHandler`: a frame with more requests is refused, each request answered BAD_REQUEST. */
  maxBatchSize?: number;
}

/** A whole number, at least 1; `rule` is the whole message for either mistake. */
const counting = (rule: string) => z.int({ error: rule }).positive(rule);

/** The options that are numbers and strings, checked once: a mistake fails at start-up, saying which rule. */
const settings = z.object({
  slowConsumerBytes: counting('must be a whole number of bytes, at least 1').optional(),
  prefix: z.string().startsWith('/', 'must start with "/", as a request URL does').optional(),
  maxBatchSize: counting('must be a whole number, at least 1').optional(),
});

export interface WebSocketHandler {
  /** Tells every client to reconnect (before a shutdown); each resubscribes with its cursors. */
  reconnectAll(): void;
  /** Stops the keepalive timer. */
  close(): void;
}

export function serveWebSockets<TRouter extends AnyRouter>(
  options: WebSocketHandlerOptions<TRouter>,
): WebSocketHandler {
  const checked = settings.safeParse(options);
  if (!checked.success) {
    throw new TypeError(`serveWebSockets: ${describeIssues(checked.error.issues, '(options)')}`);
  }
  const { prefix } = checked.data;
  const frames = new EventFrames(options.router);
  const keepAlive = new KeepAlive(options.keepAlive);
  // This handler's own connections: another handler on the same server (another prefix) has its own.
  const served = new Set<WebSocket>();
  options.wss.on('connection', (socket, req) => {
    // Another handler on the same server may serve it, as with tRPC's adapter.
    if (prefix !== undefined && !(req.url ?? '').startsWith(prefix)) return;
    served.add(socket);
    socket.once('close', () => served.delete(socket));
    new Connection(socket, req, options, frames).listen(keepAlive);
  });
  return {
    reconnectAll() {
      // Sent untransformed, as tRPC's adapter does: the client reads it before any transformer.
      for (const socket of served) if (socket.readyState === WebSocket.OPEN) socket.send(reconnectFrame);
    },
    close() {
      keepAlive.close();
    },
  };
}

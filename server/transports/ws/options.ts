/**
 * What the WebSocket handler is given: its options and what it passes to `createContext` and `onError`. Apart
 * from handler.ts so that the connection and its error replies, which the handler creates, can name them
 * without importing the handler back.
 */
import type { IncomingMessage } from 'node:http';
import type { AnyRouter, inferRouterContext, ProcedureType, TRPCError } from '@trpc/server';
import type { WebSocket, WebSocketServer } from 'ws';
import type { PathTracer } from '../../core/trace.js';
import type { KeepAliveOptions } from './keepalive.js';

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
  /** Bench-only timing of each event's path (server/core/trace.ts); absent, nothing is timed. */
  trace?: PathTracer | undefined;
}

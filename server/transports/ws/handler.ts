/**
 * The WebSocket side of `/trpc`: tRPC's wire protocol, served by the project instead of tRPC's stock adapter
 * (`applyWSSHandler`), for any router. The unmodified `@trpc/client` works against it as against the stock
 * adapter: queries, mutations, and subscriptions that return an async generator or an observable, with
 * `tracked` ids, `lastEventId`, errors, completion, `subscription.stop`, connection params, an async
 * `createContext` and the reconnect notice; and it takes the stock adapter's `prefix` and `maxBatchSize`.
 *
 * Every call runs through the procedure's own tRPC middlewares (`callProcedure` in ../procedure-call.ts, as
 * `callTRPCProcedure` runs them: the same middlewares, input validation and error formatting as over HTTP). A
 * subscription whose procedure returns a `PushSource` (server/core/push-source.ts) takes the fast path: the source
 * pushes each event to the socket as a frame built once per event, with no async iterator per subscriber (see
 * subscription.ts). Whether a result is one is decided by the result itself; nothing about the call travels beside it.
 *
 * What the stock adapter never did is here too: a socket that falls behind is cut (4008) by the connection's
 * limits, replies of one turn leave in one write, and keepalive is one timer for all connections (see
 * docs/protocol.md).
 */
import type { AnyRouter } from '@trpc/server';
import { z } from 'zod';
import { describeIssues } from '@switchboard/shared';
import { Connection } from './connection.js';
import { KeepAlive } from './keepalive.js';
import type { WebSocketHandlerOptions } from './options.js';
import { EventFrames, reconnectFrame } from './protocol.js';

export type { CreateWebSocketContextOptions, WebSocketErrorInfo, WebSocketHandlerOptions } from './options.js';

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
  const frames = new EventFrames(options.router, options.trace);
  const keepAlive = new KeepAlive(options.keepAlive);
  // This handler's own connections: another handler on the same server (another prefix) has its own.
  const served = new Set<Connection<TRouter>>();
  options.wss.on('connection', (socket, req) => {
    // Another handler on the same server may serve it, as with tRPC's adapter.
    if (prefix !== undefined && !(req.url ?? '').startsWith(prefix)) return;
    const connection = new Connection(socket, req, options, frames);
    served.add(connection);
    socket.once('close', () => served.delete(connection));
    connection.listen(keepAlive);
  });
  return {
    reconnectAll() {
      // Sent untransformed, as tRPC's adapter does: the client reads it before any transformer. Through the
      // writer, after every frame written before it.
      for (const connection of served) connection.writer.writeText(reconnectFrame);
    },
    close() {
      keepAlive.close();
    },
  };
}

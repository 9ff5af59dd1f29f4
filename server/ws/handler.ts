/**
 * The WebSocket side of `/trpc`: tRPC's wire protocol, served by the project instead of tRPC's stock adapter,
 * so that the unmodified `@trpc/client` works while fan-out costs one string concatenation and one socket
 * write per subscriber per event.
 *
 * Queries and mutations run through tRPC itself (`callTRPCProcedure`: the same middlewares, input validation
 * and error formatting as over HTTP). A subscription call runs the same way, so auth and input checks are
 * tRPC's, and returns an `EventSubscription`; the handler claims it and opens it in push mode, writing each
 * event's frame straight to the socket. There is no async iterator per subscriber.
 *
 * What the stock adapter never did is here too: a socket that falls behind is cut (4008) by the connection's
 * limits, and keepalive, connection params, batches, `subscription.stop`, duplicate ids and the reconnect
 * notice follow the protocol as the client expects it (see docs/protocol.md).
 */
import type { IncomingMessage } from 'node:http';
import { callTRPCProcedure, getErrorShape, getTRPCErrorFromUnknown, TRPCError } from '@trpc/server';
import { WebSocket, type RawData, type WebSocketServer } from 'ws';
import type { ServedRouter } from '../routers/_app.js';
import { claimSubscription, type OpenSubscription } from '../routers/tracked.js';
import type { Context } from '../context.js';
import {
  clientMessage,
  connectionParamsMessage,
  EventFrames,
  reconnectFrame,
  replyFrame,
  replyHead,
  requestId,
  startedFrame,
  stoppedFrame,
  type ClientMessage,
  type RequestId,
} from './protocol.js';
import { SocketWriter } from './socket-writer.js';

export interface WebSocketHandlerOptions {
  wss: WebSocketServer;
  router: ServedRouter;
  /** Called once per connection, with the params of its first frame when the URL asks for them. */
  createContext(connectionParams: Record<string, string> | null, socket: WebSocket): Context;
  /** Every error answered to a client; `path` is undefined for the connection's own. */
  onError(info: { error: TRPCError; path: string | undefined }): void;
  keepAlive: { pingMs: number; pongWaitMs: number };
}

export interface WebSocketHandler {
  /** Tells every client to reconnect (before a shutdown); each resubscribes with its cursors. */
  reconnectAll(): void;
  /** Stops the keepalive timer. */
  close(): void;
}

/**
 * Keepalive for every connection from one timer, checking a timestamp per connection: a PING after `pingMs`
 * without any message from the peer, and the connection terminated when `pongWaitMs` more pass in silence.
 * Nothing is scheduled or re-armed per connection or per message.
 */
class KeepAlive {
  readonly connections = new Set<Connection>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pingMs: number,
    private readonly pongWaitMs: number,
  ) {
    // Checking four times per interval: a ping or a cut comes at most a quarter interval late.
    this.timer = setInterval(
      () => {
        this.sweep();
      },
      Math.max(5, Math.min(pingMs, pongWaitMs) / 4),
    );
    this.timer.unref();
  }

  private sweep(): void {
    const now = performance.now();
    for (const connection of this.connections) connection.checkAlive(now, this.pingMs, this.pongWaitMs);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

type CallType = 'query' | 'mutation' | 'subscription';

interface Running {
  controller: AbortController;
  open: OpenSubscription | undefined;
}

export function serveWebSockets(options: WebSocketHandlerOptions): WebSocketHandler {
  const frames = new EventFrames(options.router);
  const keepAlive = new KeepAlive(options.keepAlive.pingMs, options.keepAlive.pongWaitMs);
  options.wss.on('connection', (socket, req) => {
    new Connection(socket, req, options, frames).listen(keepAlive.connections);
  });
  return {
    reconnectAll() {
      for (const socket of options.wss.clients) if (socket.readyState === WebSocket.OPEN) socket.send(reconnectFrame);
    },
    close() {
      keepAlive.close();
    },
  };
}

class Connection {
  private ctx: Context | undefined;
  private readonly subscriptions = new Map<RequestId, Running>();
  /** When the peer last sent anything, and when it was pinged and has not answered since. */
  private lastSeen = performance.now();
  private pingedAt: number | undefined;
  private readonly writer: SocketWriter;

  constructor(
    private readonly socket: WebSocket,
    req: IncomingMessage,
    private readonly options: WebSocketHandlerOptions,
    private readonly frames: EventFrames,
  ) {
    this.writer = new SocketWriter(socket);
    const expectsParams = new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
    if (!expectsParams) this.ctx = this.createContext(null);
  }

  listen(alive: Set<Connection>): void {
    const { socket } = this;
    alive.add(this);
    socket.on('message', (data, isBinary) => {
      this.lastSeen = performance.now();
      this.onMessage(data, isBinary);
    });
    socket.on('error', (cause) => {
      this.options.onError({ error: getTRPCErrorFromUnknown(cause), path: undefined });
    });
    socket.once('close', () => {
      alive.delete(this);
      for (const running of this.subscriptions.values()) this.end(running);
      this.subscriptions.clear();
    });
  }

  /** Called by the keepalive sweep: any message counts as an answer, as in tRPC's own adapter. */
  checkAlive(now: number, pingMs: number, pongWaitMs: number): void {
    if (this.pingedAt !== undefined && this.lastSeen > this.pingedAt) this.pingedAt = undefined;
    if (this.pingedAt === undefined) {
      if (now - this.lastSeen < pingMs) return;
      this.pingedAt = now;
      this.send('PING');
    } else if (now - this.pingedAt >= pongWaitMs) {
      this.socket.terminate();
    }
  }

  private createContext(params: Record<string, string> | null): Context | undefined {
    try {
      return this.options.createContext(params, this.socket);
    } catch (cause) {
      this.refuse(cause);
      return undefined;
    }
  }

  /** The connection cannot be served: say why, then close; the client backs off and tries again. */
  private refuse(cause: unknown): void {
    this.sendError(null, undefined, cause, 'unknown', undefined, undefined);
    setImmediate(() => {
      this.socket.close();
    });
  }

  private send(frame: string): void {
    this.writer.writeText(frame);
  }

  private sendError(
    id: RequestId | null,
    jsonrpc: '2.0' | undefined,
    cause: unknown,
    type: CallType | 'unknown',
    path: string | undefined,
    input: unknown,
  ): void {
    const error = getTRPCErrorFromUnknown(cause);
    this.options.onError({ error, path });
    const { router } = this.options;
    const shape = getErrorShape({ config: router._def._config, error, type, path, input, ctx: this.ctx });
    this.send(replyFrame(router, { id, jsonrpc, error: shape }));
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary || !Buffer.isBuffer(data)) {
      const error = new TRPCError({
        code: 'PARSE_ERROR',
        message: 'send JSON in text frames; binary frames are not part of the protocol',
      });
      this.sendError(null, undefined, error, 'unknown', undefined, undefined);
      return;
    }
    const text = data.toString('utf8');
    if (text === 'PING') {
      this.send('PONG');
      return;
    }
    if (text === 'PONG') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      const error = new TRPCError({ code: 'PARSE_ERROR', message: 'the frame is not JSON' });
      this.sendError(null, undefined, error, 'unknown', undefined, undefined);
      return;
    }
    if (this.ctx === undefined) {
      this.onConnectionParams(parsed);
      return;
    }
    const messages: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    messages.forEach((raw, batchIndex) => {
      const message = clientMessage.safeParse(raw);
      if (message.success) {
        this.onRequest(message.data, batchIndex);
        return;
      }
      const id = requestId.safeParse((raw as { id?: unknown } | null)?.id);
      const problems = message.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);
      const error = new TRPCError({ code: 'PARSE_ERROR', message: `not a tRPC request: ${problems.join('; ')}` });
      this.sendError(id.success ? id.data : null, undefined, error, 'unknown', undefined, undefined);
    });
  }

  private onConnectionParams(parsed: unknown): void {
    const message = connectionParamsMessage.safeParse(parsed);
    if (!message.success) {
      this.refuse(
        new TRPCError({
          code: 'PARSE_ERROR',
          message: 'the first frame must be { method: "connectionParams", data: { …string values } }',
        }),
      );
      return;
    }
    this.ctx = this.createContext(message.data.data ?? null);
  }

  private onRequest(message: ClientMessage, batchIndex: number): void {
    const { id, jsonrpc } = message;
    if (message.method === 'subscription.stop') {
      const running = this.subscriptions.get(id);
      if (!running) return;
      this.subscriptions.delete(id);
      this.end(running);
      this.send(stoppedFrame(replyHead(id, jsonrpc)));
      return;
    }
    const { path, lastEventId } = message.params;
    let input: unknown;
    try {
      input =
        message.params.input === undefined
          ? undefined
          : this.options.router._def._config.transformer.input.deserialize(message.params.input);
    } catch (cause) {
      const error = new TRPCError({ code: 'PARSE_ERROR', message: 'the input is not valid superjson', cause });
      this.sendError(id, jsonrpc, error, message.method, path, undefined);
      return;
    }
    if (typeof lastEventId === 'string') {
      input = typeof input === 'object' && input !== null ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    if (message.method === 'subscription') this.subscribe(id, jsonrpc, path, input, batchIndex);
    else void this.call(id, jsonrpc, message.method, path, input, batchIndex);
  }

  private async call(
    id: RequestId,
    jsonrpc: '2.0' | undefined,
    type: 'query' | 'mutation',
    path: string,
    input: unknown,
    batchIndex: number,
  ): Promise<void> {
    try {
      const data: unknown = await callTRPCProcedure({
        router: this.options.router,
        path,
        getRawInput: () => Promise.resolve(input),
        ctx: this.ctx,
        type,
        // Queries and mutations here finish in one step of the store; nothing would act on an abort.
        signal: undefined,
        batchIndex,
      });
      this.send(replyFrame(this.options.router, { id, jsonrpc, result: { type: 'data', data } }));
    } catch (cause) {
      this.sendError(id, jsonrpc, cause, type, path, input);
    }
  }

  private subscribe(id: RequestId, jsonrpc: '2.0' | undefined, path: string, input: unknown, batchIndex: number) {
    if (this.subscriptions.has(id)) {
      const error = new TRPCError({
        code: 'BAD_REQUEST',
        message: `Duplicate id ${id}: a subscription with this id is running`,
      });
      this.sendError(id, jsonrpc, error, 'subscription', path, input);
      return;
    }
    const running: Running = { controller: new AbortController(), open: undefined };
    const { signal } = running.controller;
    this.subscriptions.set(id, running);
    const head = replyHead(id, jsonrpc);
    const fail = (cause: unknown) => {
      if (this.subscriptions.get(id) === running) this.subscriptions.delete(id);
      this.sendError(id, jsonrpc, cause, 'subscription', path, input);
    };
    callTRPCProcedure({
      router: this.options.router,
      path,
      getRawInput: () => Promise.resolve(input),
      ctx: this.ctx,
      type: 'subscription',
      signal,
      batchIndex,
    })
      .then(() => {
        const subscription = claimSubscription(signal);
        // Stopped or disconnected while the call ran: nothing was opened, nothing to release.
        if (signal.aborted) return;
        if (!subscription)
          throw new TRPCError({
            code: 'INTERNAL_SERVER_ERROR',
            message: `${path} did not return an event subscription`,
          });
        this.send(startedFrame(head));
        const { writer, frames } = this;
        const window = this.ctx?.limits.replayWindowBytes ?? 256 * 1024;
        running.open = subscription.open(
          (item, shared) => {
            writer.write(frames, head, item, shared);
            return true;
          },
          fail,
          (resume) => writer.drainedBelow(window, resume),
        );
      })
      .catch((cause: unknown) => {
        if (!signal.aborted) fail(cause);
      });
  }

  private end(running: Running): void {
    running.controller.abort();
    running.open?.stop();
  }
}

/**
 * One WebSocket connection: frames in (checked at the edge), calls run through tRPC once the connection's
 * context exists, replies out through one helper and the socket writer. Subscriptions are `Subscription`s;
 * the connection holds them by request id until each has ended, and queries and mutations by their signals.
 * Errors are reported and answered through `ErrorReplies` (errors.ts), which answers every call whatever fails
 * in the router's own hooks; nothing the connection starts is left to reject unhandled.
 */
import type { IncomingMessage } from 'node:http';
import { getTRPCErrorFromUnknown, TRPCError, type AnyRouter, type inferRouterContext } from '@trpc/server';
import { callProcedure } from '../procedure-call.js';
import { isObservable } from '@trpc/server/observable';
import type { TRPCResponseMessage, TRPCResultMessage } from '@trpc/server/rpc';
import { WebSocket, type RawData } from 'ws';
import { describeIssues } from '@switchboard/shared';
import { slowConsumerCloseCode, slowConsumerReason } from '../../security/limits.js';
import { connectionTarget, ErrorReplies, isPromiseLike, type ErrorChannel, type ErrorTarget } from './errors.js';
import type { WebSocketHandlerOptions } from './options.js';
import type { KeepAlive, KeptAlive } from './keepalive.js';
import {
  clientMessage,
  configOf,
  connectionParamsMessage,
  requestId,
  replyFrame,
  dataReplyTexts,
  type ClientMessage,
  type EventFrames,
  type RequestId,
} from './protocol.js';
import { SocketWriter } from './socket-writer.js';
import { Subscription, type Call, type SubscriptionHost } from './subscription.js';

/** Close code for a reply the router's transformer cannot encode, even as the fallback error (RFC 6455). */
const internalErrorCloseCode = 1011;

/**
 * The context's progress: requests that arrive before it exists wait, in order, and run once it does; after a
 * refusal every request is answered with the refusal's error until the socket closes, as tRPC's adapter does.
 */
type ContextState<C> =
  | { kind: 'awaiting-params'; req: IncomingMessage }
  | { kind: 'creating'; queued: [ClientMessage, number][] }
  | { kind: 'ready'; ctx: C }
  | { kind: 'refused'; error: TRPCError };

export class Connection<TRouter extends AnyRouter>
  implements KeptAlive, SubscriptionHost, ErrorChannel<inferRouterContext<TRouter>>
{
  lastSeen = performance.now();
  pingedAt: number | undefined;
  readonly writer: SocketWriter;
  private readonly errors: ErrorReplies<TRouter>;
  private state: ContextState<inferRouterContext<TRouter>>;
  private readonly subscriptions = new Map<RequestId, Subscription>();
  /**
   * The signal of every query and mutation on this connection, aborted when the socket closes (as tRPC's adapter
   * aborts each call's own). One for all of them: an AbortController per call cost about 5 µs of a call's time
   * with its garbage. The project's queries and mutations add no listener to it; a subscription has its own.
   */
  private readonly calls = new AbortController();
  private closed = false;

  constructor(
    private readonly socket: WebSocket,
    req: IncomingMessage,
    private readonly options: WebSocketHandlerOptions<TRouter>,
    readonly frames: EventFrames,
  ) {
    this.writer = new SocketWriter(socket);
    this.errors = new ErrorReplies(options, this);
    const expectsParams = new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
    // The upgrade request is kept only until the context is made from it: nothing needs it after, and a
    // connection can live for days.
    this.state = { kind: 'awaiting-params', req };
    if (!expectsParams) this.createContext(req, null);
  }

  get ctx(): inferRouterContext<TRouter> | undefined {
    return this.state.kind === 'ready' ? this.state.ctx : undefined;
  }

  listen(keepAlive: KeepAlive): void {
    const { socket } = this;
    keepAlive.add(this);
    socket.on('message', (data, isBinary) => {
      this.lastSeen = performance.now();
      this.onMessage(data, isBinary);
    });
    socket.on('error', (cause) => {
      this.report(connectionTarget, cause);
    });
    socket.once('close', () => {
      keepAlive.delete(this);
      this.end();
    });
  }

  /** The connection is done: nothing more runs, and everything running is stopped. Idempotent. */
  private end(): void {
    this.closed = true;
    for (const subscription of this.subscriptions.values()) subscription.stop();
    this.subscriptions.clear();
    this.calls.abort();
  }

  // ── KeptAlive ───────────────────────────────────────────────────────────────────────────────────────────

  ping(): void {
    this.writer.writeText('PING');
  }

  terminate(): void {
    this.socket.terminate();
  }

  // ── Replies ─────────────────────────────────────────────────────────────────────────────────────────────

  /** Every reply but PONG and pushed events: through the transformer; dropped once the socket is closing. */
  reply(message: TRPCResponseMessage): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.writer.writeText(replyFrame(this.options.router, message));
  }

  /**
   * A result reply. One with data throws when the transformer cannot encode it: the caller answers that as the
   * call's error. `started` and `stopped` never throw (they are sent from places that could not answer): a
   * failure to encode one is answered as the call's error right here.
   */
  respond(call: Call, result: TRPCResultMessage<unknown>['result']): void {
    if (result.type === 'data') {
      this.reply({ id: call.id, jsonrpc: call.jsonrpc, result });
      return;
    }
    try {
      this.reply({ id: call.id, jsonrpc: call.jsonrpc, result });
    } catch (cause) {
      this.respondError(call, cause);
    }
  }

  /** Reports the error and answers it; never throws. */
  respondError(target: ErrorTarget, cause: unknown): void {
    this.errors.reply(target, this.errors.report(target, cause));
  }

  report(target: ErrorTarget, cause: unknown): void {
    this.errors.report(target, cause);
  }

  abandon(): void {
    this.socket.close(internalErrorCloseCode, 'the server could not encode a reply');
    this.end();
  }

  /**
   * True while the socket keeps up with what pulled subscriptions write. Past `slowConsumerBytes` unsent it is
   * closed with 4008 and everything on it stops at once: a peer that does not read would not take the close
   * frame either, and `ws` waits 30 s for it before dropping the socket.
   */
  keepsUp(): boolean {
    if (this.closed) return false;
    const limit = this.options.slowConsumerBytes;
    if (limit === undefined || this.socket.bufferedAmount <= limit) return true;
    this.socket.close(slowConsumerCloseCode, slowConsumerReason(limit));
    this.end();
    return false;
  }

  release(call: Call, subscription: Subscription): void {
    if (this.subscriptions.get(call.id) === subscription) this.subscriptions.delete(call.id);
  }

  // ── The context ─────────────────────────────────────────────────────────────────────────────────────────

  private createContext(req: IncomingMessage, connectionParams: Record<string, string> | null): void {
    const queued: [ClientMessage, number][] = [];
    this.state = { kind: 'creating', queued };
    let created: inferRouterContext<TRouter> | PromiseLike<inferRouterContext<TRouter>>;
    try {
      created = this.options.createContext({ req, socket: this.socket, connectionParams });
    } catch (cause) {
      this.refuse(cause);
      return;
    }
    if (!isPromiseLike(created)) {
      this.ready(created);
      return;
    }
    created.then(
      (ctx) => {
        this.ready(ctx);
      },
      (cause: unknown) => {
        this.refuse(cause);
      },
    );
  }

  private ready(ctx: inferRouterContext<TRouter>): void {
    const queued = this.state.kind === 'creating' ? this.state.queued : [];
    this.state = { kind: 'ready', ctx };
    for (const [message, batchIndex] of queued) this.onRequest(message, batchIndex);
  }

  /** The connection cannot be served: say why, then close; the client backs off and tries again. */
  private refuse(cause: unknown): void {
    const queued = this.state.kind === 'creating' ? this.state.queued : [];
    const error = getTRPCErrorFromUnknown(cause);
    this.state = { kind: 'refused', error };
    this.respondError(connectionTarget, error);
    for (const [message] of queued) this.refuseRequest(message, error);
    setImmediate(() => {
      this.socket.close();
    });
  }

  private refuseRequest(message: ClientMessage, error: TRPCError): void {
    if (message.method === 'subscription.stop') return;
    const { id, jsonrpc, method: type, params } = message;
    this.respondError({ id, jsonrpc, type, path: params.path, input: undefined }, error);
  }

  // ── Incoming frames ─────────────────────────────────────────────────────────────────────────────────────

  private onMessage(data: RawData, isBinary: boolean): void {
    // Cut as a slow consumer, refused, or closing (a revoked token's socket): what the peer still sends is not
    // read. \`ws\` goes on emitting messages while it waits for the peer's close frame, up to its 30 s timeout.
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) return;
    this.options.trace?.frame('received');
    if (isBinary || !Buffer.isBuffer(data)) {
      this.malformed('send JSON in text frames; binary frames are not part of the protocol');
      return;
    }
    const text = data.toString('utf8');
    if (text === 'PING') {
      // Through the writer, so it leaves after every frame written before it: clients rely on that order.
      this.writer.writeText('PONG');
      return;
    }
    if (text === 'PONG') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // The parser's own message would only repeat the frame back; the reply says what was expected.
      this.malformed('the frame is not JSON');
      return;
    }
    if (this.state.kind === 'awaiting-params') {
      this.onConnectionParams(this.state.req, parsed);
      return;
    }
    const { maxBatchSize } = this.options;
    if (Array.isArray(parsed) && maxBatchSize !== undefined && parsed.length > maxBatchSize) {
      this.refuseBatch(parsed, maxBatchSize);
      return;
    }
    const messages: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    messages.forEach((raw, batchIndex) => {
      const message = clientMessage.safeParse(raw);
      if (message.success) {
        this.accept(message.data, batchIndex);
        return;
      }
      const problems = describeIssues(message.error.issues, '(message)');
      const error = new TRPCError({ code: 'PARSE_ERROR', message: `not a tRPC request: ${problems}` });
      this.respondError({ ...connectionTarget, id: idOf(raw) }, error);
    });
  }

  /**
   * A frame that cannot be read is answered with a PARSE_ERROR. On a connection still waiting for its params
   * it is also the end: without params there is no context to serve anything with, so the connection is
   * refused and closed, as tRPC's adapter does.
   */
  private malformed(message: string): void {
    if (this.state.kind === 'awaiting-params') {
      this.refuse(paramsExpected());
      return;
    }
    this.respondError(connectionTarget, new TRPCError({ code: 'PARSE_ERROR', message }));
  }

  /**
   * None of an oversized batch runs. Each request in it with an id is answered with the one error (reported
   * once); a batch with no id to answer gets it as `{ id: null }`.
   */
  private refuseBatch(batch: unknown[], maxBatchSize: number): void {
    const error = this.errors.report(
      connectionTarget,
      new TRPCError({
        code: 'BAD_REQUEST',
        message: `a batch of ${batch.length} requests is over the limit of ${maxBatchSize} (maxBatchSize); send fewer requests per frame`,
      }),
    );
    const answered = batch.filter(
      (raw) => idOf(raw) !== null && (raw as { method?: unknown }).method !== 'subscription.stop',
    );
    if (answered.length === 0) {
      this.errors.reply(connectionTarget, error);
      return;
    }
    for (const raw of answered) {
      const jsonrpc = (raw as { jsonrpc?: unknown }).jsonrpc === '2.0' ? '2.0' : undefined;
      this.errors.reply({ ...connectionTarget, id: idOf(raw), jsonrpc }, error);
    }
  }

  private onConnectionParams(req: IncomingMessage, parsed: unknown): void {
    const message = connectionParamsMessage.safeParse(parsed);
    if (!message.success) {
      this.refuse(paramsExpected());
      return;
    }
    this.createContext(req, message.data.data ?? null);
  }

  private accept(message: ClientMessage, batchIndex: number): void {
    switch (this.state.kind) {
      case 'ready':
        this.onRequest(message, batchIndex);
        return;
      case 'creating':
        this.state.queued.push([message, batchIndex]);
        return;
      case 'refused':
        this.refuseRequest(message, this.state.error);
        return;
      case 'awaiting-params':
        // Unreachable: the first frame of such a connection is read as its params.
        return;
    }
  }

  private onRequest(message: ClientMessage, batchIndex: number): void {
    if (message.method === 'subscription.stop') {
      this.subscriptions.get(message.id)?.stop();
      return;
    }
    const { id, jsonrpc, method: type, params } = message;
    const { path, lastEventId } = params;
    let input: unknown;
    try {
      input =
        params.input === undefined
          ? undefined
          : configOf(this.options.router).transformer.input.deserialize(params.input);
    } catch (cause) {
      const why = cause instanceof Error ? `: ${cause.message}` : '';
      const error = new TRPCError({
        code: 'PARSE_ERROR',
        message: `the input is not in the router's format${why}`,
        cause,
      });
      this.respondError({ id, jsonrpc, type, path, input: undefined }, error);
      return;
    }
    this.options.trace?.frame('decoded');
    if (typeof lastEventId === 'string') {
      input = typeof input === 'object' && input !== null ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    const call: Call = { id, jsonrpc, type, path, input };
    if (type === 'subscription') this.subscribe(call, batchIndex);
    else void this.callOnce(call, batchIndex);
  }

  private async callOnce(call: Call, batchIndex: number): Promise<void> {
    // A call queued behind an async context may run after the close: its signal is aborted from the start.
    try {
      const data: unknown = await callProcedure({
        router: this.options.router,
        path: call.path,
        getRawInput() {
          return Promise.resolve(call.input);
        },
        ctx: this.ctx,
        type: call.type,
        signal: this.calls.signal,
        batchIndex,
      });
      if (isObservable(data) || (typeof data === 'object' && data !== null && Symbol.asyncIterator in data)) {
        throw new TRPCError({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `Cannot return an async iterable or observable from a ${call.type} procedure with WebSockets`,
        });
      }
      if (this.socket.readyState === WebSocket.OPEN) {
        this.writer.writeText(dataReplyTexts(this.options.router, call.id, call.jsonrpc, data));
      }
    } catch (cause) {
      this.respondError(call, cause);
    }
  }

  private subscribe(call: Call, batchIndex: number): void {
    // A request queued behind an async context, for a socket that closed meanwhile.
    if (this.closed) return;
    if (this.subscriptions.has(call.id)) {
      const message = `Duplicate id ${call.id}: a subscription with this id is running`;
      this.respondError(call, new TRPCError({ code: 'BAD_REQUEST', message }));
      return;
    }
    // Registered before the call, so that a stop or a close while the procedure runs cancels it.
    const subscription = new Subscription(call, this);
    this.subscriptions.set(call.id, subscription);
    callProcedure({
      router: this.options.router,
      path: call.path,
      getRawInput() {
        return Promise.resolve(call.input);
      },
      ctx: this.ctx,
      type: 'subscription',
      signal: subscription.signal,
      batchIndex,
    })
      .then((result) => {
        subscription.begin(result);
      })
      .catch((cause: unknown) => {
        subscription.refuse(cause);
      });
  }
}

/** The first frame of a connection opened with `?connectionParams=1` was not its params. */
function paramsExpected(): TRPCError {
  return new TRPCError({
    code: 'PARSE_ERROR',
    message: 'the first frame must be { method: "connectionParams", data: { …string values } }',
  });
}

/** A request's id, when it has a valid one: an error about it is answered to that id. */
function idOf(raw: unknown): RequestId | null {
  const id = requestId.safeParse((raw as { id?: unknown } | null)?.id);
  return id.success ? id.data : null;
}

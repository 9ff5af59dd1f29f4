/**
 * One WebSocket connection: frames in (checked at the edge), calls run through tRPC once the connection's
 * context exists, replies out through one helper and the socket writer. Subscriptions are `Subscription`s;
 * the connection holds them by request id until each has ended.
 */
import type { IncomingMessage } from 'node:http';
import {
  callTRPCProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  TRPCError,
  type AnyRouter,
  type inferRouterContext,
  type ProcedureType,
  type TRPCErrorShape,
} from '@trpc/server';
import { isObservable } from '@trpc/server/observable';
import type { TRPCResponseMessage, TRPCResultMessage } from '@trpc/server/rpc';
import { WebSocket, type RawData } from 'ws';
import { describeIssues } from '@switchboard/shared';
import type { WebSocketHandlerOptions } from './handler.js';
import type { KeepAlive, KeptAlive } from './keepalive.js';
import {
  clientMessage,
  configOf,
  connectionParamsMessage,
  requestId,
  replyFrame,
  type ClientMessage,
  type EventFrames,
  type RequestId,
} from './protocol.js';
import { SocketWriter } from './socket-writer.js';
import { Subscription, type Call, type SubscriptionHost } from './subscription.js';

/** Who an error reply goes to: a call, or the connection itself (`id: null`). */
interface ErrorTarget {
  id: RequestId | null;
  jsonrpc: '2.0' | undefined;
  type: ProcedureType | 'unknown';
  path: string | undefined;
  input: unknown;
}

const connectionTarget: ErrorTarget = {
  id: null,
  jsonrpc: undefined,
  type: 'unknown',
  path: undefined,
  input: undefined,
};

/**
 * The context's progress: requests that arrive before it exists wait, in order, and run once it does; after a
 * refusal every request is answered with the refusal's error until the socket closes, as tRPC's adapter does.
 */
type ContextState<C> =
  | { kind: 'awaiting-params'; req: IncomingMessage }
  | { kind: 'creating'; queued: [ClientMessage, number][] }
  | { kind: 'ready'; ctx: C }
  | { kind: 'refused'; error: TRPCError };

export class Connection<TRouter extends AnyRouter> implements KeptAlive, SubscriptionHost {
  lastSeen = performance.now();
  pingedAt: number | undefined;
  readonly writer: SocketWriter;
  private state: ContextState<inferRouterContext<TRouter>>;
  private readonly subscriptions = new Map<RequestId, Subscription>();
  private closed = false;

  constructor(
    private readonly socket: WebSocket,
    req: IncomingMessage,
    private readonly options: WebSocketHandlerOptions<TRouter>,
    readonly frames: EventFrames,
  ) {
    this.writer = new SocketWriter(socket);
    const expectsParams = new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
    // The upgrade request is kept only until the context is made from it: nothing needs it after, and a
    // connection can live for days.
    this.state = { kind: 'awaiting-params', req };
    if (!expectsParams) this.createContext(req, null);
  }

  private get ctx(): inferRouterContext<TRouter> | undefined {
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
      this.closed = true;
      keepAlive.delete(this);
      for (const subscription of this.subscriptions.values()) subscription.stop();
      this.subscriptions.clear();
    });
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
  private reply(message: TRPCResponseMessage): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.writer.writeText(replyFrame(this.options.router, message));
  }

  respond(call: Call, result: TRPCResultMessage<unknown>['result']): void {
    this.reply({ id: call.id, jsonrpc: call.jsonrpc, result });
  }

  respondError(target: ErrorTarget, cause: unknown): void {
    const error = this.report(target, cause);
    const { type, path, input } = target;
    // Typed `any` by tRPC for any router: the shape is whatever the router's error formatter makes of it.
    const config = configOf(this.options.router);
    const shape = getErrorShape({ config, error, type, path, input, ctx: this.ctx }) as TRPCErrorShape;
    this.reply({ id: target.id, jsonrpc: target.jsonrpc, error: shape });
  }

  report(target: ErrorTarget, cause: unknown): TRPCError {
    const error = getTRPCErrorFromUnknown(cause);
    const { type, path, input } = target;
    this.options.onError?.({ error, type, path, input, ctx: this.ctx });
    return error;
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
    if (isBinary || !Buffer.isBuffer(data)) {
      const error = new TRPCError({
        code: 'PARSE_ERROR',
        message: 'send JSON in text frames; binary frames are not part of the protocol',
      });
      this.respondError(connectionTarget, error);
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
      this.respondError(connectionTarget, new TRPCError({ code: 'PARSE_ERROR', message: 'the frame is not JSON' }));
      return;
    }
    if (this.state.kind === 'awaiting-params') {
      this.onConnectionParams(this.state.req, parsed);
      return;
    }
    const messages: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    messages.forEach((raw, batchIndex) => {
      const message = clientMessage.safeParse(raw);
      if (message.success) {
        this.accept(message.data, batchIndex);
        return;
      }
      const id = requestId.safeParse((raw as { id?: unknown } | null)?.id);
      const problems = describeIssues(message.error.issues, '(message)');
      const error = new TRPCError({ code: 'PARSE_ERROR', message: `not a tRPC request: ${problems}` });
      this.respondError({ ...connectionTarget, id: id.success ? id.data : null }, error);
    });
  }

  private onConnectionParams(req: IncomingMessage, parsed: unknown): void {
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
      const error = new TRPCError({ code: 'PARSE_ERROR', message: "the input is not in the router's format", cause });
      this.respondError({ id, jsonrpc, type, path, input: undefined }, error);
      return;
    }
    if (typeof lastEventId === 'string') {
      input = typeof input === 'object' && input !== null ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    const call: Call = { id, jsonrpc, type, path, input };
    if (type === 'subscription') this.subscribe(call, batchIndex);
    else void this.callOnce(call, batchIndex);
  }

  private async callOnce(call: Call, batchIndex: number): Promise<void> {
    try {
      const data: unknown = await callTRPCProcedure({
        router: this.options.router,
        path: call.path,
        getRawInput: () => Promise.resolve(call.input),
        ctx: this.ctx,
        type: call.type,
        // tRPC's own adapter never aborts a query's or a mutation's signal either.
        signal: undefined,
        batchIndex,
      });
      if (isObservable(data) || (typeof data === 'object' && data !== null && Symbol.asyncIterator in data)) {
        throw new TRPCError({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `Cannot return an async iterable or observable from a ${call.type} procedure with WebSockets`,
        });
      }
      this.respond(call, { type: 'data', data });
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
    callTRPCProcedure({
      router: this.options.router,
      path: call.path,
      getRawInput: () => Promise.resolve(call.input),
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

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

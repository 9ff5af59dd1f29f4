/**
 * How a connection reports errors and answers them, whatever fails in the router's own hooks, so that every
 * call is answered and nothing rejects into nothing:
 *
 * - an `errorFormatter` that throws: the fallback error shape is sent instead (tRPC's adapter does the same);
 * - an error reply the transformer cannot encode: the fallback shape; if not even that encodes, the socket is
 *   closed (1011), which the client reads as the end of every call on it;
 * - an `onError` that throws or returns a rejected promise: the failure is logged, and the connection carries on.
 */
import {
  getErrorShape,
  getTRPCErrorFromUnknown,
  TRPCError,
  type AnyRouter,
  type inferRouterContext,
  type ProcedureType,
  type TRPCErrorShape,
} from '@trpc/server';
import type { TRPCResponseMessage } from '@trpc/server/rpc';
import type { WebSocketHandlerOptions } from './options.js';
import { configOf, fallbackErrorShape, type RequestId } from './protocol.js';

/** Who an error reply goes to: a call, or the connection itself (`id: null`). */
export interface ErrorTarget {
  id: RequestId | null;
  jsonrpc: '2.0' | undefined;
  type: ProcedureType | 'unknown';
  path: string | undefined;
  input: unknown;
}

export const connectionTarget: ErrorTarget = {
  id: null,
  jsonrpc: undefined,
  type: 'unknown',
  path: undefined,
  input: undefined,
};

/** What the error path needs of its connection. */
export interface ErrorChannel<C> {
  /** The connection's context, once it exists: the error formatter and `onError` get it. */
  readonly ctx: C | undefined;
  /** Sends a reply through the transformer; throws when the transformer cannot encode it. */
  reply(message: TRPCResponseMessage): void;
  /** Not even the fallback error could be encoded: close the socket, so that no call waits forever. */
  abandon(): void;
}

export class ErrorReplies<TRouter extends AnyRouter> {
  constructor(
    private readonly options: Pick<WebSocketHandlerOptions<TRouter>, 'router' | 'onError'>,
    private readonly channel: ErrorChannel<inferRouterContext<TRouter>>,
  ) {}

  /** Tells `onError`, if any; a failure of its own is logged, never thrown or left to reject. */
  report(target: ErrorTarget, cause: unknown): TRPCError {
    const error = getTRPCErrorFromUnknown(cause);
    if (this.options.onError === undefined) return error;
    const { type, path, input } = target;
    try {
      const result = this.options.onError({ error, type, path, input, ctx: this.channel.ctx });
      if (isPromiseLike(result)) result.then(undefined, logOnErrorFailure);
    } catch (failure) {
      logOnErrorFailure(failure);
    }
    return error;
  }

  /**
   * Answers `error` to `target` in the router's error shape. When the `errorFormatter` throws, or the reply
   * cannot be encoded, the fallback shape goes instead (it says nothing the formatter might have hidden);
   * when not even that can be encoded, the channel is abandoned.
   */
  reply(target: ErrorTarget, error: TRPCError): void {
    const { id, jsonrpc, type, path, input } = target;
    let shape: TRPCErrorShape;
    try {
      // Typed `any` by tRPC for any router: the shape is whatever the router's error formatter makes of it.
      const config = configOf(this.options.router);
      shape = getErrorShape({ config, error, type, path, input, ctx: this.channel.ctx }) as TRPCErrorShape;
    } catch (cause) {
      this.reportInternal(target, 'the errorFormatter threw', cause);
      shape = fallbackErrorShape;
    }
    try {
      this.channel.reply({ id, jsonrpc, error: shape });
      return;
    } catch (cause) {
      this.reportInternal(target, 'the error reply could not be encoded', cause);
    }
    try {
      this.channel.reply({ id, jsonrpc, error: fallbackErrorShape });
    } catch (cause) {
      this.reportInternal(target, 'not even the fallback error could be encoded', cause);
      this.channel.abandon();
    }
  }

  /**
   * A failure of the error path itself (the router's `errorFormatter` or transformer): reported as an
   * INTERNAL_SERVER_ERROR, and logged when there is no `onError` to tell, so that it is never silent.
   */
  private reportInternal(target: ErrorTarget, what: string, cause: unknown): void {
    const why = cause instanceof Error ? cause.message : String(cause);
    const error = new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `${what}: ${why}`, cause });
    if (this.options.onError) this.report(target, error);
    else console.error('WebSocket handler:', error);
  }
}

/** What an `onError` that threw or rejected leaves: a line in the log; the connection carries on. */
function logOnErrorFailure(cause: unknown): void {
  console.error('WebSocket handler: onError failed:', cause);
}

export function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

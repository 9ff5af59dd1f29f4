import { tracked, TRPCError, type TrackedEnvelope } from '@trpc/server';
import { formatCursor, type AnyEnvelope, type StreamItem, type StreamReset } from '@switchboard/shared';
import type { Context } from '../context.js';
import { pushSource, type OpenPush, type PushSink, type PushSource } from '../core/push-source.js';
import type { StreamRequest } from '../core/hub.js';
import { CursorAheadError, pullStream, type EventStream, type StreamSink } from '../core/stream.js';
import { readableFilter } from '../security/scopes.js';

type Tracked<E extends AnyEnvelope> = TrackedEnvelope<E | StreamReset>;

/**
 * Which stored events a subscription yields, narrowing their type. It may keep state across a subscription's
 * events (the presence stream yields only changes); `reset` is then told of every `stream.reset` notice, after
 * which the current state follows afresh.
 */
export type Accepts<E extends AnyEnvelope> = ((event: AnyEnvelope) => event is E) & { reset?: () => void };

/**
 * What a subscription procedure declares it returns. The value is an `EventSubscription`, which the WebSocket
 * transport recognises at run time (`isPushSource`); the declared type is made of `shared/` types alone because
 * it becomes part of `AppRouter`, and the client packages' declarations must not reach the server's context.
 */
export type EventStreamOf<E extends AnyEnvelope> = AsyncIterable<Tracked<E>>;

/**
 * What every subscription procedure returns: the hub's events for one request, each as `tracked(cursor, envelope)`.
 * The cursor (`<id>@<epoch>`, shared/cursor.ts) is what the client sends back to resume, so a resume is checked
 * against this log; a single untracked item would reset it, so nothing else is sent.
 *
 * It can be pulled as an async iterable (`createCaller`, tRPC's own adapters) or, being a `PushSource`, opened
 * in push mode by the project's WebSocket handler, which recognises it on the procedure's result. Either way
 * it holds one of the connection's subscription slots for exactly as long as it runs, skips deliveries once
 * the connection is being cut as a slow consumer, and counts deliveries.
 * `accepts` narrows the envelope type; the stream's filter already guarantees it holds.
 */
export class EventSubscription<E extends AnyEnvelope> implements PushSource<E | StreamReset> {
  readonly [pushSource] = true as const;

  /**
   * The parts of the context a stream uses, each shared by the connection or the server. The context itself is
   * a copy tRPC's middlewares made for this call; holding it would keep one more object per subscription.
   */
  private readonly ctx: Pick<Context, 'hub' | 'limits' | 'metrics'>;
  private readonly epoch: string;

  constructor(
    { hub, limits, metrics }: Context,
    readonly procedure: string,
    private readonly request: StreamRequest,
    private readonly accepts: Accepts<E>,
    private readonly signal: AbortSignal,
  ) {
    this.ctx = { hub, limits, metrics };
    this.epoch = hub.epoch;
  }

  trackedId(item: E | StreamReset): string {
    return formatCursor(item.id, this.epoch);
  }

  /**
   * Push mode: the sink gets each item synchronously; a failure reaches it as a TRPCError; a catch-up from the
   * store waits whenever the socket holds the connection's replay window unsent (see StreamSink.ready).
   * Throws TOO_MANY_REQUESTS when the connection holds its maximum.
   */
  open(sink: PushSink<E | StreamReset>): OpenPush {
    const slot = this.ctx.limits.openSubscription(this.procedure);
    const window = this.ctx.limits.replayWindowBytes;
    const stream = this.start({
      // Bound once here, so each event costs the same one call into the sink as a closure would. The filter and
      // `accepts` (in `start`) have narrowed each item to what this subscription yields: E or a reset notice.
      push: sink.push.bind(sink) as (item: StreamItem, shared: boolean, more?: boolean) => boolean,
      ready(resume) {
        return sink.drainedBelow(window, resume);
      },
      started() {
        sink.started();
      },
      fail(error) {
        slot[Symbol.dispose]();
        sink.fail(toTRPCError(error));
      },
    });
    return {
      stop() {
        stream.close();
        slot[Symbol.dispose]();
      },
      resume() {
        stream.resume();
      },
    };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Tracked<E>, void, undefined> {
    // Taken on the first step, so that a subscription never iterated never holds a slot.
    using _slot = this.ctx.limits.openSubscription(this.procedure);
    const items = pullStream((sink) => this.start(sink), this.ctx.hub.bufferLimit, this.signal);
    try {
      for await (const item of items) yield tracked(this.trackedId(item as E | StreamReset), item as E | StreamReset);
    } catch (error) {
      throw toTRPCError(error);
    }
  }

  /** Opens the hub stream behind a sink that keeps only accepted events, counts them and times them. */
  private start(sink: StreamSink): EventStream {
    const { ctx, accepts } = this;
    const delivered = ctx.metrics.deliveredTally(this.procedure);
    const { deliverySeconds } = ctx.metrics;
    return ctx.hub.open(this.request, {
      push(item: StreamItem, shared: boolean, more?: boolean): boolean {
        // The connection is being closed as a slow consumer; its close ends this stream.
        if (!ctx.limits.keepsUp()) return true;
        if (item.type === 'stream.reset') accepts.reset?.();
        else {
          if (!accepts(item)) return true;
          // Live events only (`shared`): a replayed one's time since its commit is the subscriber's lag, not delivery.
          const committedAt = shared ? ctx.hub.committedAt(item) : undefined;
          if (committedAt !== undefined) deliverySeconds.observe((performance.now() - committedAt) / 1000);
          delivered.count++;
        }
        return sink.push(item, shared, more);
      },
      fail(error) {
        sink.fail(error);
      },
      ready(resume) {
        return sink.ready?.(resume) ?? true;
      },
      ...(sink.started && {
        started() {
          sink.started?.();
        },
      }),
    });
  }
}

/** A cursor from another database is the client's mistake, not a server fault. */
function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (error instanceof CursorAheadError)
    return new TRPCError({ code: 'BAD_REQUEST', message: error.message, cause: error });
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'the event stream failed', cause: error });
}

/** The subscription for one procedure call; see `EventSubscription`. */
export function subscribeEvents<E extends AnyEnvelope>(
  ctx: Context,
  procedure: string,
  request: StreamRequest,
  accepts: Accepts<E>,
  signal: AbortSignal | undefined,
): EventStreamOf<E> {
  // Every subscription passes here: the one place its filter is narrowed to the caller's read scopes.
  const scoped = ctx.principal ? { ...request, filter: readableFilter(ctx.principal, request.filter) } : request;
  return new EventSubscription(ctx, procedure, scoped, accepts, signal ?? new AbortController().signal);
}

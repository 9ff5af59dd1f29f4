import { tracked, TRPCError } from '@trpc/server';
import type { AnyEnvelope, StreamItem, StreamReset } from '../../shared/index.js';
import type { Context } from '../context.js';
import type { StreamRequest } from '../hub.js';
import { CursorAheadError, pullStream, type EventStream, type StreamSink } from '../stream.js';

type Tracked<E extends AnyEnvelope> = ReturnType<typeof tracked<E | StreamReset>>;

/** A push-mode subscription: stop it to end the stream and free its slot. */
export interface OpenSubscription {
  stop(): void;
}

const claimable = new WeakMap<AbortSignal, EventSubscription<AnyEnvelope>>();

/**
 * The subscription a procedure call returned, found by the call's abort signal; each is claimed once. The
 * WebSocket handler uses it to push frames to the socket directly, instead of pulling the async iterator.
 */
export function claimSubscription(signal: AbortSignal): EventSubscription<AnyEnvelope> | undefined {
  const subscription = claimable.get(signal);
  claimable.delete(signal);
  return subscription;
}

/**
 * What every subscription procedure returns: the hub's events for one request, each as `tracked(id, envelope)`.
 * The id is the client's resume cursor; a single untracked item would reset it, so nothing else is sent.
 *
 * It can be pulled as an async iterable (`createCaller`, tRPC's own adapters) or opened in push mode by the
 * project's WebSocket handler. Either way it holds one of the connection's subscription slots for exactly as long
 * as it runs, skips deliveries once the connection is being cut as a slow consumer, and counts deliveries.
 * `accepts` narrows the envelope type; the stream's filter already guarantees it holds.
 */
export class EventSubscription<E extends AnyEnvelope> implements AsyncIterable<Tracked<E>> {
  /**
   * The parts of the context a stream uses, each shared by the connection or the server. The context itself is
   * a copy tRPC's middlewares made for this call; holding it would keep one more object per subscription.
   */
  private readonly ctx: Pick<Context, 'hub' | 'limits' | 'metrics'>;

  constructor(
    { hub, limits, metrics }: Context,
    readonly procedure: string,
    private readonly request: StreamRequest,
    private readonly accepts: (event: AnyEnvelope) => event is E,
    private readonly signal: AbortSignal,
  ) {
    this.ctx = { hub, limits, metrics };
    claimable.set(signal, this);
  }

  /**
   * Push mode: `deliver` gets each item synchronously and says whether it can take more; `fail` gets the
   * error that ended the stream (a TRPCError); `ready` paces a catch-up from the store (see StreamSink).
   * Throws TOO_MANY_REQUESTS when the connection holds its maximum.
   */
  open(
    deliver: (item: E | StreamReset, shared: boolean) => boolean,
    fail: (error: TRPCError) => void,
    ready: (resume: () => void) => boolean,
  ): OpenSubscription {
    const slot = this.ctx.limits.openSubscription(this.procedure);
    const stream = this.start({
      // `start` passes on only what `accepts` let through: E, or a reset notice.
      push: (item, shared) => deliver(item as E | StreamReset, shared),
      ready,
      fail: (error) => {
        slot[Symbol.dispose]();
        fail(toTRPCError(error));
      },
    });
    return {
      stop: () => {
        stream.close();
        slot[Symbol.dispose]();
      },
    };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Tracked<E>, void, undefined> {
    // Taken on the first step, so that a subscription never iterated never holds a slot.
    using _slot = this.ctx.limits.openSubscription(this.procedure);
    const items = pullStream((sink) => this.start(sink), this.ctx.hub.bufferLimit, this.signal);
    try {
      for await (const item of items) yield tracked(item.id, item as E | StreamReset);
    } catch (error) {
      throw toTRPCError(error);
    }
  }

  /** Opens the hub stream behind a sink that keeps only accepted events, counts them and times them. */
  private start(sink: StreamSink): EventStream {
    const { ctx, accepts } = this;
    const delivered = ctx.metrics.delivered.labels({ procedure: this.procedure });
    const { deliverySeconds } = ctx.metrics;
    return ctx.hub.open(this.request, {
      push(item: StreamItem, shared: boolean): boolean {
        // The connection is being closed as a slow consumer; its close ends this stream.
        if (!ctx.limits.keepsUp()) return true;
        if (item.type !== 'stream.reset') {
          if (!accepts(item)) return true;
          const committedAt = ctx.hub.committedAt(item);
          if (committedAt !== undefined) deliverySeconds.observe((performance.now() - committedAt) / 1000);
          delivered.inc();
        }
        return sink.push(item, shared);
      },
      fail: (error) => {
        sink.fail(error);
      },
      ready: (resume) => sink.ready?.(resume) ?? true,
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
  accepts: (event: AnyEnvelope) => event is E,
  signal: AbortSignal | undefined,
): EventSubscription<E> {
  return new EventSubscription(ctx, procedure, request, accepts, signal ?? new AbortController().signal);
}

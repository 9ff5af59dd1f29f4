/**
 * One subscription request on one socket, from the procedure call to `stopped`. What the procedure returned
 * decides how its items reach the socket:
 *
 * - A `PushSource` (the project's event streams) is opened in push mode: the source hands each item to `push`,
 *   which writes that event's prebuilt frame (`EventFrames`) to the socket. Per subscriber per event that is
 *   one call and one socket write: no promise, no iterator step, no per-subscriber serialization.
 * - Any other async iterable, or an observable, is pulled as tRPC's own adapter pulls it: `started`, one reply
 *   per item through the transformer (`tracked` items carry their id at the result level), `stopped` once it
 *   completes or is stopped, an error (then `stopped`) when it throws. Unlike there, it is held to the
 *   connection's slow-consumer bound, and holds no item once it is sent.
 *
 * Either way the request id stays taken until the subscription has ended, and `stopped` is sent then.
 */
import { getTRPCErrorFromUnknown, isTrackedEnvelope, TRPCError } from '@trpc/server';
import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import type { TRPCResultMessage } from '@trpc/server/rpc';
import { isPushSource, type OpenPush, type PushSink, type TrackedItem } from '../../core/push-source.js';
import { replyHead, type EventFrames, type RequestId } from './protocol.js';
import type { FrameSource, SocketWriter } from './socket-writer.js';

/** One request as the client sent it, with its input deserialized and `lastEventId` merged in. */
export interface Call {
  id: RequestId;
  jsonrpc: '2.0' | undefined;
  type: 'query' | 'mutation' | 'subscription';
  path: string;
  input: unknown;
}

/** What a subscription needs of its connection. */
export interface SubscriptionHost {
  readonly writer: SocketWriter;
  readonly frames: EventFrames;
  /**
   * Replies through the transformer; dropped once the socket is closing. Throws only for `data` the
   * transformer cannot encode.
   */
  respond(call: Call, result: TRPCResultMessage<unknown>['result']): void;
  /** Reports the error and answers it to the client; never throws. */
  respondError(call: Call, cause: unknown): void;
  /** Reports an error the client is not told about (a teardown that failed after a stop). */
  report(call: Call, cause: unknown): void;
  /** The subscription has ended: its id may be used again. */
  release(call: Call, subscription: Subscription): void;
  /**
   * False once the socket holds more unsent bytes than the connection allows: the connection has then been
   * cut as a slow consumer (4008), and this subscription stopped with everything else on it.
   */
  keepsUp(): boolean;
}

type Phase = 'calling' | 'pushing' | 'pulling' | 'ended';

export class Subscription implements PushSink<TrackedItem> {
  private readonly controller = new AbortController();
  private phase: Phase = 'calling';
  private open: OpenPush | undefined;
  // The fast path's per-event state, held directly so that `push` reaches it without an indirection.
  private readonly writer: SocketWriter;
  private readonly frames: EventFrames;
  /** The pushed items' frames, with the tracked ids their source gives (set when a push source is opened). */
  private tracked: FrameSource<TrackedItem> | undefined;
  private readonly head: string;

  constructor(
    private readonly call: Call,
    private readonly host: SubscriptionHost,
  ) {
    this.writer = host.writer;
    this.frames = host.frames;
    this.head = replyHead(call.id, call.jsonrpc);
  }

  /** Aborted on `subscription.stop`, on close, and when iteration ends other than by completing. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Takes what the procedure returned. Throws when it is no subscription, or when a push source refuses to
   * open (a limit): the caller answers the error, and nothing was started.
   */
  begin(result: unknown): void {
    if (this.phase !== 'calling') return;
    if (this.signal.aborted) {
      // Stopped or disconnected while the procedure ran: nothing was opened. An iterator the procedure may
      // have prepared is closed without being read; an observable has not been subscribed to.
      if (!isPushSource(result) && isAsyncIterable(result)) void this.dispose(result[Symbol.asyncIterator]());
      this.end();
      return;
    }
    if (isPushSource(result)) {
      // `started` is sent when the source says it has fixed its start (see PushSink.started), so every event
      // committed after the client hears it is delivered.
      this.phase = 'pushing';
      const { frames } = this;
      const trackedId = result.trackedId.bind(result);
      this.tracked = {
        text(head, item, shared) {
          return frames.text(head, item, shared, trackedId);
        },
        wire(head, item) {
          return frames.wire(head, item, trackedId);
        },
      };
      try {
        this.open = result.open(this);
      } catch (cause) {
        this.phase = 'calling';
        throw cause;
      }
      return;
    }
    const iterable = isObservable(result)
      ? observableToAsyncIterable(result, this.signal)
      : isAsyncIterable(result)
        ? result
        : undefined;
    if (iterable === undefined) {
      throw new TRPCError({
        code: 'INTERNAL_SERVER_ERROR',
        message: `Subscription ${this.call.path} did not return an observable or a AsyncGenerator`,
      });
    }
    this.phase = 'pulling';
    this.host.respond(this.call, { type: 'started' });
    void this.pull(iterable[Symbol.asyncIterator]());
  }

  /** The procedure call failed, or its result could not be started: answered with the error alone. */
  refuse(cause: unknown): void {
    if (this.phase === 'ended') return;
    // A procedure that gave up because it was stopped has no error to tell: it just stopped.
    if (this.signal.aborted && isAbortError(cause)) {
      this.end();
      return;
    }
    this.phase = 'ended';
    this.host.release(this.call, this);
    this.host.respondError(this.call, cause);
  }

  /** `subscription.stop`, or the connection closed. */
  stop(): void {
    this.controller.abort();
    if (this.phase !== 'pushing') return;
    this.open?.stop();
    this.end();
  }

  // ── PushSink: the fast path ─────────────────────────────────────────────────────────────────────────────

  push(item: TrackedItem, shared: boolean, more = false): boolean {
    if (this.tracked) this.writer.write(this.tracked, this.head, item, shared, more);
    return true;
  }

  drainedBelow(bytes: number, resume: () => void): boolean {
    return this.writer.drainedBelow(bytes, resume);
  }

  started(): void {
    if (this.phase === 'pushing') this.host.respond(this.call, { type: 'started' });
  }

  fail(error: unknown): void {
    if (this.phase !== 'pushing') return;
    this.host.respondError(this.call, error);
    this.end();
  }

  // ── The generic path ────────────────────────────────────────────────────────────────────────────────────

  private async pull(iterator: AsyncIterator<unknown>): Promise<void> {
    let failure: { cause: unknown } | undefined;
    let completed = false;
    const send = this.send.bind(this);
    try {
      for (;;) {
        // Each item is sent inside the step, so that this frame never holds it: between items (which may be
        // hours apart) nothing here keeps the last one reachable (the leak tRPC fixed in trpc/trpc#6156).
        const step = await sendNextUnlessStopped(iterator, this.signal, send, (cause) => {
          this.host.report(this.call, cause);
        });
        if (step === 'stopped') break;
        if (step === 'done') {
          completed = true;
          break;
        }
        // A generator or an observable pushes as fast as it is pulled; only the socket's backlog can bound it.
        if (!this.host.keepsUp()) break;
      }
    } catch (cause) {
      failure = { cause };
    }
    // Aborted before disposal, so that a teardown waiting for cancellation is woken.
    if (!completed) this.controller.abort();
    const disposal = await this.dispose(iterator);
    // The client gets the iteration's error; a teardown's failure is the server's to know about.
    if (disposal) this.host.report(this.call, disposal.cause);
    if (failure) this.host.respondError(this.call, failure.cause);
    this.end();
  }

  /** One pulled item's reply; a `tracked` item carries its id at the result level too. */
  private send(value: unknown): void {
    if (isTrackedEnvelope(value)) {
      const [id, data] = value;
      this.host.respond(this.call, { type: 'data', id, data: { id, data } });
    } else {
      this.host.respond(this.call, { type: 'data', data: value });
    }
  }

  private async dispose(iterator: AsyncIterator<unknown>): Promise<{ cause: unknown } | undefined> {
    try {
      await iterator.return?.();
      return undefined;
    } catch (cause) {
      return { cause };
    }
  }

  /** Frees the id, then says so: a client may reuse an id once `stopped` has arrived. */
  private end(): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.host.release(this.call, this);
    this.host.respond(this.call, { type: 'stopped' });
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** A stopped subscription's procedure or iterator is expected to end with an AbortError, maybe wrapped. */
function isAbortError(cause: unknown): boolean {
  const error = cause instanceof TRPCError ? cause.cause : cause;
  return error instanceof Error && error.name === 'AbortError';
}

/**
 * Takes the iterator's next item and hands it to `send` as soon as it arrives: 'sent', or 'done' when the
 * iterator has completed, or 'stopped' as soon as the signal aborts, without waiting for the iterator. The
 * item never becomes the value of a promise that outlives the step: whoever awaits the step cannot keep it.
 * A rejection, or a `send` that throws, rejects the step; a rejection after the stop goes to
 * `onErrorAfterStop` unless it is the AbortError a stop is expected to cause. One listener per step, removed
 * when the step settles: nothing accumulates on a long-lived signal (a `Promise.race` against one abort promise
 * would keep a reaction per step until the subscription ends).
 */
function sendNextUnlessStopped(
  iterator: AsyncIterator<unknown>,
  signal: AbortSignal,
  send: (value: unknown) => void,
  onErrorAfterStop: (cause: unknown) => void,
): Promise<'sent' | 'done' | 'stopped'> {
  if (signal.aborted) return Promise.resolve('stopped');
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      resolve('stopped');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        // Stopped while the iterator worked: the item is dropped, as the stop has been answered.
        if (signal.aborted) return;
        if (result.done === true) {
          resolve('done');
          return;
        }
        try {
          send(result.value);
          resolve('sent');
        } catch (cause) {
          reject(getTRPCErrorFromUnknown(cause));
        }
      },
      (cause: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!signal.aborted) {
          reject(getTRPCErrorFromUnknown(cause));
          return;
        }
        if (!isAbortError(cause)) onErrorAfterStop(cause);
        resolve('stopped');
      },
    );
  });
}

/**
 * The seam between a subscription procedure and a transport that can push: what a resolver returns when its
 * items can be handed to the transport synchronously, one at a time, instead of being pulled through an async
 * iterator (one promise and one iterator step per subscriber per item).
 *
 * Why a brand on the returned value, and not a side channel: tRPC hands the transport exactly what the resolver
 * returned. The middlewares run (server/transports/procedure-call.ts, as `callTRPCProcedure` runs them), and each
 * passes the resolver's `data` through untouched (`createResolver` and `callRecursive` in @trpc/server 11), so the
 * transport can recognise the value itself. Two builder steps do replace it: `.errors()` wraps an async iterable in an
 * async generator, and `.output()` returns what its parser returned. A push source is also an ordinary async iterable
 * yielding the same items, so a wrapped one loses only the fast path: the transport pulls it like any other
 * subscription.
 */

/** Present, and true, on every push source; checked by `isPushSource`. */
export const pushSource: unique symbol = Symbol('switchboard.pushSource');

/** An item a push source delivers: the transport sends it as `tracked(source.trackedId(item), item)`. */
export interface TrackedItem {
  readonly id: string;
}

/** Where a push source delivers. Every method is called synchronously from the source. */
export interface PushSink<T extends TrackedItem> {
  /**
   * Takes one item, synchronously. `shared` is true when the same object goes to every subscriber (anything
   * derived from it is worth caching by identity), false for one made or read for this subscriber alone.
   * Returns false when it can take no more for now. `more`: further items follow synchronously, the last of them with
   * `more` false (see StreamSink.push), so the sink may hold this one and write them all with that last.
   */
  push(item: T, shared: boolean, more?: boolean): boolean;
  /**
   * The source has fixed where it starts; called once, before its first item. Every item committed after this
   * is delivered, so a transport acknowledges the subscription (`started`) here, not when it opens the source.
   */
  started(): void;
  /** The source failed; nothing follows. */
  fail(error: unknown): void;
  /**
   * True while fewer than `bytes` wait to be sent to the peer; otherwise false, and `resume` runs once they
   * have drained. The source decides the window (it knows its limits); the sink knows its socket.
   */
  drainedBelow(bytes: number, resume: () => void): boolean;
}

/** A push source that is running: stop it to end it and free what it holds. Stopping twice is harmless. */
export interface OpenPush {
  stop(): void;
  /**
   * After `push` returned false the source skips what follows; once the sink can take more, this reads the
   * skipped items back (from the store) and goes on live. A transport whose `push` never says no never calls it.
   */
  resume(): void;
}

/**
 * A subscription's result that can be opened in push mode. Invariants every implementation keeps (and: it calls
 * `sink.started()` once it has fixed where it starts, before its first item, possibly inside `open`):
 * - Pulled (`Symbol.asyncIterator`) it yields `tracked(trackedId(item), item)` for exactly the items it would
 *   push, so a transport may use either form and the client cannot tell.
 * - `open` takes what the subscription holds (a slot, a stream) only when called, and may throw (a limit) before
 *   anything is delivered; nothing is pushed synchronously inside `open`.
 * - It never completes on its own: it ends by `stop()` or by `fail`.
 */
export interface PushSource<T extends TrackedItem> extends AsyncIterable<unknown> {
  readonly [pushSource]: true;
  open(sink: PushSink<T>): OpenPush;
  /**
   * The id a transport sends with an item, which the client keeps and sends back to resume: the item's resume
   * cursor. A pure function of the item, the same for every subscriber of the source's server, so a frame built
   * once for an item may be shared by all of them.
   */
  trackedId(item: T): string;
}

/** True for a value a resolver returned that can be opened in push mode. */
export function isPushSource(value: unknown): value is PushSource<TrackedItem> {
  return typeof value === 'object' && value !== null && pushSource in value && value[pushSource] === true;
}

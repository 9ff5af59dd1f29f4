/**
 * Timing of an event's path through one server, for the bench's latency breakdown (bench/latency.ts): where
 * the time between a `publish` frame arriving and its event reaching the sockets goes. Off unless whoever builds
 * the server passes a tracer (`ServerOptions.trace`); each stage is then one optional call (`trace?.event(…)`),
 * so a server without one pays a branch per stage and nothing per subscriber.
 */

/** The stages an event passes, in order; each is stamped once per event. */
export type EventStage =
  /** Validated and handed to `hub.append` (queued for the next group commit). */
  | 'queued'
  /** Its group's commit started. */
  | 'commitStart'
  /** Its group is durable (the store's append resolved). */
  | 'committed'
  /** Offered to the streams (the bus publish began). */
  | 'dispatchStart'
  /** The first subscriber's frame for it is being built. */
  | 'frameStart'
  /** That frame is built (it is shared by every subscriber with the same request id). */
  | 'frameBuilt'
  /** Every stream has been offered it and every matching socket handed its frame. */
  | 'dispatchEnd';

export interface PathTracer {
  /**
   * A request frame arrived (`received`) or a request's input was decoded (`decoded`). Frames carry no event
   * identity yet: the stamps are held and given to the events the next append queues.
   */
  frame(stage: 'received' | 'decoded'): void;
  /** `event` reached `stage`: the validated event or its envelope, which carry the same `data` object. */
  event(stage: EventStage, event: { readonly data: unknown }): void;
}

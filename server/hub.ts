/**
 * The hub joins a store and a bus: the one append path every write goes through, and the streams every
 * subscription reads. Routers hold a hub in their context and nothing else.
 */
import type { EventEnvelope, StreamItem, ValidEvent } from '../shared/index.js';
import type { EventBus } from './bus/types.js';
import type { EventFilter } from './filter.js';
import type { EventStore, SnapshotKind } from './store/types.js';
import { streamEvents } from './stream.js';

export interface HubOptions {
  store: EventStore;
  bus: EventBus;
  /** Live events one subscriber may have waiting before it falls back to reading the store. */
  subscriberBufferLimit?: number;
  /** Told after every append that stored something: how many events, and how long the append took. */
  onAppend?: (stored: number, seconds: number) => void;
}

export interface StreamRequest {
  filter: EventFilter;
  lastEventId?: string | undefined;
  /** Without a cursor: start with this current state. Absent: live only. */
  snapshot?: SnapshotKind | undefined;
  /** Ends the stream; tRPC aborts it when the client unsubscribes or disconnects. */
  signal?: AbortSignal | undefined;
}

export type Hub = ReturnType<typeof createHub>;

export function createHub({ store, bus, subscriberBufferLimit = 1_000, onAppend }: HubOptions) {
  // When each live envelope was committed (performance.now()), for the delivery-latency metric. Keyed by the
  // envelope object itself, which the bus hands to every subscriber, so it costs nothing per subscriber.
  const committed = new WeakMap<EventEnvelope, number>();
  // Appends run one after another so that the bus sees events in commit (id) order for any store, including
  // one whose append is truly asynchronous. A failed append does not stall the ones queued behind it.
  let tail: Promise<unknown> = Promise.resolve();

  return {
    store,
    /** Validated events in; stored envelopes out, in input order, once they are durable and published. */
    append(events: readonly ValidEvent[]): Promise<EventEnvelope[]> {
      const run = tail.then(async () => {
        const started = performance.now();
        const result = await store.append(events);
        const now = performance.now();
        for (const envelope of result.stored) committed.set(envelope, now);
        bus.publish(result.stored);
        onAppend?.(result.stored.length, (now - started) / 1000);
        return result.envelopes;
      });
      tail = run.catch(() => undefined);
      return run;
    },
    /** When a live envelope was committed (`performance.now()`); undefined for events read from the store. */
    committedAt(envelope: EventEnvelope): number | undefined {
      return committed.get(envelope);
    },
    /** Resolves once every append queued so far has finished (shutdown waits on it). */
    drained(): Promise<void> {
      return tail.then(() => undefined);
    },
    stream({ filter, lastEventId, snapshot, signal }: StreamRequest): AsyncGenerator<StreamItem, void, undefined> {
      return streamEvents(store, bus, {
        filter,
        lastEventId,
        snapshot: snapshot && (() => store.snapshot(snapshot, filter)),
        signal: signal ?? new AbortController().signal,
        bufferLimit: subscriberBufferLimit,
      });
    },
    /** Subscriptions currently streaming in this process. */
    get subscriptions() {
      return bus.size;
    },
  };
}

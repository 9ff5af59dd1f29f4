/**
 * The bus contracts, written where they are used: the hub publishes and the streams subscribe through an
 * `EventBus`; the `Sequencer` (./sequencer.ts) builds one above a `BusTransport`. The in-process bus
 * (server/bus/memory.ts) is an `EventBus` itself; Redis (server/bus/redis.ts) and PostgreSQL NOTIFY
 * (server/bus/notify.ts) are transports. test/buses/bus-contract.test.ts runs every one through the same suite.
 */
import type { EventEnvelope } from '@switchboard/shared';

/**
 * Carries stored events to the subscribers of this process. The hub publishes each group commit's events
 * after they commit, as one call, in id order. Guarantee every implementation gives its listeners: every
 * committed event, once, in id order (no gap, no repeat, no reordering), from the moment of subscribing. The
 * in-process bus gives it by construction; across nodes, a `Sequencer` (server/core/sequencer.ts) gives it
 * above a `BusTransport`. A subscriber that cannot keep up (overflow, reconnect) still reads what it missed
 * back from the store by id.
 */
export interface EventBus {
  publish(events: readonly EventEnvelope[]): void;
  /** Returns the function that unsubscribes. */
  subscribe(listener: (events: readonly EventEnvelope[]) => void): () => void;
  /**
   * The newest id delivered to this process's listeners, where the bus knows it before any delivery (a node's
   * sequencer starts at the store's head). Undefined: the first delivery tells.
   */
  delivered?(): number;
}

/**
 * What a transport between nodes may deliver: the committed events themselves (Redis), or only a doorbell
 * saying events up to `head` are committed (NOTIFY), for the receiver to read from the store.
 */
export type BusMessage = { events: readonly EventEnvelope[] } | { head: number };

export type TransportState = 'up' | 'down';

/**
 * A fast path between nodes, and nothing more: the store is the truth. A transport promises no delivery and no
 * order: a message may be lost (Redis pub/sub is at most once, NOTIFY is lost while the listener is
 * disconnected), repeated, or arrive after a later one. The `Sequencer` above it turns that into the
 * `EventBus` guarantee by reading the store: gaps are filled, a periodic head check catches a lost last
 * message, duplicates are dropped by id. A transport's own messages reach its own listeners too (or not: the
 * sequencer does not care).
 *
 * What a transport may do, then: lose, repeat, delay or reorder messages, and be down for any length of time
 * (it says so through `onState`; the head check then carries delivery alone). What it must not do: announce
 * an id its node has not committed, or hand on a message it did not validate (what crosses the network is
 * parsed, server/bus/wire.ts). Even so, the sequencer believes a message only as far as the store's head.
 */
export interface BusTransport {
  /** `redis` or `notify`: named in logs and /healthz. */
  readonly name: string;
  /** Announces events this node committed, in id order. Never throws: a failed send is the head check's job. */
  publish(events: readonly EventEnvelope[]): void;
  /** Starts listening; resolves once subscribed, rejects when the engine is unreachable at start. */
  start(onMessage: (message: BusMessage) => void, onState: (state: TransportState) => void): Promise<void>;
  close(): Promise<void>;
}

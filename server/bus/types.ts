import type { EventEnvelope } from '@switchboard/shared';

/**
 * Carries stored events to the subscribers of this process. The hub publishes each append's events after
 * they commit, in id order; a bus must deliver them to every listener in that order. The bus is only the fast
 * path: a subscriber that misses something (overflow, reconnect) reads it back from the store by id.
 */
export interface EventBus {
  publish(events: readonly EventEnvelope[]): void;
  /** Returns the function that unsubscribes. */
  subscribe(listener: (events: readonly EventEnvelope[]) => void): () => void;
}

import type { EventEnvelope } from '@switchboard/shared';
import type { EventBus } from '../core/bus.js';

/** The embedded bus: synchronous fan-out to listeners in this process. */
export function createMemoryBus(): EventBus {
  const listeners = new Set<(events: readonly EventEnvelope[]) => void>();
  return {
    publish(events) {
      if (events.length === 0) return;
      // A listener that throws does not keep the events from the others (the guarantee is per listener); the
      // first error goes back to the publisher once every listener has had them.
      let failure: { error: unknown } | undefined;
      for (const listener of listeners) {
        try {
          listener(events);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

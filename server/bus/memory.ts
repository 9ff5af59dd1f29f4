import type { EventEnvelope } from '@switchboard/shared';
import type { EventBus } from './types.js';

/** The embedded bus: synchronous fan-out to listeners in this process. */
export function createMemoryBus(): EventBus {
  const listeners = new Set<(events: readonly EventEnvelope[]) => void>();
  return {
    publish(events) {
      if (events.length === 0) return;
      for (const listener of listeners) listener(events);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

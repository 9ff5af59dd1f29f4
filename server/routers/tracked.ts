import { tracked } from '@trpc/server';
import type { EventEnvelope } from '../../shared/index.js';

/**
 * Every subscription yields through here: each event as `tracked(id, envelope)`. The id is the client's
 * resume cursor; a single untracked yield would reset it, so nothing else may yield.
 * `accepts` narrows the envelope type; the stream's filter already guarantees it holds.
 */
export async function* trackEach<E extends EventEnvelope>(
  events: AsyncIterable<EventEnvelope>,
  accepts: (event: EventEnvelope) => event is E,
) {
  for await (const event of events) {
    if (accepts(event)) yield tracked(event.id, event);
  }
}

import { tracked, TRPCError } from '@trpc/server';
import type { EventEnvelope } from '../../shared/index.js';
import { CursorAheadError } from '../stream.js';

/**
 * Every subscription yields through here: each event as `tracked(id, envelope)`. The id is the client's
 * resume cursor; a single untracked yield would reset it, so nothing else may yield.
 * `accepts` narrows the envelope type; the stream's filter already guarantees it holds.
 */
export async function* trackEach<E extends EventEnvelope>(
  events: AsyncIterable<EventEnvelope>,
  accepts: (event: EventEnvelope) => event is E,
) {
  try {
    for await (const event of events) {
      if (accepts(event)) yield tracked(event.id, event);
    }
  } catch (error) {
    // A cursor from another database is the client's mistake, not a server fault.
    if (error instanceof CursorAheadError)
      throw new TRPCError({ code: 'BAD_REQUEST', message: error.message, cause: error });
    throw error;
  }
}

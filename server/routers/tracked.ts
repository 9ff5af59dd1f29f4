import { tracked, TRPCError } from '@trpc/server';
import type { EventEnvelope, StreamItem, StreamReset } from '../../shared/index.js';
import type { Context } from '../context.js';
import { CursorAheadError } from '../stream.js';
import { serializeOnce } from '../transformer.js';

/**
 * Every subscription yields through here: each event as `tracked(id, envelope)`. The id is the client's
 * resume cursor; a single untracked yield would reset it, so nothing else may yield.
 *
 * It also holds the subscription's slot against the per-connection limit for exactly as long as the stream
 * runs, and stops yielding once the connection is cut as a slow consumer.
 * `accepts` narrows the envelope type; the stream's filter already guarantees it holds.
 */
export async function* trackEach<E extends EventEnvelope>(
  ctx: Context,
  procedure: string,
  events: AsyncIterable<StreamItem>,
  accepts: (event: EventEnvelope) => event is E,
): AsyncGenerator<ReturnType<typeof tracked<E | StreamReset>>, void, undefined> {
  // Taken on the first step of the generator, so that a subscription never started never holds a slot.
  using _slot = ctx.limits.openSubscription(procedure);
  const delivered = ctx.metrics.delivered.labels({ procedure });
  try {
    for await (const event of events) {
      if (!ctx.limits.keepsUp()) return;
      if (event.type === 'stream.reset') {
        yield tracked(event.id, serializeOnce(event));
        continue;
      }
      if (!accepts(event)) continue;
      const committedAt = ctx.hub.committedAt(event);
      if (committedAt !== undefined) ctx.metrics.deliverySeconds.observe((performance.now() - committedAt) / 1000);
      delivered.inc();
      yield tracked(event.id, serializeOnce(event));
    }
  } catch (error) {
    // A cursor from another database is the client's mistake, not a server fault.
    if (error instanceof CursorAheadError)
      throw new TRPCError({ code: 'BAD_REQUEST', message: error.message, cause: error });
    throw error;
  }
}

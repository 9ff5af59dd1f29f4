import { eventsInput, eventTypes, historyInput, isEventOf } from '../../shared/index.js';
import { router, viewerProcedure } from '../trpc.js';
import { trackEach } from './tracked.js';

export const eventsRouter = router({
  /** The firehose. Live only without a cursor; `lastEventId: '0'` replays everything kept, then goes live. */
  events: viewerProcedure.input(eventsInput).subscription(({ ctx, input, signal }) =>
    trackEach(
      ctx,
      'events',
      ctx.hub.stream({
        filter: { topics: input.topics, types: input.types },
        lastEventId: input.lastEventId,
        signal,
      }),
      isEventOf(eventTypes),
    ),
  ),

  /**
   * Stored events after a cursor, oldest first. Pass `nextCursor` as the next call's `after`; `hasMore` is true
   * when the page is full, so more may follow (the next page can still be empty).
   */
  history: viewerProcedure.input(historyInput).query(async ({ ctx, input }) => {
    const events = await ctx.hub.store.readAfter(
      Number(input.after),
      { topics: input.topics, types: input.types },
      input.limit,
    );
    // Events at or below the watermark may have been deleted by retention (current-state events are kept).
    const retainedAfter = String(await ctx.hub.store.retentionWatermark());
    return {
      events,
      nextCursor: events.at(-1)?.id ?? input.after,
      hasMore: events.length === input.limit,
      retainedAfter,
    };
  }),
});

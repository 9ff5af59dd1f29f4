import { TRPCError } from '@trpc/server';
import {
  formatCursor,
  parseCursor,
  type AnyEnvelope,
  type Catalogue,
  type DataSchemas,
  type EnvelopeFor,
} from '@switchboard/shared';
import { compileFilter } from '../core/filter.js';
import { CursorAheadError } from '../core/stream.js';
import { readableFilter } from '../security/scopes.js';
import { router, viewerProcedure } from '../trpc.js';
import { subscribeEvents } from './tracked.js';

/** The firehose and history for a catalogue's events, and the catalogue itself for dashboards. */
export function createEventsRouter<M extends DataSchemas>(catalogue: Catalogue<M>) {
  // The stream's filter has already chosen each event. Everything it passes is delivered as stored, including
  // events of types a later catalogue dropped: those are typed as the catalogue's, which they once were.
  const isStored = (event: AnyEnvelope): event is EnvelopeFor<M> => event.type !== '';
  return router({
    /** The firehose. Live only without a cursor; `lastEventId: '0'` replays everything kept, then goes live. */
    events: viewerProcedure.input(catalogue.eventsInput).subscription(({ ctx, input, signal }) =>
      subscribeEvents(
        ctx,
        'events',
        {
          filter: { topics: input.topics, types: input.types },
          lastEventId: input.lastEventId,
        },
        isStored,
        signal,
      ),
    ),

    /**
     * Stored events between two cursors, a page at a time: oldest first from `after`, or with `order: 'desc'`
     * newest first from `before`. Pass `nextCursor` as the next call's `after` (or `before`); `hasMore` is true
     * when the page is full, so more may follow (the next page can still be empty).
     */
    history: viewerProcedure.input(catalogue.historyInput).query(async ({ ctx, input }) => {
      const { epoch } = ctx.hub;
      const after = pageCursor('after', input.after, epoch);
      const before = input.before === undefined ? undefined : pageCursor('before', input.before, epoch);
      // The same rule as a subscription's lastEventId: a cursor this store never issued is refused, not answered
      // with an empty page that looks like "nothing new".
      const head = await ctx.hub.headId();
      if (after > head) {
        const message = `after ${input.after} is ahead of the newest stored event ${head}; this server has no such history (was the database replaced?). Read from "0" for everything kept.`;
        throw new TRPCError({ code: 'BAD_REQUEST', message, cause: new CursorAheadError(message) });
      }
      const range = { after, before, order: input.order };
      const filter = readableFilter(ctx.principal, { topics: input.topics, types: input.types });
      const stored = await ctx.hub.readRange(range, filter, input.limit);
      // The store selected by the narrowed topics; the scope is checked again here, whatever it matched.
      const readable = filter.scope === undefined ? stored : stored.filter(compileFilter(filter));
      const events = readable as AnyEnvelope[] as EnvelopeFor<M>[];
      const last = stored.at(-1)?.id;
      // Events at or below the watermark may have been deleted by retention (current-state events are kept).
      const retainedAfter = String(await ctx.hub.retentionWatermark());
      const fallback = input.order === 'asc' ? after : (before ?? 0);
      return {
        events,
        // With the epoch, so that the next page is checked against this log like a subscription's cursor.
        nextCursor: formatCursor(last ?? fallback, epoch),
        hasMore: stored.length === input.limit,
        retainedAfter,
      };
    }),

    /** Every event type the server knows, with its topic and summary templates (functions are left out). */
    catalogue: viewerProcedure.query(() => catalogue.describe()),
  });
}

/**
 * The id a history cursor stands for. A page has no stream to put a reset notice in, so a cursor from another
 * log (its epoch is not this store's) is refused: its ids mean nothing here.
 */
function pageCursor(name: 'after' | 'before', raw: string, epoch: string): number {
  const cursor = parseCursor(raw);
  if (cursor !== undefined && (cursor.epoch === undefined || cursor.epoch === epoch)) return cursor.after;
  const message =
    cursor === undefined
      ? `${name} "${raw}" is not a cursor this server sent`
      : `${name} ${raw} is from another log (epoch ${cursor.epoch}; this store's is ${epoch}): the database was replaced or restored. Read from "0" for everything this log holds.`;
  throw new TRPCError({ code: 'BAD_REQUEST', message, cause: new CursorAheadError(message) });
}

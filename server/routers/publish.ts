import { z } from 'zod';
import {
  ingestReply,
  keySchema,
  limits,
  type Catalogue,
  type DataSchemas,
  type EnvelopeFor,
  type IngestReply,
  type ValidEvent,
  withFastParse,
} from '@switchboard/shared';
import type { Context } from '../context.js';
import type { Principal } from '../security/auth.js';
import { checkPublish } from '../security/scopes.js';
import { publisherProcedure, router } from '../trpc.js';

/**
 * The write procedures for a catalogue's events. The store and the hub are shared by every catalogue and speak
 * the built-in `ValidEvent`; an event of a custom family reaches them validated by its own schema, and they
 * read only its `type`, its envelope fields and the ids its data may carry, so the cast is what it claims.
 */
export function createPublishRouter<M extends DataSchemas>(catalogue: Catalogue<M>) {
  const schema = catalogue.publishInputSchema;
  const topicOf = (event: { type: string; data: unknown }) => catalogue.topicOf(event);
  const batch = z
    .array(schema)
    .min(1, 'a batch holds at least one event')
    .max(limits.batchSize, `a batch holds at most ${limits.batchSize} events (limits.batchSize); split it`);
  /** The checks every write passes (scopes, then the rate), then the append: one transaction, all or none. */
  const appendBatch = (
    ctx: Pick<Context, 'hub' | 'limits'> & { principal: Principal },
    input: readonly { type: string; data: unknown }[],
    after?: string,
  ) => {
    checkPublish(ctx.principal, input, topicOf);
    ctx.limits.admitPublish(input.length);
    return ctx.hub.append(input as unknown as ValidEvent[], ctx.principal.keyOwner, { after });
  };
  return router({
    /** Stores one event and streams it; a repeated `key` returns the original event and stores nothing. */
    publish: publisherProcedure.input(withFastParse(schema)).mutation(async ({ ctx, input }) => {
      const [envelope] = await appendBatch(ctx, [input]);
      // append returns one envelope per input; an empty answer would be a store bug, not a client error.
      if (!envelope) throw new Error('append returned no envelope');
      return envelope as unknown as EnvelopeFor<M>;
    }),

    /** Stores the events in one transaction (all or none) and returns their envelopes in input order. */
    publishBatch: publisherProcedure.input(withFastParse(batch)).mutation(async ({ ctx, input }) => {
      return (await appendBatch(ctx, input)) as unknown as EnvelopeFor<M>[];
    }),

    /**
     * `publishBatch` answering only the ids, as `POST /ingest` does: for writers that need no envelope back (the
     * Publisher), whose replies then cost neither side the envelopes' encoding. With `after`, the batch is stored
     * only if this caller's event with that key is (PRECONDITION_FAILED, reason `out_of_order`, otherwise), so a
     * writer may send a batch before the one ahead of it is answered and still keep their order.
     */
    ingest: publisherProcedure
      .input(withFastParse(z.strictObject({ events: batch, after: keySchema.optional() })))
      .mutation(async ({ ctx, input }): Promise<IngestReply> => {
        return ingestReply(await appendBatch(ctx, input.events, input.after));
      }),
  });
}

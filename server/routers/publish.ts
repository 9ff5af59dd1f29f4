import { z } from 'zod';
import { limits, publishInputSchema } from '@switchboard/shared';
import { checkPublish } from '../security/scopes.js';
import { publisherProcedure, router } from '../trpc.js';

export const publishRouter = router({
  /** Stores one event and streams it; a repeated `key` returns the original event and stores nothing. */
  publish: publisherProcedure.input(publishInputSchema).mutation(async ({ ctx, input }) => {
    checkPublish(ctx.principal, [input]);
    ctx.limits.admitPublish(1);
    const [envelope] = await ctx.hub.append([input]);
    // append returns one envelope per input; an empty answer would be a store bug, not a client error.
    if (!envelope) throw new Error('append returned no envelope');
    return envelope;
  }),

  /** Stores the events in one transaction (all or none) and returns their envelopes in input order. */
  publishBatch: publisherProcedure
    .input(
      z
        .array(publishInputSchema)
        .min(1, 'a batch holds at least one event')
        .max(limits.batchSize, `a batch holds at most ${limits.batchSize} events (limits.batchSize); split it`),
    )
    .mutation(({ ctx, input }) => {
      checkPublish(ctx.principal, input);
      ctx.limits.admitPublish(input.length);
      return ctx.hub.append(input);
    }),
});

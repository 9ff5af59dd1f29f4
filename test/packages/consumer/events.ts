/**
 * A team's own event family, as a project that installed the packages defines it: only `@switchboard/shared`
 * and zod. test/packages/install.test.ts starts the installed server with `--events` pointing at a copy of it,
 * and catalogue.ts types its client from it.
 */
import { defineCatalogue, defineFamily, entityIdSchema } from '@switchboard/shared';
import { z } from 'zod';

export const gates = defineFamily('gate', {
  evaluated: {
    data: z.strictObject({
      gateId: entityIdSchema,
      passed: z.boolean(),
      score: z.number().min(0).max(1),
    }),
    topic: 'gate:{gateId}',
    summary: '{gateId} scored {score}',
  },
});

export default defineCatalogue({ families: [gates] });

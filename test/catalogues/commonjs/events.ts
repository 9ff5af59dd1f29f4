/**
 * A catalogue in a folder whose package.json is not `"type": "module"` (as `npm install` leaves a new project):
 * tsx compiles it to CommonJS, so its default export arrives wrapped as `default.default`.
 */
import { defineCatalogue, defineFamily, entityIdSchema } from '@switchboard/shared';
import { z } from 'zod';

export const builds = defineFamily('build', {
  finished: { data: z.strictObject({ buildId: entityIdSchema, ok: z.boolean() }), topic: 'build:{buildId}' },
});

export default defineCatalogue({ families: [builds] });

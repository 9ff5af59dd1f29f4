/** A catalogue module that redefines a built-in type: the server must refuse to start with it. */
import { z } from 'zod';
import { defineCatalogue, defineFamily } from '@switchboard/shared';

const agent = defineFamily('agent', {
  status: { data: z.strictObject({ agentId: z.string() }), topic: 'agent:{agentId}' },
});

export default defineCatalogue({ families: [agent] });

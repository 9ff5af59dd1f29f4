/**
 * An event catalogue of one's own: worker pools and deployments, beside the built-in families.
 *
 *   SWITCHBOARD_EVENTS=examples/custom-events.ts npm start
 *
 * A project of its own imports `defineCatalogue` and `defineFamily` from `@switchboard/shared` (it is that package here too).
 */
import { z } from 'zod';
import { defineCatalogue, defineFamily, entityIdSchema } from '@switchboard/shared';

export const pools = defineFamily('pool', {
  scaled: {
    data: z.strictObject({
      poolId: entityIdSchema,
      from: z.int().min(0),
      to: z.int().min(0),
      reason: z.string().max(200).optional(),
    }),
    topic: 'pool:{poolId}',
    summary: '{poolId} scaled {from} → {to} workers',
  },
  worker_lost: {
    data: z.strictObject({ poolId: entityIdSchema, workerId: entityIdSchema, exitCode: z.int().optional() }),
    topic: 'pool:{poolId}',
    summary: '{poolId} lost worker {workerId}',
  },
});

export const deployments = defineFamily('deploy', {
  started: {
    data: z.strictObject({
      deployId: entityIdSchema,
      service: z.string().min(1).max(100),
      version: z.string().min(1).max(100),
      environment: z.enum(['staging', 'production']),
    }),
    topic: 'deploy:{service}',
    summary: '{service} {version} → {environment}',
  },
  finished: {
    data: z.strictObject({
      deployId: entityIdSchema,
      service: z.string().min(1).max(100),
      outcome: z.enum(['succeeded', 'failed', 'rolled_back']),
      durationMs: z.number().min(0),
    }),
    topic: 'deploy:{service}',
    // A function works too; only templates reach dashboards and other languages.
    summary: (d) => `${d.service} ${d.outcome.replace('_', ' ')} in ${Math.round(d.durationMs / 1000)} s`,
  },
});

export default defineCatalogue({ families: [pools, deployments] });

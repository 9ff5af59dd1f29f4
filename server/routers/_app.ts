import type { TRPCBuiltRouter } from '@trpc/server';
import { mergeRouters, type ClientRootTypes } from '../trpc.js';
import { agentsRouter } from './agents.js';
import { eventsRouter } from './events.js';
import { publishRouter } from './publish.js';
import { tddRouter } from './tdd.js';
import { workflowsRouter } from './workflows.js';

/** Every procedure sits at the root: `publish`, `agentStatus`, `workflowEvents`, `tddPhase`, `events`, ... */
export const appRouter = mergeRouters(publishRouter, agentsRouter, workflowsRouter, tddRouter, eventsRouter);

/** The router as the server runs it, context included: for the transports that call its procedures. */
export type ServerRouter = typeof appRouter;

/**
 * The router's type as clients import it: every procedure as `appRouter` has it (a procedure's type carries its
 * input, output and meta, never the context), under the root types with the context erased (`ClientRootTypes`).
 * `_procedures` is a value so that declaration emit spells its type out instead of naming `appRouter`, whose type
 * names the server's `Context`. Any other router type meant for clients follows the same recipe.
 */
const _procedures = appRouter._def.record;
export type AppRouter = TRPCBuiltRouter<ClientRootTypes, typeof _procedures>;

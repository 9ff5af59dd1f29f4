import type { TRPCBuiltRouter } from '@trpc/server';
import { builtinCatalogue, type AnyCatalogue, type Catalogue, type DataSchemas } from '@switchboard/shared';
import { mergeRouters, type ClientRootTypes } from '../trpc.js';
import { agentsRouter } from './agents.js';
import { createEventsRouter } from './events.js';
import { createPublishRouter } from './publish.js';
import { tddRouter } from './tdd.js';
import { usageRouter } from './usage.js';
import { workflowsRouter } from './workflows.js';

/**
 * Every procedure sits at the root: `publish`, `agentStatus`, `workflowEvents`, `tddPhase`, `events`, ...
 * `publish`, `publishBatch`, `events` and `history` take the catalogue's types.
 */
export function createAppRouter<M extends DataSchemas>(catalogue: Catalogue<M>) {
  return mergeRouters(
    createPublishRouter(catalogue),
    agentsRouter,
    workflowsRouter,
    tddRouter,
    usageRouter,
    createEventsRouter(catalogue),
  );
}

/** The router of the built-in catalogue. */
export const appRouter = createAppRouter(builtinCatalogue);

/** The router a server serves, whichever catalogue it was started with, context included: for the transports. */
export type ServedRouter = ReturnType<typeof createAppRouter<DataSchemas>>;

/**
 * The router's type as clients import it: every procedure as `appRouter` has it (a procedure's type carries its
 * input, output and meta, never the context), under the root types with the context erased (`ClientRootTypes`).
 * `_procedures` is a value so that declaration emit spells its type out instead of naming `appRouter`, whose type
 * names the server's `Context`.
 */
const _procedures = appRouter._def.record;
export type AppRouter = TRPCBuiltRouter<ClientRootTypes, typeof _procedures>;

/**
 * The router type of a server started with `catalogue`: `createSwitchboardClient<AppRouterFor<typeof catalogue>>`,
 * imported as a type from the server's sources (the client package carries `AppRouter`, the built-in one only:
 * a type derived from `createAppRouter` names the server's `Context`).
 */
export type AppRouterFor<C extends AnyCatalogue> = TRPCBuiltRouter<
  ClientRootTypes,
  ReturnType<typeof createAppRouter<NonNullable<C['~schemas']>>>['_def']['record']
>;

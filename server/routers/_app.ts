import type { TRPCBuiltRouter } from '@trpc/server';
import { builtinCatalogue, type AnyCatalogue, type Catalogue, type DataSchemas } from '@switchboard/shared';
import { mergeRouters, type ClientRootTypes } from '../trpc.js';
import { agentsRouter } from './agents.js';
import { createEventsRouter } from './events.js';
import { presenceRouter } from './presence.js';
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
    presenceRouter,
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
 * The procedures of a server started with a catalogue of `M`, as clients see them. Never called: it is a function
 * so that declaration emit spells its return type out in terms of `M` and `@switchboard/shared`'s types. A
 * procedure's type carries its input, output and meta, never the context; only the router around them names the
 * server's `Context`, so a type written as `ReturnType<typeof createAppRouter<M>>` would bring the server's
 * modules into the client package's declarations.
 */
function _clientProcedures<M extends DataSchemas>(catalogue: Catalogue<M>) {
  return createAppRouter(catalogue)._def.record;
}

/**
 * The router type of a server started with `catalogue`, as clients import it from `@switchboard/client`:
 * `createSwitchboardClient<AppRouterFor<typeof catalogue>>({ url })`. Every procedure as the server has it, under
 * the root types with the context erased (`ClientRootTypes`).
 */
export type AppRouterFor<C extends AnyCatalogue> = TRPCBuiltRouter<
  ClientRootTypes,
  ReturnType<typeof _clientProcedures<NonNullable<C['~schemas']>>>
>;

/** The router type of a server with the built-in catalogue: the client's default. */
export type AppRouter = AppRouterFor<typeof builtinCatalogue>;

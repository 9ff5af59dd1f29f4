import { builtinCatalogue, type AnyCatalogue, type Catalogue, type DataSchemas } from '../../shared/index.js';
import { mergeRouters } from '../trpc.js';
import { agentsRouter } from './agents.js';
import { createEventsRouter } from './events.js';
import { createPublishRouter } from './publish.js';
import { tddRouter } from './tdd.js';
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
    createEventsRouter(catalogue),
  );
}

/** The router of the built-in catalogue. */
export const appRouter = createAppRouter(builtinCatalogue);

export type AppRouter = typeof appRouter;

/** The router a server serves, whichever catalogue it was started with. */
export type ServedRouter = ReturnType<typeof createAppRouter<DataSchemas>>;

/** The router type of a server started with `catalogue`: `createSwitchboardClient<AppRouterFor<typeof catalogue>>`. */
export type AppRouterFor<C extends AnyCatalogue> = ReturnType<typeof createAppRouter<NonNullable<C['~schemas']>>>;

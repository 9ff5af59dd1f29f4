import { mergeRouters } from '../trpc.js';
import { agentsRouter } from './agents.js';
import { eventsRouter } from './events.js';
import { publishRouter } from './publish.js';
import { tddRouter } from './tdd.js';
import { workflowsRouter } from './workflows.js';

/** Every procedure sits at the root: `publish`, `agentStatus`, `workflowEvents`, `tddPhase`, `events`, ... */
export const appRouter = mergeRouters(publishRouter, agentsRouter, workflowsRouter, tddRouter, eventsRouter);

export type AppRouter = typeof appRouter;

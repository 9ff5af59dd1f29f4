import { agentsInput, agentStatusInput, isEventOf } from '@switchboard/shared';
import { canRead } from '../security/scopes.js';
import { router, viewerProcedure } from '../trpc.js';
import { subscribeEvents } from './tracked.js';

/** Built once: every subscription shares the check. */
const isAgentStatus = isEventOf(['agent.status']);

export const agentsRouter = router({
  /**
   * `agent.status` events. Without a cursor: each matching agent's current status first (in id order), then
   * live. With `lastEventId`: everything missed, then live.
   */
  agentStatus: viewerProcedure.input(agentStatusInput).subscription(({ ctx, input, signal }) =>
    subscribeEvents(
      ctx,
      'agentStatus',
      {
        filter: { types: ['agent.status'], agentIds: input.agentIds },
        lastEventId: input.lastEventId,
        snapshot: 'agents',
      },
      isAgentStatus,
      signal,
    ),
  ),

  /** Each agent's latest `agent.status` event, in id order. */
  agents: viewerProcedure.input(agentsInput).query(async ({ ctx, input }) => {
    const readable = canRead(ctx.principal);
    return (await ctx.hub.agents(input?.agentIds)).filter((e) => readable(e.topic));
  }),
});

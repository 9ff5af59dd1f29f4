import { TRPCError } from '@trpc/server';
import {
  entityTopic,
  isEventOf,
  workflowEventsInput,
  workflowEventTypes,
  workflowInput,
  workflowsInput,
  type AgentStatusValue,
} from '@switchboard/shared';
import type { Hub } from '../core/hub.js';
import type { WorkflowState } from '../core/store.js';
import { canRead } from '../security/scopes.js';
import { router, viewerProcedure } from '../trpc.js';
import { subscribeEvents } from './tracked.js';

/** Built once: every subscription shares the check. */
const isWorkflowEvent = isEventOf(workflowEventTypes);

/**
 * Workflow states with their agent's current status (`offline` once it left or went silent past the presence
 * TTL): null without an agent, or for one outside the caller's read scopes.
 */
async function withAgentStatus(
  hub: Hub,
  readable: (topic: string) => boolean,
  states: readonly WorkflowState[],
): Promise<(WorkflowState & { agentStatus: AgentStatusValue | null })[]> {
  const agentIds = [...new Set(states.flatMap((state) => state.agentId ?? []))];
  const agents = agentIds.length === 0 ? [] : await hub.presence({ agentIds });
  const statuses = new Map(
    agents
      .filter(({ status }) => readable(status.topic))
      .map(({ status }) => [status.data.agentId, status.data.status]),
  );
  return states.map((state) => ({
    ...state,
    agentStatus: state.agentId === null ? null : (statuses.get(state.agentId) ?? null),
  }));
}

export const workflowsRouter = router({
  /**
   * Workflow lifecycle and block events. Without a cursor: each matching workflow's latest lifecycle event
   * first, then live. `steps` keeps only events of those steps.
   */
  workflowEvents: viewerProcedure.input(workflowEventsInput).subscription(({ ctx, input, signal }) =>
    subscribeEvents(
      ctx,
      'workflowEvents',
      {
        filter: {
          types: input.types ?? workflowEventTypes,
          topics: input.workflowId === undefined ? undefined : [entityTopic('workflow', input.workflowId)],
          stepIds: input.steps,
        },
        lastEventId: input.lastEventId,
        snapshot: 'workflows',
      },
      isWorkflowEvent,
      signal,
    ),
  ),

  /** One workflow's current state. */
  workflow: viewerProcedure.input(workflowInput).query(async ({ ctx, input }) => {
    // Outside the read scopes answers as unseen: its existence is itself something the token may not learn.
    const readable = canRead(ctx.principal);
    const state = readable(entityTopic('workflow', input.workflowId))
      ? await ctx.hub.workflow(input.workflowId)
      : undefined;
    if (!state) {
      throw new TRPCError({
        code: 'NOT_FOUND',
        message: `no workflow "${input.workflowId}" has been seen`,
      });
    }
    const [withAgent = { ...state, agentStatus: null }] = await withAgentStatus(ctx.hub, readable, [state]);
    return withAgent;
  }),

  /** Workflows by most recent activity, of one status or type if asked (the dashboard's Claude Code sessions). */
  workflows: viewerProcedure.input(workflowsInput).query(async ({ ctx, input }) => {
    const readable = canRead(ctx.principal);
    const states = await ctx.hub.workflows({
      status: input?.status,
      workflowType: input?.workflowType,
      limit: input?.limit ?? 100,
    });
    return withAgentStatus(
      ctx.hub,
      readable,
      states.filter((w) => readable(entityTopic('workflow', w.workflowId))),
    );
  }),
});

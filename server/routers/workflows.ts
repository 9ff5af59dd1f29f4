import { TRPCError } from '@trpc/server';
import {
  entityTopic,
  isEventOf,
  workflowEventsInput,
  workflowEventTypes,
  workflowInput,
  workflowsInput,
} from '@switchboard/shared';
import { canRead } from '../security/scopes.js';
import { router, viewerProcedure } from '../trpc.js';
import { subscribeEvents } from './tracked.js';

/** Built once: every subscription shares the check. */
const isWorkflowEvent = isEventOf(workflowEventTypes);

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
    const readable = canRead(ctx.principal)(entityTopic('workflow', input.workflowId));
    const state = readable ? await ctx.hub.workflow(input.workflowId) : undefined;
    if (!state) {
      throw new TRPCError({
        code: 'NOT_FOUND',
        message: `no workflow "${input.workflowId}" has been seen`,
      });
    }
    return state;
  }),

  /** Workflows by most recent activity, of one status or type if asked (the dashboard's Claude Code sessions). */
  workflows: viewerProcedure.input(workflowsInput).query(async ({ ctx, input }) => {
    const readable = canRead(ctx.principal);
    const states = await ctx.hub.workflows({
      status: input?.status,
      workflowType: input?.workflowType,
      limit: input?.limit ?? 100,
    });
    return states.filter((w) => readable(entityTopic('workflow', w.workflowId)));
  }),
});

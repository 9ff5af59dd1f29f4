import { addUsage, emptyUsage, entityTopic, usageInput, type UsageReport } from '@switchboard/shared';
import { canRead } from '../security/scopes.js';
import { router, viewerProcedure } from '../trpc.js';

export const usageRouter = router({
  /**
   * Token and cost totals per agent, per workflow and per model, with the head id they were read at: a reader
   * follows `usage.recorded` events from `headId` and adds each one (shared/usage.ts) to stay exact.
   */
  usage: viewerProcedure.input(usageInput).query(async ({ ctx, input }): Promise<UsageReport> => {
    const report = await ctx.hub.usage({
      agentIds: input?.agentIds,
      workflowIds: input?.workflowIds,
      limit: input?.limit ?? 100,
    });
    if (ctx.principal.scopes?.read === undefined) return report;
    // A token with read scopes sees the agents and workflows it may read, and totals over those agents only: a
    // model's totals and the overall total span agents it may not read.
    const readable = canRead(ctx.principal);
    const agents = report.agents.filter((a) => readable(entityTopic('agent', a.id)));
    return {
      headId: report.headId,
      total: agents.reduce((sum, a) => addUsage(sum, a.usage), { ...emptyUsage }),
      agents,
      workflows: report.workflows.filter((w) => readable(entityTopic('workflow', w.id))),
      models: [],
    };
  }),
});

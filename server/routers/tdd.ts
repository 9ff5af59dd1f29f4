import { entityTopic, isEventOf, tddPhaseInput, tddTasksInput } from '@switchboard/shared';
import { canRead } from '../security/scopes.js';
import { router, viewerProcedure } from '../trpc.js';
import { subscribeEvents } from './tracked.js';

const tddEventTypes = ['tdd.phase_changed', 'tdd.test_result', 'tdd.coverage_update'] as const;

/** Built once: every subscription shares the check. */
const isTddEvent = isEventOf(tddEventTypes);

export const tddRouter = router({
  /**
   * TDD events (phase changes, test results, coverage). Without a cursor: each matching task's current phase
   * first, then live.
   */
  tddPhase: viewerProcedure.input(tddPhaseInput).subscription(({ ctx, input, signal }) =>
    subscribeEvents(
      ctx,
      'tddPhase',
      {
        filter: {
          types: tddEventTypes,
          agentIds: input.agentId === undefined ? undefined : [input.agentId],
          topics: input.taskId === undefined ? undefined : [entityTopic('tdd', input.taskId)],
        },
        lastEventId: input.lastEventId,
        snapshot: 'tddTasks',
      },
      isTddEvent,
      signal,
    ),
  ),

  /** Each TDD task's latest `tdd.phase_changed` event, in id order. */
  tddTasks: viewerProcedure.input(tddTasksInput).query(async ({ ctx, input }) => {
    const readable = canRead(ctx.principal);
    const tasks = await ctx.hub.tddTasks({ agentId: input?.agentId, taskId: input?.taskId });
    return tasks.filter((e) => readable(e.topic));
  }),
});

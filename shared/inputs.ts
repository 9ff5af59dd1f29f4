/**
 * Inputs of the subscriptions and queries. Every filter is applied on the server; every subscription input
 * takes `lastEventId`, which the tRPC client also fills in by itself when it resubscribes after a reconnect.
 */
import { z } from 'zod';
import { cursorSchema } from './cursor.js';
import { entityIdSchema, eventTypeSchema, nameSchema, workflowStatusValues } from './events.js';
import { limits } from './limits.js';
import { topicPatternSchema } from './topics.js';

const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(limits.filterValues);

export const workflowEventTypes = [
  'workflow.started',
  'workflow.step_started',
  'workflow.step_completed',
  'workflow.completed',
  'workflow.failed',
  'workflow.block',
] as const;

export const agentStatusInput = z.strictObject({
  /** Only these agents; all agents when absent. */
  agentIds: list(entityIdSchema).optional(),
  lastEventId: cursorSchema.optional(),
});

export const workflowEventsInput = z.strictObject({
  workflowId: entityIdSchema.optional(),
  /** Only events of these steps (lifecycle events without a step are left out when this is set). */
  steps: list(entityIdSchema).optional(),
  types: list(z.enum(workflowEventTypes)).optional(),
  lastEventId: cursorSchema.optional(),
});

export const tddPhaseInput = z.strictObject({
  agentId: entityIdSchema.optional(),
  taskId: entityIdSchema.optional(),
  lastEventId: cursorSchema.optional(),
});

/**
 * The firehose inputs (`events`, `history`) for a catalogue whose type names `typeSchema` accepts; the
 * exports below are those of the built-in catalogue.
 */
export function firehoseInputs<T extends z.ZodType<string>>(typeSchema: T) {
  const firehoseFilter = {
    /** Topic patterns (`agent:*`, `workflow:wf-42`); an event matching any of them passes. */
    topics: list(topicPatternSchema).optional(),
    types: list(typeSchema).optional(),
  };
  return {
    eventsInput: z.strictObject({
      ...firehoseFilter,
      /** Without it the stream is live only; `'0'` replays everything still kept, then goes live. */
      lastEventId: cursorSchema.optional(),
    }),
    historyInput: z.strictObject({
      ...firehoseFilter,
      /** Only events with an id greater than this. */
      after: cursorSchema.default('0'),
      /** Only events with an id less than this. */
      before: cursorSchema.optional(),
      /**
       * `'asc'` (the default) pages forward from `after`, oldest first: pass `nextCursor` as the next `after`.
       * `'desc'` pages backward from `before` (from the newest event without it), newest first: pass
       * `nextCursor` as the next `before`.
       */
      order: z.enum(['asc', 'desc']).default('asc'),
      limit: z.int().min(1).max(limits.historyPage).default(100),
    }),
  };
}

export const { eventsInput, historyInput } = firehoseInputs(eventTypeSchema);

export const agentsInput = z.strictObject({ agentIds: list(entityIdSchema).optional() }).optional();
export const workflowInput = z.strictObject({ workflowId: entityIdSchema });
export const workflowsInput = z
  .strictObject({
    status: z.enum(workflowStatusValues).optional(),
    /** `workflow.started`'s `workflowType`, e.g. `claude-code` for Claude Code sessions. */
    workflowType: nameSchema.optional(),
    limit: z.int().min(1).max(1000).default(100),
  })
  .optional();
export const tddTasksInput = z
  .strictObject({ agentId: entityIdSchema.optional(), taskId: entityIdSchema.optional() })
  .optional();

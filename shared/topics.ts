/**
 * Topics and the topic-pattern grammar (docs/protocol.md states the same rules for other languages).
 *
 * The server derives every event's topic from its data; producers never set it:
 *   agent.*    → `agent:{agentId}`      workflow.* → `workflow:{workflowId}`
 *   tdd.*      → `tdd:{taskId}`         system.*   → `system`
 *
 * A pattern is a topic in which `*` matches any run of characters, the empty run included:
 * `agent:*`, `workflow:wf-4*`, `*` (everything). Every other character matches itself, case-sensitively.
 */
import { z } from 'zod';
import type { ValidEvent } from './events.js';
import { limits } from './limits.js';

export function topicOf(event: ValidEvent): string {
  switch (event.type) {
    case 'agent.status':
    case 'agent.task_update':
    case 'agent.log':
    case 'agent.metric':
    case 'agent.error':
      return `agent:${event.data.agentId}`;
    case 'workflow.started':
    case 'workflow.step_started':
    case 'workflow.step_completed':
    case 'workflow.completed':
    case 'workflow.failed':
    case 'workflow.block':
      return `workflow:${event.data.workflowId}`;
    case 'tdd.phase_changed':
    case 'tdd.test_result':
    case 'tdd.coverage_update':
      return `tdd:${event.data.taskId}`;
    case 'system.notification':
    case 'system.alert':
      return 'system';
  }
}

export const topicPatternSchema = z
  .string()
  .min(1)
  .max(limits.idLength + 16)
  .regex(/^\S+$/, 'topic patterns may not contain whitespace');

/** Compiles a pattern to a predicate over topics. */
export function topicMatcher(pattern: string): (topic: string) => boolean {
  if (!pattern.includes('*')) return (topic) => topic === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(`^${source}$`, 's');
  return (topic) => regex.test(topic);
}

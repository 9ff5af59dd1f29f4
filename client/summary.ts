/**
 * A one-line summary of an event's data, for the command line and the dashboard: the fields that matter for its
 * type. `paint` marks status, phase and level words (the CLI colours them; the default leaves them as they are).
 * Events of a catalogue's own families are summarised by `custom` (its `summaryOf`, or `summariesFrom` over the
 * server's `catalogue` query); without a summary the line is empty, and the log shows their type and topic.
 */
import { eventTypes, isEventOf, type AnyEnvelope, type StreamItem, type StreamReset } from '@switchboard/shared';

const isBuiltin = isEventOf(eventTypes);

export function summarizeEvent(
  event: StreamItem | AnyEnvelope,
  paint: (word: string) => string = (word) => word,
  custom?: (event: AnyEnvelope) => string | undefined,
): string {
  if (isBuiltin(event) || isReset(event)) return summarizeBuiltin(event, paint);
  return custom?.(event) ?? '';
}

/** No catalogue family may be called `stream`, so the type alone tells the notice apart. */
const isReset = (event: StreamItem | AnyEnvelope): event is StreamReset => event.type === 'stream.reset';

function summarizeBuiltin(event: StreamItem, paint: (word: string) => string): string {
  if (event.type === 'stream.reset') {
    if (event.data.reason === 'epoch')
      return `${paint('warning')} cursor ${event.data.requestedAfter} is from another log (the database was replaced or restored); this log follows from its start`;
    return `${paint('warning')} events after #${event.data.requestedAfter} up to #${event.data.retainedAfter} were deleted by retention; current state follows`;
  }
  switch (event.type) {
    case 'agent.status': {
      const { status, currentTask, reason } = event.data;
      const task = currentTask ? ` · ${currentTask.taskId} ${currentTask.progress}%` : '';
      return `${paint(status)}${task}${reason ? ` · ${reason}` : ''}`;
    }
    case 'agent.task_update':
      return `${event.data.taskId} ${event.data.status}${event.data.progress === undefined ? '' : ` ${event.data.progress}%`}`;
    case 'agent.log':
      return `${paint(event.data.level)} ${event.data.message}`;
    case 'agent.metric':
      return `${event.data.name}=${event.data.value}${event.data.unit ?? ''}`;
    case 'agent.error':
      return `${paint('error')} ${event.data.message}`;
    case 'workflow.started':
      return `${event.data.workflowType} started${event.data.initiator ? ` by ${event.data.initiator}` : ''}`;
    case 'workflow.step_started':
      return `step ${event.data.stepId} (${event.data.stepType}) started`;
    case 'workflow.step_completed':
      return `step ${event.data.stepId} done${event.data.duration === undefined ? '' : ` in ${event.data.duration} ms`}${event.data.nextStep ? ` → ${event.data.nextStep}` : ''}`;
    case 'workflow.completed':
      return `${paint('completed')}${event.data.duration === undefined ? '' : ` in ${event.data.duration} ms`}`;
    case 'workflow.failed':
      return `${paint('failed')}${event.data.stepId ? ` at ${event.data.stepId}` : ''}: ${event.data.error.message}`;
    case 'workflow.block':
      return `${event.data.stepId} ${event.data.blockType}: ${event.data.summary}`;
    case 'tdd.phase_changed': {
      const { taskId, previousPhase, currentPhase, testResults } = event.data;
      const tests = testResults ? ` · ${testResults.passing}/${testResults.total} passing` : '';
      return `${taskId} ${previousPhase ? `${previousPhase} → ` : ''}${paint(currentPhase)}${tests}`;
    }
    case 'tdd.test_result':
      return `${event.data.testName} ${paint(event.data.status)}`;
    case 'tdd.coverage_update':
      return `${event.data.taskId} coverage lines ${event.data.coverage.lines}% branches ${event.data.coverage.branches}%`;
    case 'system.notification':
      return `${paint(event.data.level)} ${event.data.title}: ${event.data.message}`;
    case 'system.alert':
      return `${paint(event.data.severity)} ${event.data.title}: ${event.data.message}`;
    case 'usage.recorded': {
      const { model, inputTokens, outputTokens, cacheReadTokens, cacheCreationTokens, costUsd } = event.data;
      const cache = (cacheReadTokens ?? 0) + (cacheCreationTokens ?? 0);
      const parts = [
        model ?? 'model unknown',
        `${inputTokens ?? 0} in`,
        `${outputTokens ?? 0} out`,
        ...(cache > 0 ? [`${cache} cache`] : []),
        ...(costUsd === undefined ? [] : [`$${costUsd.toFixed(4)}`]),
      ];
      return parts.join(' · ');
    }
    case 'otel.record':
      return `${event.data.signal} ${event.data.name}${event.data.body === undefined ? '' : `: ${event.data.body.replace(/\s+/g, ' ').slice(0, 120)}`}`;
  }
}

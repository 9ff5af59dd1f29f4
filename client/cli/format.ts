/**
 * One line per event for people: id, time, type, topic and a summary of the fields that matter, with colours
 * for status, phase and level when the output is a terminal.
 */
import type { EventEnvelope, StreamItem } from '../../shared/index.js';

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 } as const;
type Colour = keyof typeof codes;

const colourOf: Record<string, Colour> = {
  idle: 'green',
  busy: 'yellow',
  blocked: 'magenta',
  error: 'red',
  offline: 'gray',
  red: 'red',
  green: 'green',
  refactor: 'cyan',
  passed: 'green',
  completed: 'green',
  failed: 'red',
  skipped: 'gray',
  debug: 'gray',
  info: 'blue',
  warn: 'yellow',
  warning: 'yellow',
  critical: 'red',
  high: 'red',
  medium: 'yellow',
  low: 'gray',
};

function summary(event: EventEnvelope, paint: (word: string) => string): string {
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
      return `step ${event.data.stepId} done in ${event.data.duration} ms${event.data.nextStep ? ` → ${event.data.nextStep}` : ''}`;
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
  }
}

export function formatEvent(event: StreamItem, colour: boolean): string {
  const paint = (word: string) => {
    const c = colourOf[word];
    return colour && c ? `\u001b[${codes[c]}m${word}\u001b[0m` : word;
  };
  const time = event.timestamp.toISOString().slice(11, 19);
  const text =
    event.type === 'stream.reset'
      ? `${paint('warning')} events after #${event.data.requestedAfter} up to #${event.data.retainedAfter} were deleted by retention; current state follows`
      : summary(event, paint);
  return `#${event.id.padEnd(6)} ${time}  ${event.type.padEnd(23)} ${event.topic.padEnd(22)} ${text}`;
}

/**
 * The AG-UI mapper (server/mappers/ag-ui.ts), event by event. Tool calls: one call reported by several producers
 * under one `callId` (Claude Code's hooks and its telemetry, in any order) is one tool call; a `callId` reused for
 * another tool is another call; the calls remembered are bounded. Runs and steps: whatever a workflow's events
 * say, the stream is what AG-UI's own client verifies (`verifyEvents` of `@ag-ui/client`): runs opened before
 * anything else, a step started again finished first, a run ended with no step active. Every event is valid
 * against `@ag-ui/core`.
 */
import { EventType, type AGUIEvent } from '@ag-ui/core';
import { EventSchema } from '@ag-ui/core/schemas';
import { describe, expect, it } from 'vitest';
import { publishInputSchema, topicOf, type EventEnvelope, type PublishInput } from '@switchboard/shared';
import { AgUiMapper, toolCallReported } from '../../server/mappers/ag-ui.js';
import { verified } from '../ag-ui-verify.js';

const t0 = Date.UTC(2026, 11, 1, 9, 0, 0);

interface Tool {
  callId: string;
  toolName?: string;
  output?: unknown;
  isError?: boolean;
  durationMs?: number;
}

/** Tool blocks of workflow `wf`, stored one second apart with ids from 1, as the store would hand them out. */
function stored(tools: readonly Tool[]): EventEnvelope[] {
  return tools.map(({ toolName = 'Bash', ...payload }, i) => {
    const event = publishInputSchema.parse({
      type: 'workflow.block',
      data: {
        workflowId: 'wf',
        stepId: 'main',
        summary: 'a call',
        blockType: 'tool_use',
        payload: { toolName, ...payload },
      },
    });
    return { ...event, id: String(i + 1), topic: topicOf(event), timestamp: new Date(t0 + i * 1_000) };
  });
}

/** Each block's AG-UI events, every one checked against the schema. */
function mapped(envelopes: readonly EventEnvelope[], mapper = new AgUiMapper('wf')): AGUIEvent[][] {
  return envelopes.map((envelope) =>
    mapper.map(envelope).map((event) => {
      const parsed = EventSchema.safeParse(event);
      if (!parsed.success) expect.fail(`${JSON.stringify(event)} is not an AG-UI event: ${parsed.error.message}`);
      return event;
    }),
  );
}

const types = (events: readonly AGUIEvent[]) => events.map((e) => e.type);

/** Events of workflow `wf` as the store would hand them out: ids from 1, a second apart. */
function storedEvents(inputs: readonly PublishInput[]): EventEnvelope[] {
  return inputs.map((input, i) => {
    const event = publishInputSchema.parse(input);
    return { ...event, id: String(i + 1), topic: topicOf(event), timestamp: new Date(t0 + i * 1_000) };
  });
}

const workflowStart: PublishInput = {
  type: 'workflow.started',
  data: { workflowId: 'wf', workflowType: 'claude-code' },
};
const step = (type: 'workflow.step_started' | 'workflow.step_completed', stepId = 'main'): PublishInput => ({
  type,
  data: { workflowId: 'wf', stepId, stepType: 'agent' },
});
const text = (words: string): PublishInput => ({
  type: 'workflow.block',
  data: { workflowId: 'wf', stepId: 'main', summary: words, blockType: 'text', payload: { text: words } },
});
const reportOf = (events: readonly AGUIEvent[]) => {
  const [event] = events;
  expect(events).toHaveLength(1);
  if (event?.type !== EventType.CUSTOM || event.name !== toolCallReported) expect.fail(JSON.stringify(event));
  return event.value as { toolCallId: string; eventId: string };
};

describe('AG-UI tool calls', () => {
  it('makes a call reported whole first, then by its hooks, one tool call', () => {
    const [whole, start, result] = mapped(
      stored([
        { callId: 'c1', isError: false, durationMs: 840 },
        { callId: 'c1' },
        { callId: 'c1', output: { exitCode: 0 } },
      ]),
    );
    // Whole and ended (telemetry says only that it succeeded, and how long it took): a result with no content,
    // after the run its first event opens.
    expect(types(whole ?? [])).toEqual([
      EventType.RUN_STARTED,
      EventType.TOOL_CALL_START,
      EventType.TOOL_CALL_END,
      EventType.TOOL_CALL_RESULT,
    ]);
    expect(whole?.[3]).toMatchObject({
      content: '',
      metadata: { switchboard: { eventId: '1', callId: 'c1', isError: false, durationMs: 840 } },
    });
    expect(reportOf(start ?? [])).toEqual({ toolCallId: 'call-1', eventId: '2', block: expect.anything() as unknown });
    expect(reportOf(result ?? []).toolCallId).toBe('call-1');
  });

  it('gives a failed call without output its summary as content, and a call that says only its duration a result', () => {
    const [failed, timed] = mapped(
      stored([
        { callId: 'c1', toolName: 'Write', isError: true },
        { callId: 'c2', durationMs: 12 },
      ]),
    );
    expect(failed?.at(-1)).toMatchObject({
      type: EventType.TOOL_CALL_RESULT,
      content: 'a call',
      metadata: { switchboard: { eventId: '1', callId: 'c1', isError: true } },
    });
    expect(timed?.at(-1)).toMatchObject({
      type: EventType.TOOL_CALL_RESULT,
      content: '',
      metadata: { switchboard: { eventId: '2', callId: 'c2', durationMs: 12 } },
    });
  });

  it('takes a second start of an open call as a report, and pairs the result with the first', () => {
    const [, again, result] = mapped(stored([{ callId: 'c1' }, { callId: 'c1' }, { callId: 'c1', output: 'ok' }]));
    expect(reportOf(again ?? []).toolCallId).toBe('call-1');
    expect(result).toMatchObject([{ type: EventType.TOOL_CALL_RESULT, toolCallId: 'call-1', content: 'ok' }]);
  });

  it('times a paired call by the duration its result measured, else by the two events', () => {
    const [, measured, , timed] = mapped(
      stored([
        { callId: 'c1' },
        { callId: 'c1', isError: false, durationMs: 840 },
        { callId: 'c2' },
        { callId: 'c2', output: 'ok' },
      ]),
    );
    expect(measured).toMatchObject([{ metadata: { switchboard: { callId: 'c1', durationMs: 840 } } }]);
    expect(timed).toMatchObject([{ metadata: { switchboard: { callId: 'c2', durationMs: 1_000 } } }]);
  });

  it('makes a callId reused for another tool another call', () => {
    const events = mapped(
      stored([
        { callId: 'c1', toolName: 'Bash', output: 'ok' },
        { callId: 'c1', toolName: 'Read', output: 'text' },
      ]),
    ).flat();
    const starts = events.flatMap((e) => (e.type === EventType.TOOL_CALL_START ? [e.toolCallId] : []));
    expect(starts).toEqual(['call-1', 'call-2']);
  });

  it('remembers the last 1,000 calls done: a report of an older one is a call again', () => {
    const calls = Array.from({ length: 1_001 }, (_, i): Tool => ({ callId: `c${i}`, output: 'ok' }));
    const mapper = new AgUiMapper('wf');
    mapped(stored(calls), mapper);
    const [recent, oldest] = mapped(
      stored([...calls, { callId: 'c1000', output: 'again' }, { callId: 'c0', output: 'again' }]).slice(1_001),
      mapper,
    );
    expect(reportOf(recent ?? []).toolCallId).toBe('call-1001');
    expect(types(oldest ?? [])[0]).toBe(EventType.TOOL_CALL_START);
  });

  it('maps the same events the same way every time (a resumed stream is the rest of the first)', () => {
    const events = stored([
      { callId: 'c1' },
      { callId: 'c1', isError: false, durationMs: 840 },
      { callId: 'c1', output: { exitCode: 1 }, isError: true },
      { callId: 'c2', output: 'ok' },
    ]);
    expect(JSON.stringify(mapped(events))).toBe(JSON.stringify(mapped(events)));
  });

  it("frames a session seen only through its telemetry as runs and steps AG-UI's client accepts", async () => {
    // Claude Code without hooks: no workflow.started, `main` started at every prompt and never said finished.
    const events = mapped(
      storedEvents([
        step('workflow.step_started'),
        text('first prompt'),
        step('workflow.step_started'),
        text('second prompt'),
      ]),
    ).flat();
    const checked = await verified(events);
    expect(types(checked)).toEqual([
      EventType.RUN_STARTED,
      EventType.STEP_STARTED,
      EventType.STATE_SNAPSHOT,
      EventType.TEXT_MESSAGE_START,
      EventType.TEXT_MESSAGE_CONTENT,
      EventType.TEXT_MESSAGE_END,
      EventType.STEP_FINISHED,
      EventType.STEP_STARTED,
      EventType.STATE_SNAPSHOT,
      EventType.TEXT_MESSAGE_START,
      EventType.TEXT_MESSAGE_CONTENT,
      EventType.TEXT_MESSAGE_END,
    ]);
    expect(checked[0]).toMatchObject({ threadId: 'wf', runId: 'wf' });
  });

  it('ends a run with its steps finished, and opens another for what comes after it ends', async () => {
    const completed: PublishInput = { type: 'workflow.completed', data: { workflowId: 'wf' } };
    const failed: PublishInput = { type: 'workflow.failed', data: { workflowId: 'wf', error: { message: 'boom' } } };
    const events = mapped(
      storedEvents([
        workflowStart,
        workflowStart,
        step('workflow.step_started', 'plan'),
        step('workflow.step_started', 'build'),
        completed,
        // Telemetry exported after the session ended: a run of its own.
        text('late'),
        failed,
        step('workflow.step_completed', 'deploy'),
      ]),
    ).flat();
    const checked = await verified(events);
    const framing = checked.filter((e) => e.type.startsWith('RUN_') || e.type.startsWith('STEP_'));
    expect(framing.map((e) => [e.type, 'stepName' in e ? e.stepName : 'runId' in e ? e.runId : undefined])).toEqual([
      [EventType.RUN_STARTED, 'wf'],
      [EventType.STEP_STARTED, 'plan'],
      [EventType.STEP_STARTED, 'build'],
      [EventType.STEP_FINISHED, 'plan'],
      [EventType.STEP_FINISHED, 'build'],
      [EventType.RUN_FINISHED, 'wf'],
      [EventType.RUN_STARTED, 'wf-6'],
      [EventType.RUN_ERROR, undefined],
      [EventType.RUN_STARTED, 'wf-8'],
      // A step said finished that was never said started.
      [EventType.STEP_STARTED, 'deploy'],
      [EventType.STEP_FINISHED, 'deploy'],
    ]);
  });

  it("says a step finished once when a session's hooks say it twice, and starts a failed run's steps afresh", async () => {
    const completed: PublishInput = { type: 'workflow.completed', data: { workflowId: 'wf' } };
    const failed: PublishInput = { type: 'workflow.failed', data: { workflowId: 'wf', error: { message: 'boom' } } };
    const framing = async (inputs: readonly PublishInput[]) =>
      (await verified(mapped(storedEvents(inputs)).flat()))
        .filter((e) => e.type.startsWith('RUN_') || e.type.startsWith('STEP_'))
        .map((e) => ('stepName' in e ? `${e.type} ${e.stepName}` : e.type));
    // Claude Code's hooks: SessionStart, a prompt, Stop, then SessionEnd, which says `main` finished again.
    expect(
      await framing([
        workflowStart,
        step('workflow.step_started'),
        text('a prompt'),
        step('workflow.step_completed'),
        step('workflow.step_completed'),
        completed,
      ]),
    ).toEqual([EventType.RUN_STARTED, 'STEP_STARTED main', 'STEP_FINISHED main', EventType.RUN_FINISHED]);
    // A run that failed with a step active: the next run starts that step afresh.
    expect(
      await framing([step('workflow.step_started', 'x'), failed, step('workflow.step_started', 'x'), completed]),
    ).toEqual([
      EventType.RUN_STARTED,
      'STEP_STARTED x',
      EventType.RUN_ERROR,
      EventType.RUN_STARTED,
      'STEP_STARTED x',
      'STEP_FINISHED x',
      EventType.RUN_FINISHED,
    ]);
  });
});

/**
 * The AG-UI mapper's tool calls (server/mappers/ag-ui.ts), event by event: one call reported by several producers
 * under one `callId` (Claude Code's hooks and its telemetry, in any order) is one tool call; a `callId` reused for
 * another tool is another call; the calls remembered are bounded. Every event is valid against `@ag-ui/core`.
 */
import { EventType, type AGUIEvent } from '@ag-ui/core';
import { EventSchema } from '@ag-ui/core/schemas';
import { describe, expect, it } from 'vitest';
import { publishInputSchema, topicOf, type EventEnvelope } from '@switchboard/shared';
import { AgUiMapper, toolCallReported } from '../../server/mappers/ag-ui.js';

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
    // Whole and ended (telemetry says only that it succeeded, and how long it took): a result with no content.
    expect(types(whole ?? [])).toEqual([
      EventType.TOOL_CALL_START,
      EventType.TOOL_CALL_END,
      EventType.TOOL_CALL_RESULT,
    ]);
    expect(whole?.[2]).toMatchObject({ content: '', metadata: { switchboard: { isError: false, durationMs: 840 } } });
    expect(reportOf(start ?? [])).toEqual({ toolCallId: 'call-1', eventId: '2', block: expect.anything() as unknown });
    expect(reportOf(result ?? []).toolCallId).toBe('call-1');
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
});

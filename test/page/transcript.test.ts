/**
 * How the dashboard reads a Claude Code session (web/src/calls.ts, web/src/sessions/transcript.ts), from the
 * events the real hook mapping makes: a call's start and result are one call, wherever its halves fall.
 */
import { describe, expect, it } from 'vitest';
import { entityTopic, publishInputSchema, topicOf, type EventEnvelope, type PublishInput } from '@switchboard/shared';
import { mapHookEvent, type HookPayload } from '../../server/mappers/claude-code.js';
import { mapOtlp, parseOtlp } from '../../server/mappers/otlp/index.js';
import { claudeCodeLogs, type ClaudeCodeEvent } from '../otlp-fixtures.js';
import { callDuration, callOutput, callState, itemsOf, type Block } from '../../web/src/calls.js';
import { transcriptOf } from '../../web/src/sessions/transcript.js';

const t0 = Date.UTC(2026, 11, 1, 9, 0, 0);
const hook = { session_id: 'sess-1', cwd: '/p' };

/**
 * The hooks mapped as the server maps them, stored one second apart with ids from 1; those on the session's
 * topics, as the transcript reads them (a subagent's status is on its own agent's topic).
 */
function stored(hooks: readonly (Partial<HookPayload> & { hook_event_name: string })[]): EventEnvelope[] {
  return storedInputs(hooks.flatMap((h) => mapHookEvent({ ...hook, ...h })));
}

type HookEvent = Partial<HookPayload> & { hook_event_name: string };

/** Hooks and telemetry as the server maps them (the telemetry a `claude_code.<name>` OTLP log record each). */
const mapped = (items: readonly (HookEvent | ClaudeCodeEvent)[]): PublishInput[] =>
  items.flatMap((item) => {
    if ('hook_event_name' in item) return mapHookEvent({ ...hook, ...item });
    const request = parseOtlp('logs', claudeCodeLogs(hook.session_id, [item], new Date(t0)));
    if (!request.success) throw request.error;
    return mapOtlp('logs', request.data).flatMap((record) => record.events);
  });

function storedInputs(inputs: readonly PublishInput[]): EventEnvelope[] {
  const topics = new Set([entityTopic('workflow', hook.session_id), entityTopic('agent', hook.session_id)]);
  return inputs
    .map((input, i): EventEnvelope => {
      const event = publishInputSchema.parse(input);
      return { ...event, id: String(i + 1), topic: topicOf(event), timestamp: new Date(t0 + i * 1_000) };
    })
    .filter((e) => topics.has(e.topic));
}

const bash = { tool_name: 'Bash', tool_input: { command: 'npm test' } };

describe('a Claude Code session read by the dashboard', () => {
  it('makes one call of a start and its result, failed or done, with the time between them', () => {
    const events = stored([
      { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'a' },
      { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'b' },
      { hook_event_name: 'PostToolUseFailure', ...bash, tool_use_id: 'a', error: 'exit 1' },
      { hook_event_name: 'PostToolUse', ...bash, tool_use_id: 'c', tool_response: { ok: true } },
    ]);
    const blocks = events.filter((e): e is Block => e.type === 'workflow.block');
    const items = itemsOf(blocks);
    expect(items.map((i) => (i.kind === 'call' ? [i.callId, callState(i), callDuration(i)] : i.kind))).toEqual([
      // a: started (event 2, after its busy status), failed at event 5: 3 s.
      ['a', 'failed', 3_000],
      // b: no result yet.
      ['b', 'running', undefined],
      // c: a result with no start held (the start fell out of a page): done, no duration.
      ['c', 'done', undefined],
    ]);
  });

  it('makes one call of its hooks and its telemetry, in either order, with the output and time they report', () => {
    const telemetry = (id: string, success: boolean): ClaudeCodeEvent => ({
      name: 'tool_result',
      attributes: {
        tool_name: 'Bash',
        tool_use_id: id,
        success: String(success),
        duration_ms: '840',
        ...(!success && { error: 'Exit code 1' }),
      },
    });
    const events = storedInputs(
      mapped([
        // Hooks, then the telemetry seconds later.
        { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'a' },
        { hook_event_name: 'PostToolUse', ...bash, tool_use_id: 'a', tool_response: { exitCode: 0 } },
        telemetry('a', true),
        // The telemetry between the two hooks; a failure both report, the hook with the tool's own output.
        { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'b' },
        telemetry('b', false),
        { hook_event_name: 'PostToolUseFailure', ...bash, tool_use_id: 'b', error: 'exit 1' },
        // Hooks only: timed by their events.
        { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'c' },
        { hook_event_name: 'PostToolUse', ...bash, tool_use_id: 'c', tool_response: { exitCode: 0 } },
      ]),
    );
    const blocks = events.filter((e): e is Block => e.type === 'workflow.block');
    const calls = itemsOf(blocks).flatMap((item) => (item.kind === 'call' ? [item] : []));
    expect(calls.map((c) => [c.callId, c.blocks.length, callState(c), callDuration(c), callOutput(c)])).toEqual([
      ['a', 3, 'done', 840, { exitCode: 0 }],
      ['b', 3, 'failed', 840, 'exit 1'],
      ['c', 2, 'done', 1_000, { exitCode: 0 }],
    ]);
    // The call ends with its first result, not with the telemetry that came after it.
    expect(calls[0]?.end?.data.blockType === 'tool_use' && calls[0].end.data.payload.output).toEqual({ exitCode: 0 });
  });

  it('reads a turn as its prompt, its calls, the wait on the person and the end of the turn', () => {
    const transcript = transcriptOf(
      stored([
        { hook_event_name: 'SessionStart', source: 'startup' },
        { hook_event_name: 'UserPromptSubmit', prompt: 'Fix it' },
        { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'a' },
        { hook_event_name: 'PostToolUseFailure', ...bash, tool_use_id: 'a', error: 'exit 1' },
        { hook_event_name: 'Notification', message: 'Claude needs your permission to use Bash' },
        { hook_event_name: 'SubagentStart', agent_id: 'sub-1', agent_type: 'Explore' },
        { hook_event_name: 'SubagentStop', agent_id: 'sub-1', agent_type: 'Explore' },
        { hook_event_name: 'Stop' },
      ]),
    );
    expect(transcript.entries.map((e) => e.kind)).toEqual([
      'status',
      'session',
      'prompt',
      'call',
      'status',
      'subagent',
      'subagent',
      'status',
    ]);
    expect(transcript).toMatchObject({ prompts: 1, calls: 1, failed: 1 });
  });
});

/**
 * How Claude Code's hook events become built-in events (docs/claude-code.md has the table): the payload's
 * schema, the mapping, the size bounds and the idempotency keys. No I/O here; claude-code.ts serves it.
 */
import { z } from 'zod';
import { claudeCode, limits, type PublishInput } from '@switchboard/shared';
import { boundedJson, boundedKey, cut, oneLine, safeId, toJson } from './text.js';

/** Characters of a tool input kept as its preview; the full size is recorded beside it. */
export const inputPreviewChars = 2_000;
/** Characters of JSON of a tool's output kept as is; a larger output is kept as a preview with its size. */
export const outputPreviewChars = 8_000;
/** Characters of a prompt kept in its text block. */
export const promptChars = 8_000;
/** Characters of a stop or notification reason kept in the agent's status. */
const reasonChars = 1_000;

/** The fields every hook event carries; the rest depends on the event and is read where it is mapped. */
export const hookPayloadSchema = z.looseObject({
  session_id: z.string().min(1).max(limits.idLength),
  hook_event_name: z.string().min(1).max(limits.nameLength),
  cwd: z.string().optional(),
  tool_name: z.string().optional(),
  tool_input: z.unknown().optional(),
  tool_response: z.unknown().optional(),
  tool_use_id: z.string().max(limits.idLength).optional(),
  error: z.unknown().optional(),
  prompt: z.string().optional(),
  message: z.string().optional(),
  title: z.string().optional(),
  notification_type: z.string().optional(),
  source: z.string().optional(),
  reason: z.string().optional(),
  trigger: z.string().optional(),
  model: z.string().optional(),
  agent_id: z.string().max(limits.idLength).optional(),
  agent_type: z.string().optional(),
});
export type HookPayload = z.output<typeof hookPayloadSchema>;

const { type: agentType, source, mainStep } = claudeCode;
/** A string field of a tool's input, or undefined. */
function field(input: unknown, name: string): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const value = (input as Record<string, unknown>)[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * What a tool call is about, in a few words: per tool what a reader looks for (Bash's command, Grep's pattern
 * and path, the file of Read/Edit/Write, WebFetch's URL, Task's description); for any other tool the first of
 * the usual fields, or its input as JSON. The summary bounds it to one line.
 */
export function gist(tool: string, input: unknown): string {
  const path = field(input, 'path');
  const pattern = field(input, 'pattern');
  switch (tool) {
    case 'Grep':
    case 'Glob':
      if (pattern !== undefined) return path === undefined ? pattern : `${pattern} in ${path}`;
      break;
    case 'Task':
      return field(input, 'description') ?? field(input, 'subagent_type') ?? toJson(input);
    default:
      break;
  }
  for (const name of [
    'command',
    'full_command',
    'file_path',
    'notebook_path',
    'url',
    'query',
    'pattern',
    'path',
    'description',
  ]) {
    const value = field(input, name);
    if (value !== undefined) return value;
  }
  return toJson(input);
}

/** A tool's output as stored: itself when small, else a preview of its JSON with the full size recorded. */
const boundedOutput = (output: unknown) => boundedJson(output, outputPreviewChars);

/** The built-in events one hook event becomes. */
export function mapHookEvent(hook: HookPayload): PublishInput[] {
  const session = safeId(hook.session_id);
  const agentId = hook.agent_id === undefined ? session : safeId(hook.agent_id);
  const stepId = hook.agent_id === undefined ? mainStep : agentId;
  const status = (
    id: string,
    value: 'idle' | 'busy' | 'blocked' | 'offline',
    reason: string,
    type: string = agentType,
  ): PublishInput => ({
    type: 'agent.status',
    source,
    data: { agentId: id, agentType: type, status: value, reason: cut(reason, reasonChars) },
  });
  const block = (
    summary: string,
    body:
      | { blockType: 'text'; payload: { text: string; role: 'user' } }
      | {
          blockType: 'tool_use';
          payload: {
            toolName: string;
            callId?: string;
            inputPreview?: string;
            output?: z.core.util.JSONType;
            isError?: boolean;
          };
        },
  ): PublishInput => ({
    type: 'workflow.block',
    source,
    correlationId: hook.tool_use_id,
    data: { workflowId: session, stepId, agentId, summary: oneLine(summary), ...body },
  });
  const tool = (outcome: string, extra: { output?: z.core.util.JSONType; isError?: boolean }) => {
    const toolName = oneLine(hook.tool_name ?? 'tool', limits.nameLength);
    const input = toJson(hook.tool_input);
    return block(`${toolName} ${outcome}: ${gist(toolName, hook.tool_input)}`, {
      blockType: 'tool_use',
      payload: {
        toolName,
        // Pre and Post of one call share it: readers pair them, and time the call by their timestamps.
        ...(hook.tool_use_id !== undefined && { callId: safeId(hook.tool_use_id) }),
        inputPreview: cut(input, inputPreviewChars),
        ...extra,
      },
    });
  };
  // The session's step `main` runs from a prompt to the turn's end; a subagent's step from its start to its stop.
  // Stateless: each prompt starts it again and each stop (or the session's end) finishes it again.
  const stepStarted = (step: string, type: string, agent: string): PublishInput => ({
    type: 'workflow.step_started',
    source,
    data: { workflowId: session, stepId: step, stepType: type, agentId: agent },
  });
  const stepCompleted = (step: string, type: string): PublishInput => ({
    type: 'workflow.step_completed',
    source,
    data: { workflowId: session, stepId: step, stepType: type },
  });
  const subagentType = oneLine(hook.agent_type ?? 'subagent', 100);

  switch (hook.hook_event_name) {
    case 'SessionStart':
      return [
        status(session, 'idle', `session ${hook.source ?? 'started'}`),
        {
          type: 'workflow.started',
          source,
          data: {
            workflowId: session,
            workflowType: agentType,
            initiator: oneLine(hook.cwd ?? 'claude-code', limits.nameLength),
            parameters: { source: hook.source ?? null, model: hook.model ?? null, cwd: hook.cwd ?? null },
          },
        },
      ];
    case 'UserPromptSubmit':
      return [
        status(agentId, 'busy', 'working on a prompt'),
        stepStarted(stepId, 'session', agentId),
        block(hook.prompt ?? '', {
          blockType: 'text',
          payload: { text: cut(hook.prompt ?? '', promptChars), role: 'user' },
        }),
      ];
    case 'PreToolUse':
      // A tool call means the session is working again: a permission it waited for (blocked) was answered.
      return [status(session, 'busy', `running ${oneLine(hook.tool_name ?? 'a tool', 100)}`), tool('called', {})];
    case 'PostToolUse':
      return [tool('done', { output: boundedOutput(hook.tool_response), isError: false })];
    case 'PostToolUseFailure':
      return [tool('failed', { output: boundedOutput(hook.error), isError: true })];
    case 'Notification':
      return notification(hook, agentId, status);
    case 'PreCompact':
      return [
        {
          type: 'agent.log',
          source,
          data: { agentId, level: 'info', message: `compacting the context (${hook.trigger ?? 'auto'})` },
        },
      ];
    case 'Stop':
      return [status(session, 'idle', 'turn finished'), stepCompleted(mainStep, 'session')];
    case 'SubagentStart':
      return [
        status(agentId, 'busy', `subagent of ${session}`, subagentType),
        stepStarted(stepId, subagentType, agentId),
      ];
    case 'SubagentStop':
      return [status(agentId, 'offline', 'subagent finished', subagentType), stepCompleted(stepId, subagentType)];
    case 'SessionEnd':
      return [
        status(session, 'offline', `session ended (${hook.reason ?? 'other'})`),
        // A session ended in the middle of a turn has had no Stop: its step is done all the same.
        stepCompleted(mainStep, 'session'),
        { type: 'workflow.completed', source, data: { workflowId: session } },
      ];
    default: {
      // Never dropped: stored as the agent's log line, with the payload bounded like a tool's output.
      const { session_id: _, hook_event_name: name, ...rest } = hook;
      const context = boundedOutput(rest);
      return [
        {
          type: 'agent.log',
          source,
          data: {
            agentId,
            level: 'info',
            message: `Claude Code ${oneLine(name, 100)}`,
            ...(typeof context === 'object' && context !== null && !Array.isArray(context) && { context }),
          },
        },
      ];
    }
  }
}

/**
 * What a `Notification` says about the session. Only a wait on the person at the keyboard is `blocked`: a
 * permission prompt, a question (an elicitation dialog), or a notification of a kind this mapping does not know.
 * `idle_prompt` means the turn is over and Claude waits for the next prompt: idle, as after `Stop`.
 * `auth_success` changes nothing about the work: a log line.
 */
function notification(
  hook: HookPayload,
  agentId: string,
  status: (id: string, value: 'idle' | 'blocked', reason: string) => PublishInput,
): PublishInput[] {
  const message = hook.message ?? hook.notification_type ?? 'needs attention';
  switch (hook.notification_type) {
    case 'idle_prompt':
      return [status(agentId, 'idle', message)];
    case 'auth_success':
      return [{ type: 'agent.log', source, data: { agentId, level: 'info', message: cut(message, reasonChars) } }];
    default:
      return [status(agentId, 'blocked', message)];
  }
}

/**
 * The idempotency key of each event, where the payload names what happened once: a tool call by its
 * `tool_use_id`, a subagent's start and stop by its `agent_id`, a session's end by the session. Every key holds
 * the session id: another session's call with the same id is another call. Prompts, notifications and stops carry
 * no such id; they are stored as often as they are posted. `n` (the event's place in the mapping) follows.
 */
export function keyOf(hook: HookPayload): string | undefined {
  const name = hook.hook_event_name;
  const session = hook.session_id;
  let key: string | undefined;
  if (hook.tool_use_id !== undefined) key = `cc:${session}:${hook.tool_use_id}:${name}`;
  else if ((name === 'SubagentStart' || name === 'SubagentStop') && hook.agent_id !== undefined) {
    key = `cc:${session}:${hook.agent_id}:${name}`;
  } else if (name === 'SessionEnd') key = `cc:${session}:${name}`;
  if (key === undefined) return undefined;
  // Two ids of up to 128 characters each do not fit in one key: a longer key is its digest, as unique in practice.
  return boundedKey(key, 'cc:', keySuffixChars);
}

/** Room kept in a key for `:<n>`. */
const keySuffixChars = 4;

/**
 * How Claude Code's hook events become built-in events (docs/claude-code.md has the table): the payload's
 * schema, the mapping, the size bounds and the idempotency keys. No I/O here; claude-code.ts serves it.
 */
import { z } from 'zod';
import { limits, type PublishInput } from '@switchboard/shared';

/** Characters of a tool input kept as its preview; the full size is recorded beside it. */
export const inputPreviewChars = 2_000;
/** Characters of JSON of a tool's output kept as is; a larger output is kept as a preview with its size. */
export const outputPreviewChars = 8_000;
/** Characters of a prompt kept in its text block. */
const promptChars = 8_000;
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

const agentType = 'claude-code';
const byteLength = (text: string) => Buffer.byteLength(text);
/** JSON of a hook field; an absent field is the empty string. */
const toJson = (value: unknown): string => (value === undefined ? '' : JSON.stringify(value));

/** One line of at most `max` characters. */
function oneLine(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line || '(empty)';
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${byteLength(text)} bytes in all)` : text;
}

/** What a tool call is about, in a few words: the command, the file, the pattern, or its input as JSON. */
function gist(input: unknown): string {
  if (typeof input === 'object' && input !== null) {
    const fields = input as Record<string, unknown>;
    for (const name of ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt']) {
      const value = fields[name];
      if (typeof value === 'string' && value !== '') return value;
    }
  }
  return toJson(input);
}

/** A tool's output as stored: itself when small, else a preview of its JSON with the full size recorded. */
function boundedOutput(output: unknown): z.core.util.JSONType | undefined {
  if (output === undefined) return undefined;
  const json = JSON.stringify(output);
  if (json.length <= outputPreviewChars) return JSON.parse(json) as z.core.util.JSONType;
  return { preview: json.slice(0, outputPreviewChars), bytes: byteLength(json), truncated: true };
}

/** Ids must not hold whitespace or `*`; Claude Code's are UUIDs, but nothing stops a stranger. */
const safeId = (id: string) => id.replace(/[\s*]/g, '_');

/** The built-in events one hook event becomes. */
export function mapHookEvent(hook: HookPayload): PublishInput[] {
  const session = safeId(hook.session_id);
  const agentId = hook.agent_id === undefined ? session : safeId(hook.agent_id);
  const stepId = hook.agent_id === undefined ? 'main' : agentId;
  const source = 'claude-code';
  const status = (
    id: string,
    value: 'idle' | 'busy' | 'blocked' | 'offline',
    reason: string,
    type = agentType,
  ): PublishInput => ({
    type: 'agent.status',
    source,
    data: { agentId: id, agentType: type, status: value, reason: cut(reason, reasonChars) },
  });
  const block = (
    summary: string,
    body:
      | { blockType: 'text'; payload: { text: string } }
      | {
          blockType: 'tool_use';
          payload: { toolName: string; inputPreview?: string; output?: z.core.util.JSONType; isError?: boolean };
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
    return block(`${toolName} ${outcome}: ${gist(hook.tool_input)}`, {
      blockType: 'tool_use',
      payload: { toolName, inputPreview: cut(input, inputPreviewChars), ...extra },
    });
  };

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
        block(hook.prompt ?? '', { blockType: 'text', payload: { text: cut(hook.prompt ?? '', promptChars) } }),
      ];
    case 'PreToolUse':
      return [tool('called', {})];
    case 'PostToolUse':
      return [tool('done', { output: boundedOutput(hook.tool_response), isError: false })];
    case 'PostToolUseFailure':
      return [tool('failed', { output: boundedOutput(hook.error), isError: true })];
    case 'Notification':
      return [status(agentId, 'blocked', hook.message ?? hook.notification_type ?? 'needs attention')];
    case 'PreCompact':
      return [
        {
          type: 'agent.log',
          source,
          data: { agentId, level: 'info', message: `compacting the context (${hook.trigger ?? 'auto'})` },
        },
      ];
    case 'Stop':
      return [status(session, 'idle', 'turn finished')];
    case 'SubagentStart':
      return [status(agentId, 'busy', `subagent of ${session}`, oneLine(hook.agent_type ?? 'subagent', 100))];
    case 'SubagentStop':
      return [status(agentId, 'offline', 'subagent finished', oneLine(hook.agent_type ?? 'subagent', 100))];
    case 'SessionEnd':
      return [
        status(session, 'offline', `session ended (${hook.reason ?? 'other'})`),
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
 * The idempotency key of each event, where the payload names what happened once: a tool call by its
 * `tool_use_id`, a subagent's start and stop by its `agent_id`, a session's end by the session. Prompts,
 * notifications and stops carry no such id; they are stored as often as they are posted.
 */
export function keyOf(hook: HookPayload): string | undefined {
  const name = hook.hook_event_name;
  if (hook.tool_use_id !== undefined) return `cc:${hook.tool_use_id}:${name}`;
  if ((name === 'SubagentStart' || name === 'SubagentStop') && hook.agent_id !== undefined) {
    return `cc:${hook.agent_id}:${name}`;
  }
  if (name === 'SessionEnd') return `cc:${hook.session_id}:${name}`;
  return undefined;
}

/**
 * Codex CLI's OpenTelemetry log events (`codex.*`, its `[otel]` exporter) as built-in events. Each names its
 * session (`conversation.id`), which becomes an agent and a workflow of that id, as a Claude Code session does.
 * Codex reports tokens on the completed response and no cost.
 *
 *   codex.conversation_starts                 → status idle, workflow.started (model, provider, policies)
 *   codex.user_prompt                         → status busy, step `main` started, the prompt as a text block
 *   codex.tool_result                         → one tool_use block: arguments, output, duration, success
 *   codex.tool_decision                       → denied or abort: a tool_use block marked rejected; else a log line
 *   codex.sse_event / codex.websocket_event   → on `response.completed` with token counts: usage.recorded
 *   codex.api_request and the streams         → on a failure (`error.message`, a status of 400 or more): system.alert
 *   anything else                             → undefined: kept as an otel.record of the session
 */
import type { PublishInput } from '@switchboard/shared';
import type { SessionEvents } from './session.js';
import type { Attributes } from './values.js';

export const codexPrefix = 'codex.';

/** The events of one Codex log event (`name` with its `codex.` prefix), or undefined when unknown or routine. */
export function mapCodexEvent(name: string, attrs: Attributes, session: SessionEvents): PublishInput[] | undefined {
  const failure = failureOf(attrs);
  switch (name) {
    case 'codex.conversation_starts':
      return [
        session.status('idle', 'session started'),
        session.workflowStarted({
          model: attrs.text('model') ?? null,
          provider: attrs.text('provider_name') ?? null,
          approvalPolicy: attrs.text('approval_policy') ?? null,
          sandboxPolicy: attrs.text('sandbox_policy') ?? null,
        }),
      ];
    case 'codex.user_prompt': {
      const prompt = attrs.text('prompt');
      const length = attrs.count('prompt_length');
      const text =
        prompt === undefined || prompt === '[REDACTED]'
          ? `(a prompt${length === undefined ? '' : ` of ${length} characters`}; Codex sends its text with log_user_prompt = true)`
          : prompt;
      return [session.status('busy', 'working on a prompt'), session.stepStarted(), session.text(text, 'user')];
    }
    case 'codex.tool_result': {
      const success = attrs.bool('success');
      return [
        session.tool({
          toolName: attrs.text('tool_name') ?? 'tool',
          callId: attrs.text('call_id'),
          input: attrs.text('arguments'),
          output: attrs.text('output'),
          isError: success === undefined ? undefined : !success,
          durationMs: attrs.number('duration_ms'),
          outcome: success === false ? 'failed' : 'done',
        }),
      ];
    }
    case 'codex.tool_decision': {
      const tool = attrs.text('tool_name') ?? 'tool';
      const decision = attrs.text('decision') ?? 'unknown';
      const source = attrs.text('source');
      const by = source === undefined ? '' : ` (${source})`;
      if (decision.startsWith('approved')) return [session.log('debug', `${tool} ${decision}${by}`)];
      return [
        session.tool({
          toolName: tool,
          callId: attrs.text('call_id'),
          isError: true,
          decision: 'reject',
          decisionSource: source,
          outcome: `${decision}${by}`,
        }),
      ];
    }
    case 'codex.sse_event':
    case 'codex.websocket_event':
      if (failure !== undefined) return [session.alert('medium', `Codex model stream failed (${name})`, failure)];
      if (attrs.text('event.kind') !== 'response.completed' || !attrs.has('input_token_count')) return undefined;
      return [usageOf(attrs, session)];
    case 'codex.api_request':
    case 'codex.websocket_connect':
    case 'codex.websocket_request':
      if (failure === undefined) return undefined;
      return [session.alert('medium', `Codex API error (${name})`, failure)];
    default:
      return undefined;
  }
}

/** What went wrong, when the event reports a failure. */
function failureOf(attrs: Attributes): string | undefined {
  const status = attrs.count('http.response.status_code');
  const message = attrs.text('error.message');
  if (message === undefined && (status === undefined || status < 400) && attrs.bool('success') !== false) {
    return undefined;
  }
  return `${message ?? 'request failed'}${status === undefined ? '' : ` (HTTP ${status})`}`;
}

/** OpenAI counts cached tokens inside the input tokens; usage keeps them apart, as Anthropic reports them. */
function usageOf(attrs: Attributes, session: SessionEvents): PublishInput {
  const input = attrs.count('input_token_count') ?? 0;
  const cached = attrs.count('cached_token_count') ?? 0;
  return session.usage({
    model: attrs.text('model'),
    inputTokens: Math.max(0, input - cached),
    outputTokens: attrs.count('output_token_count'),
    cacheReadTokens: cached,
    cacheCreationTokens: attrs.count('cache_write_token_count'),
    durationMs: attrs.number('duration_ms'),
    operation: 'response.completed',
  });
}

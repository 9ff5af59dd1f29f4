/**
 * Claude Code's OpenTelemetry log events (https://code.claude.com/docs/en/monitoring-usage#events) as built-in
 * events. Each event names its session (`session.id`): the session's agent and workflow are the ones its hooks
 * create. Attribute values arrive as strings ("1234", "true"), which the getters read.
 *
 *   claude_code.user_prompt        → status busy, step `main` started, the prompt as a text block
 *   claude_code.assistant_response → the response as a text block
 *   claude_code.tool_result        → one tool_use block: the call with its duration, outcome and decision
 *   claude_code.tool_decision      → reject: a tool_use block marked rejected; accept: a debug log line
 *   claude_code.api_request        → usage.recorded (tokens, cache tokens, cost, model, duration)
 *   claude_code.api_error          → system.alert
 *   anything else                  → undefined: kept as an otel.record of the session
 */
import type { PublishInput } from '@switchboard/shared';
import type { SessionEvents } from './session.js';
import type { Attributes } from './values.js';

export const claudeCodePrefix = 'claude_code.';

/** Shown instead of a prompt or response that Claude Code sent redacted. */
function redacted(what: string, length: number | undefined, variable: string): string {
  return `(${what}${length === undefined ? '' : ` of ${length} characters`}; Claude Code sends its text with ${variable}=1)`;
}

const isRedacted = (text: string) => text === '<REDACTED>' || text === '[REDACTED]';

/**
 * The events of one Claude Code log event (`name` without its `claude_code.` prefix), or undefined when it is
 * one this mapping does not know.
 */
export function mapClaudeCodeEvent(
  name: string,
  attrs: Attributes,
  session: SessionEvents,
): PublishInput[] | undefined {
  switch (name) {
    case 'user_prompt': {
      const prompt = attrs.text('prompt');
      const text =
        prompt === undefined || isRedacted(prompt)
          ? redacted('a prompt', attrs.count('prompt_length'), 'OTEL_LOG_USER_PROMPTS')
          : prompt;
      return [session.status('busy', 'working on a prompt'), session.stepStarted(), session.text(text, 'user')];
    }
    case 'assistant_response': {
      const response = attrs.text('response');
      const text =
        response === undefined || isRedacted(response)
          ? redacted('a response', attrs.count('response_length'), 'OTEL_LOG_ASSISTANT_RESPONSES')
          : response;
      return [session.text(text, 'assistant')];
    }
    case 'tool_result': {
      const success = attrs.bool('success');
      const errorType = attrs.text('error_type');
      const error = attrs.text('error');
      const decision = attrs.text('decision_type') ?? attrs.text('decision');
      return [
        session.tool({
          // `tool_name` since Claude Code 1.0.x; `name` before.
          toolName: attrs.text('tool_name') ?? attrs.text('name') ?? 'tool',
          callId: attrs.text('tool_use_id'),
          input: attrs.text('tool_input') ?? attrs.text('tool_parameters'),
          output: success === false ? (error ?? errorType) : undefined,
          isError: success === undefined ? undefined : !success,
          durationMs: attrs.number('duration_ms'),
          decision: decision === 'accept' || decision === 'reject' ? decision : undefined,
          decisionSource: attrs.text('decision_source') ?? attrs.text('source'),
          outcome: success === false ? `failed${errorType === undefined ? '' : ` (${errorType})`}` : 'done',
        }),
      ];
    }
    case 'tool_decision': {
      const tool = attrs.text('tool_name') ?? 'tool';
      const source = attrs.text('source');
      if (attrs.text('decision') !== 'reject') {
        return [session.log('debug', `${tool} accepted${source === undefined ? '' : ` (${source})`}`)];
      }
      // A rejected call never runs, so no tool_result follows: this block is the whole call.
      return [
        session.tool({
          toolName: tool,
          callId: attrs.text('tool_use_id'),
          isError: true,
          decision: 'reject',
          decisionSource: source,
          outcome: `rejected${source === undefined ? '' : ` (${source})`}`,
        }),
      ];
    }
    case 'api_request': {
      const micros = attrs.count('cost_usd_micros');
      return [
        session.usage({
          model: attrs.text('model'),
          inputTokens: attrs.count('input_tokens'),
          outputTokens: attrs.count('output_tokens'),
          cacheReadTokens: attrs.count('cache_read_tokens'),
          cacheCreationTokens: attrs.count('cache_creation_tokens'),
          costUsd: micros === undefined ? attrs.number('cost_usd') : micros / 1_000_000,
          durationMs: attrs.number('duration_ms'),
          operation: 'api_request',
        }),
      ];
    }
    case 'api_error': {
      const status = attrs.count('status_code');
      const model = attrs.text('model');
      const attempt = attrs.count('attempt');
      return [
        session.alert(
          // A refused credential does not mend itself; anything else is usually retried.
          status === 401 || status === 403 ? 'high' : 'medium',
          `Claude Code API error${status === undefined ? '' : ` ${status}`}${model === undefined ? '' : ` (${model})`}`,
          `${attrs.text('error') ?? 'no error message'}${attempt === undefined ? '' : ` (after ${attempt} attempts)`}`,
        ),
      ];
    }
    default:
      return undefined;
  }
}

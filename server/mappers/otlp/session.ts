/**
 * The events a coding agent's session is made of, as the OTLP log mappers of Claude Code and Codex build them.
 * A session is an agent and a workflow with the session's id, its main thread a step `main`: the same ids the
 * hook mapper (server/mappers/claude-code.ts) gives a Claude Code session, so hooks and telemetry of one session
 * land on one agent and one workflow.
 */
import { limits, type PublishInput } from '@switchboard/shared';
import { gist, inputPreviewChars, outputPreviewChars, promptChars } from '../claude-code.js';
import { boundedJson, cut, oneLine, safeId } from '../text.js';

/** Characters of a status reason or an alert message kept. */
const reasonChars = 1_000;

export interface ToolCall {
  toolName: string;
  callId?: string | undefined;
  /** The call's arguments as text (JSON, mostly). */
  input?: string | undefined;
  output?: unknown;
  isError?: boolean | undefined;
  durationMs?: number | undefined;
  decision?: 'accept' | 'reject' | undefined;
  decisionSource?: string | undefined;
  /** What happened, for the summary: `done`, `failed (ShellError)`, `rejected (user_reject)`. */
  outcome: string;
}

export interface Usage {
  model?: string | undefined;
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  cacheReadTokens?: number | undefined;
  cacheCreationTokens?: number | undefined;
  costUsd?: number | undefined;
  durationMs?: number | undefined;
  operation: string;
}

/** `1.2 s`, `340 ms`. */
export function took(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms >= 1000 ? ` in ${(ms / 1000).toFixed(1)} s` : ` in ${Math.round(ms)} ms`;
}

export class SessionEvents {
  readonly session: string;

  /** `at`: when the record says it happened (epoch ms), the timestamp of every event it maps to. */
  constructor(
    sessionId: string,
    private readonly agentType: string,
    private readonly source: string,
    private readonly at: number | undefined,
  ) {
    this.session = safeId(sessionId);
  }

  private event(event: PublishInput): PublishInput {
    return { ...event, source: this.source, ...(this.at !== undefined && { timestamp: new Date(this.at) }) };
  }

  status(value: 'idle' | 'busy' | 'blocked' | 'error' | 'offline', reason: string): PublishInput {
    return this.event({
      type: 'agent.status',
      data: { agentId: this.session, agentType: this.agentType, status: value, reason: cut(reason, reasonChars) },
    });
  }

  /** The session's `main` step runs from a prompt (stateless: each prompt starts it again, as the hooks do). */
  stepStarted(): PublishInput {
    return this.event({
      type: 'workflow.step_started',
      data: { workflowId: this.session, stepId: 'main', stepType: 'session', agentId: this.session },
    });
  }

  workflowStarted(parameters: Record<string, string | number | boolean | null>): PublishInput {
    return this.event({
      type: 'workflow.started',
      data: {
        workflowId: this.session,
        workflowType: this.agentType,
        initiator: this.agentType,
        parameters,
      },
    });
  }

  text(text: string, role: 'user' | 'assistant'): PublishInput {
    return this.event({
      type: 'workflow.block',
      data: {
        workflowId: this.session,
        stepId: 'main',
        agentId: this.session,
        summary: oneLine(text),
        blockType: 'text',
        payload: { text: cut(text, promptChars), ...(role === 'user' && { role }) },
      },
    });
  }

  /** A whole call in one block: it carries its duration and outcome, so no start block is waited for. */
  tool(call: ToolCall): PublishInput {
    const toolName = oneLine(call.toolName, limits.nameLength);
    const parsed = parseJson(call.input);
    const about = call.input === undefined ? '' : `: ${gist(toolName, parsed ?? call.input)}`;
    const callId = call.callId === undefined ? undefined : safeId(call.callId);
    return this.event({
      type: 'workflow.block',
      ...(call.callId !== undefined && { correlationId: call.callId }),
      data: {
        workflowId: this.session,
        stepId: 'main',
        agentId: this.session,
        summary: oneLine(`${toolName} ${call.outcome}${took(call.durationMs)}${about}`),
        blockType: 'tool_use',
        payload: {
          toolName,
          ...(callId !== undefined && callId.length <= limits.idLength && { callId }),
          ...(call.input !== undefined && { inputPreview: cut(call.input, inputPreviewChars) }),
          ...(call.output !== undefined && { output: boundedJson(call.output, outputPreviewChars) }),
          ...(call.isError !== undefined && { isError: call.isError }),
          ...(call.durationMs !== undefined && call.durationMs >= 0 && { durationMs: call.durationMs }),
          ...(call.decision !== undefined && { decision: call.decision }),
          ...(call.decisionSource !== undefined && { decisionSource: oneLine(call.decisionSource, 100) }),
        },
      },
    });
  }

  usage(usage: Usage): PublishInput {
    return this.event({
      type: 'usage.recorded',
      data: {
        agentId: this.session,
        workflowId: this.session,
        ...(usage.model !== undefined && { model: oneLine(usage.model, limits.nameLength) }),
        ...(usage.inputTokens !== undefined && { inputTokens: usage.inputTokens }),
        ...(usage.outputTokens !== undefined && { outputTokens: usage.outputTokens }),
        ...(usage.cacheReadTokens !== undefined && { cacheReadTokens: usage.cacheReadTokens }),
        ...(usage.cacheCreationTokens !== undefined && { cacheCreationTokens: usage.cacheCreationTokens }),
        ...(usage.costUsd !== undefined && usage.costUsd >= 0 && { costUsd: usage.costUsd }),
        ...(usage.durationMs !== undefined && usage.durationMs >= 0 && { durationMs: usage.durationMs }),
        operation: oneLine(usage.operation, limits.nameLength),
      },
    });
  }

  alert(severity: 'low' | 'medium' | 'high' | 'critical', title: string, message: string): PublishInput {
    return this.event({
      type: 'system.alert',
      data: {
        severity,
        title: oneLine(title, limits.nameLength),
        message: cut(message, reasonChars),
        affectedComponents: [this.agentType, `agent:${this.session}`],
      },
    });
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): PublishInput {
    return this.event({
      type: 'agent.log',
      data: { agentId: this.session, level, message: cut(message, reasonChars) },
    });
  }
}

/** A JSON object or array from text, or undefined (tool arguments arrive as JSON strings). */
function parseJson(text: string | undefined): unknown {
  if (text === undefined || !/^\s*[[{]/.test(text)) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Cut or not JSON at all: the text itself is shown.
    return undefined;
  }
}

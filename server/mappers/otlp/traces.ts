/**
 * An OTLP traces request as events. Spans that follow the GenAI semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/), by `gen_ai.operation.name`:
 *
 *   invoke_agent                    → the agent (status busy, then idle or error) and its step in the workflow;
 *                                     the outermost agent of a trace also starts and ends the workflow
 *   execute_tool                    → one tool_use block: the call with its duration, outcome, ids
 *   chat, text_completion,
 *   generate_content, embeddings    → usage.recorded (tokens by model); a failed one also a system.alert
 *   any other span                  → an otel.record
 *
 * The workflow is the trace (its id is the trace id): every span of one run lands in one workflow, and every
 * event keeps the trace id as its correlation id and the span id in its data. A span's agent is its own
 * `gen_ai.agent.id` or `gen_ai.agent.name`, else that of the nearest `invoke_agent` span above it in the same
 * request, else the service. Exporters send a span once it ends, children before their parents, so a child
 * whose parent comes in a later request is placed by what it carries itself.
 */
import { limits, type PublishInput } from '@switchboard/shared';
import { boundedJson, cut, oneLine, safeId } from '../text.js';
import { outputPreviewChars, inputPreviewChars } from '../claude-code.js';
import { digestOf, genericEvent, originOf, withKeys, type MappedRecord, type Origin } from './records.js';
import type { OtlpTraces, Span } from './schema.js';
import { took } from './session.js';
import { Attributes, enumNumber, idOf, nanosToMs, spanStatusCodes } from './values.js';

const inference = new Set(['chat', 'text_completion', 'generate_content', 'embeddings']);
/** How far up a chain of parents the agent of a span is looked for. */
const maxDepth = 64;

interface SpanInfo {
  span: Span;
  attrs: Attributes;
  origin: Origin;
}

export function mapTraces(request: OtlpTraces): MappedRecord[] {
  const spans: SpanInfo[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const origin = originOf(new Attributes(resourceSpans.resource?.attributes));
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) spans.push({ span, attrs: new Attributes(span.attributes), origin });
    }
  }
  const byId = new Map(spans.map((info) => [`${info.span.traceId}:${info.span.spanId}`.toLowerCase(), info]));
  return spans.map((info) => mapSpan(info, new Lineage(info, byId)));
}

/** A span's own agent, from its attributes. */
function ownAgent(attrs: Attributes): string | undefined {
  const id = attrs.text('gen_ai.agent.id') ?? attrs.text('gen_ai.agent.name');
  return id === undefined ? undefined : safeId(id).slice(0, limits.idLength);
}

/** What the spans above one span in this request say about it. */
class Lineage {
  /** The agent the span belongs to (its own, an ancestor's, or the service). */
  readonly agentId: string;
  /** Whether an `invoke_agent` span encloses it: then it is not the outermost agent of its trace. */
  readonly insideAgent: boolean;

  constructor(info: SpanInfo, byId: ReadonlyMap<string, SpanInfo>) {
    let agent = ownAgent(info.attrs);
    let inside = false;
    let parent = idOf(info.span.parentSpanId);
    for (let depth = 0; parent !== undefined && depth < maxDepth; depth++) {
      const above = byId.get(`${info.span.traceId.toLowerCase()}:${parent}`);
      if (above === undefined) break;
      if (above.attrs.text('gen_ai.operation.name') === 'invoke_agent') {
        inside = true;
        agent ??= ownAgent(above.attrs);
      }
      parent = idOf(above.span.parentSpanId);
    }
    this.agentId = agent ?? info.origin.service;
    this.insideAgent = inside;
  }
}

function mapSpan(info: SpanInfo, lineage: Lineage): MappedRecord {
  const { span, attrs } = info;
  const traceId = idOf(span.traceId);
  const spanId = idOf(span.spanId);
  const operation = attrs.text('gen_ai.operation.name');
  const start = nanosToMs(span.startTimeUnixNano);
  const end = nanosToMs(span.endTimeUnixNano) ?? start;
  const ids = { traceId, spanId };
  const base = `otel:span:${traceId ?? ''}:${spanId ?? digestOf(span)}`;
  const what = `span ${span.name}`;
  if (traceId === undefined || spanId === undefined) {
    // No id to follow it by: kept generically, keyed by its content.
    return { what, events: withKeys(`otel:span:${digestOf(span)}`, 'otel:span:', [generic(info, lineage, start)]) };
  }
  const context: SpanContext = {
    info,
    lineage,
    traceId,
    spanId,
    start,
    end,
    durationMs: start !== undefined && end !== undefined ? Math.max(0, end - start) : undefined,
    error: errorOf(span, attrs),
  };
  let events: PublishInput[];
  if (operation === 'invoke_agent') events = invokeAgent(context);
  else if (operation === 'execute_tool') events = [executeTool(context)];
  else if (operation !== undefined && inference.has(operation)) events = inferenceSpan(context, operation);
  else events = [generic(info, lineage, start, ids)];
  // Every event of a span can be followed to it.
  return {
    what,
    events: withKeys(
      base,
      'otel:span:',
      events.map((e) => ({ ...e, correlationId: traceId })),
    ),
  };
}

interface SpanContext {
  info: SpanInfo;
  lineage: Lineage;
  traceId: string;
  spanId: string;
  start: number | undefined;
  end: number | undefined;
  durationMs: number | undefined;
  /** What went wrong, when the span's status is an error. */
  error: { message: string; code?: string | undefined } | undefined;
}

function errorOf(span: Span, attrs: Attributes): SpanContext['error'] {
  if (enumNumber(span.status?.code, spanStatusCodes) !== 2) return undefined;
  const code = attrs.text('error.type');
  return {
    // An empty status message says nothing: the error type, or that the status alone said it.
    message: cut(nonEmpty(span.status?.message) ?? code ?? 'the span ended with an error status', 2_000),
    ...(code !== undefined && { code: oneLine(code, limits.nameLength) }),
  };
}

const nonEmpty = (text: string | undefined) => (text === '' ? undefined : text);

const at = (ms: number | undefined) => (ms === undefined ? {} : { timestamp: new Date(ms) });

function invokeAgent(c: SpanContext): PublishInput[] {
  const { attrs, origin } = c.info;
  const agentId = c.lineage.agentId;
  const agentName = attrs.text('gen_ai.agent.name');
  const agentType = oneLine(
    agentName ?? attrs.text('gen_ai.provider.name') ?? attrs.text('gen_ai.system') ?? 'agent',
    100,
  );
  const source = origin.service;
  const workflowId = c.traceId;
  const usage = tokensOf(attrs);
  const outcome = c.error === undefined ? 'finished' : `failed: ${c.error.message}`;
  const events: PublishInput[] = [];
  if (!c.lineage.insideAgent) {
    events.push({
      type: 'workflow.started',
      ...at(c.start),
      data: {
        workflowId,
        workflowType: agentType,
        initiator: oneLine(source, limits.nameLength),
        parameters: {
          traceId: c.traceId,
          spanId: c.spanId,
          conversationId: attrs.text('gen_ai.conversation.id') ?? null,
          model: attrs.text('gen_ai.request.model') ?? null,
        },
      },
    });
  }
  events.push(
    {
      type: 'agent.status',
      ...at(c.start),
      data: { agentId, agentType, status: 'busy', reason: `running in trace ${c.traceId}` },
    },
    {
      type: 'workflow.step_started',
      ...at(c.start),
      data: { workflowId, stepId: agentId, stepType: 'invoke_agent', agentId },
    },
    {
      type: 'workflow.step_completed',
      ...at(c.end),
      data: {
        workflowId,
        stepId: agentId,
        stepType: 'invoke_agent',
        ...(c.durationMs !== undefined && { duration: c.durationMs }),
        // The agent's own token counts, when it reports them: the inference spans under it are what usage counts.
        ...(usage !== undefined && { result: { usage } }),
      },
    },
    {
      type: 'agent.status',
      ...at(c.end),
      data: { agentId, agentType, status: c.error === undefined ? 'idle' : 'error', reason: cut(outcome, 1_000) },
    },
  );
  if (!c.lineage.insideAgent) {
    const duration = c.durationMs === undefined ? {} : { duration: c.durationMs };
    events.push(
      c.error === undefined
        ? { type: 'workflow.completed', ...at(c.end), data: { workflowId, ...duration } }
        : { type: 'workflow.failed', ...at(c.end), data: { workflowId, stepId: agentId, error: c.error, ...duration } },
    );
  }
  return events.map((event) => ({ ...event, source }));
}

function executeTool(c: SpanContext): PublishInput {
  const { attrs, span, origin } = c.info;
  const toolName = oneLine(attrs.text('gen_ai.tool.name') ?? span.name, limits.nameLength);
  const callId = attrs.text('gen_ai.tool.call.id');
  const input = attrs.text('gen_ai.tool.call.arguments');
  const result = attrs.values.get('gen_ai.tool.call.result');
  const outcome = c.error === undefined ? 'done' : `failed${c.error.code === undefined ? '' : ` (${c.error.code})`}`;
  const safeCall = callId === undefined ? undefined : safeId(callId);
  return {
    type: 'workflow.block',
    source: origin.service,
    ...at(c.end),
    data: {
      workflowId: c.traceId,
      stepId: c.lineage.agentId,
      agentId: c.lineage.agentId,
      summary: oneLine(`${toolName} ${outcome}${took(c.durationMs)}`),
      blockType: 'tool_use',
      payload: {
        toolName,
        // The tool call's own id where it has one that fits, else the span's: either way unique in the trace.
        callId: safeCall !== undefined && safeCall.length <= limits.idLength ? safeCall : c.spanId,
        ...(input !== undefined && { inputPreview: cut(input, inputPreviewChars) }),
        ...(result !== undefined
          ? { output: boundedJson(result, outputPreviewChars) }
          : c.error !== undefined && { output: c.error.message }),
        isError: c.error !== undefined,
        ...(c.durationMs !== undefined && { durationMs: c.durationMs }),
        traceId: c.traceId,
        spanId: c.spanId,
      },
    },
  };
}

/** The GenAI token attributes; input tokens there include cached ones, which usage keeps apart. */
function tokensOf(attrs: Attributes) {
  const input = attrs.count('gen_ai.usage.input_tokens');
  const output = attrs.count('gen_ai.usage.output_tokens');
  const cacheRead = attrs.count('gen_ai.usage.cache_read.input_tokens');
  const cacheCreation = attrs.count('gen_ai.usage.cache_creation.input_tokens');
  if (input === undefined && output === undefined && cacheRead === undefined && cacheCreation === undefined) {
    return undefined;
  }
  return {
    inputTokens: Math.max(0, (input ?? 0) - (cacheRead ?? 0) - (cacheCreation ?? 0)),
    outputTokens: output ?? 0,
    cacheReadTokens: cacheRead ?? 0,
    cacheCreationTokens: cacheCreation ?? 0,
  };
}

function inferenceSpan(c: SpanContext, operation: string): PublishInput[] {
  const { attrs, origin } = c.info;
  const model = attrs.text('gen_ai.response.model') ?? attrs.text('gen_ai.request.model');
  const events: PublishInput[] = [
    {
      type: 'usage.recorded',
      source: origin.service,
      ...at(c.end),
      data: {
        agentId: c.lineage.agentId,
        workflowId: c.traceId,
        ...(model !== undefined && { model: oneLine(model, limits.nameLength) }),
        ...tokensOf(attrs),
        ...(c.durationMs !== undefined && { durationMs: c.durationMs }),
        operation,
        traceId: c.traceId,
        spanId: c.spanId,
      },
    },
  ];
  if (c.error !== undefined) {
    events.push({
      type: 'system.alert',
      source: origin.service,
      ...at(c.end),
      data: {
        severity: 'medium',
        title: oneLine(`${operation} failed${model === undefined ? '' : ` (${model})`}`, limits.nameLength),
        message: c.error.message,
        affectedComponents: [oneLine(origin.service, limits.nameLength), `agent:${c.lineage.agentId}`],
      },
    });
  }
  return events;
}

function generic(
  info: SpanInfo,
  lineage: Lineage,
  start: number | undefined,
  ids: { traceId?: string | undefined; spanId?: string | undefined } = {},
): PublishInput {
  const { span, attrs, origin } = info;
  const end = nanosToMs(span.endTimeUnixNano);
  // Only a span inside an agent's run belongs to that agent and its workflow; any other is the service's.
  const agent = lineage.agentId === origin.service ? undefined : lineage.agentId;
  return genericEvent({
    signal: 'span',
    name: span.name,
    origin,
    attributes: attrs,
    fields: {
      ...(span.kind !== undefined && { kind: span.kind }),
      ...(start !== undefined && end !== undefined && { durationMs: Math.max(0, end - start) }),
      ...(span.status?.code !== undefined && { status: span.status.code }),
      ...(span.status?.message !== undefined && { statusMessage: span.status.message }),
      ...(span.events !== undefined && span.events.length > 0 && { events: span.events.length }),
      ...(ids.spanId !== undefined &&
        idOf(span.parentSpanId) !== undefined && { parentSpanId: idOf(span.parentSpanId) }),
    },
    agentId: agent,
    workflowId: agent === undefined ? undefined : ids.traceId,
    traceId: ids.traceId,
    spanId: ids.spanId,
    at: start,
  });
}

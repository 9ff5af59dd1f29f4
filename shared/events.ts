/**
 * The event contract: one zod schema per event type, the publish input (a discriminated union on `type`) and
 * the stored envelope. Both ends import these; the server validates every write against them.
 *
 * Data objects are strict: an unknown field is rejected rather than silently dropped, so a producer learns at
 * once that the server does not know what it sent.
 */
import { z } from 'zod';
import { alphabetProblem, idAlphabet } from './alphabet.js';
import { jsonBytesAtMost, limits } from './limits.js';

// ── 1. Building blocks ──────────────────────────────────────────────────────────────────────────────────────

/**
 * Agent, workflow, step and task ids: the alphabet of topics (shared/alphabet.ts) without `*`, so an id can
 * never act as a topic wildcard and every topic built from ids is one a pattern can name.
 */
export const entityIdSchema = z
  .string()
  .min(1)
  .max(limits.idLength)
  .regex(idAlphabet, {
    error: (issue) => {
      const problem = alphabetProblem(String(issue.input));
      return problem === undefined ? 'ids may not contain "*" (the topic wildcard)' : `id ${problem}`;
    },
  });

/** Keys and correlation ids: identifiers, so no control characters (which no store should hold in a column). */
const identifier = z
  .string()
  .min(1)
  .max(limits.idLength)
  .regex(/^\P{Cc}*$/u, 'may not contain control characters (U+0000–U+001F, U+007F–U+009F)');

/** An idempotency key (an event's `key`, and the key an `ingest` batch goes `after`). */
export const keySchema = identifier;

/** Names may be kept in columns too (an agent's type, a workflow's): no NUL, which PostgreSQL text cannot hold. */
export const nameSchema = z
  .string()
  .min(1)
  .max(limits.nameLength)
  .refine((text) => !text.includes('\u0000'), 'may not contain U+0000 (NUL)');
const name = nameSchema;
const text = z.string().max(limits.textLength);
const oneLine = z
  .string()
  .min(1)
  .max(limits.nameLength)
  .regex(/^[^\r\n]*$/, 'must be a single line');
const percent = z.number().min(0).max(100);
const count = z.int().min(0);
const milliseconds = z.number().min(0);
/** A W3C trace id and span id as OTLP's JSON writes them: lower-case hex, 32 and 16 digits. */
const traceId = z.string().regex(/^[0-9a-f]{32}$/, 'a trace id is 32 lower-case hex digits');
const spanId = z.string().regex(/^[0-9a-f]{16}$/, 'a span id is 16 lower-case hex digits');
/** Free-form JSON (tool inputs, results, parameters): any JSON value, nothing superjson-only like Map or Date. */
const json = z.json();
const jsonObject = z.record(z.string(), json);

// ── 2. Agent events ─────────────────────────────────────────────────────────────────────────────────────────

export const agentStatusValues = ['idle', 'busy', 'blocked', 'error', 'offline'] as const;

export const agentStatusData = z.strictObject({
  agentId: entityIdSchema,
  agentType: name,
  status: z.enum(agentStatusValues),
  currentTask: z
    .strictObject({ taskId: entityIdSchema, description: text.optional(), progress: percent })
    .nullable()
    .optional(),
  metrics: z
    .strictObject({
      cpu: percent.optional(),
      memory: z.number().min(0).optional().describe('MiB'),
      tasksCompleted: count.optional(),
      uptime: z.number().min(0).optional().describe('seconds'),
    })
    .optional(),
  reason: text.optional(),
});

export const agentTaskUpdateData = z.strictObject({
  agentId: entityIdSchema,
  taskId: entityIdSchema,
  status: z.enum(['queued', 'started', 'progress', 'completed', 'failed', 'cancelled']),
  progress: percent.optional(),
  message: text.optional(),
});

export const agentLogData = z.strictObject({
  agentId: entityIdSchema,
  level: z.enum(['debug', 'info', 'warn', 'error']),
  message: text,
  context: jsonObject.optional(),
});

export const agentMetricData = z.strictObject({
  agentId: entityIdSchema,
  name,
  value: z.number(),
  unit: name.optional(),
});

export const agentErrorData = z.strictObject({
  agentId: entityIdSchema,
  message: text,
  code: name.optional(),
  stack: text.optional(),
  recoverable: z.boolean().optional(),
});

// ── 3. Workflow events ──────────────────────────────────────────────────────────────────────────────────────

/** Where a workflow stands: running from its first event until `workflow.completed` or `workflow.failed`. */
export const workflowStatusValues = ['running', 'completed', 'failed'] as const;
export type WorkflowStatus = (typeof workflowStatusValues)[number];

export const workflowStartedData = z.strictObject({
  workflowId: entityIdSchema,
  workflowType: name,
  initiator: name.optional(),
  parameters: jsonObject.optional(),
  steps: z
    .array(z.strictObject({ stepId: entityIdSchema, stepType: name.optional(), name: name.optional() }))
    .max(limits.stepsPerWorkflow)
    .optional(),
  estimatedDuration: milliseconds.optional(),
});

export const workflowStepStartedData = z.strictObject({
  workflowId: entityIdSchema,
  stepId: entityIdSchema,
  stepType: name,
  agentId: entityIdSchema.optional(),
  input: json.optional(),
});

export const workflowStepCompletedData = z.strictObject({
  workflowId: entityIdSchema,
  stepId: entityIdSchema,
  stepType: name,
  result: json.optional(),
  /** Absent when the producer cannot tell (Claude Code's hooks carry no times; the events' timestamps do). */
  duration: milliseconds.optional(),
  nextStep: entityIdSchema.nullable().optional(),
});

export const workflowCompletedData = z.strictObject({
  workflowId: entityIdSchema,
  result: json.optional(),
  duration: milliseconds.optional(),
});

export const workflowFailedData = z.strictObject({
  workflowId: entityIdSchema,
  stepId: entityIdSchema.optional(),
  error: z.strictObject({ message: text, code: name.optional() }),
  duration: milliseconds.optional(),
});

const blockBase = {
  workflowId: entityIdSchema,
  stepId: entityIdSchema,
  agentId: entityIdSchema.optional(),
  /** What a one-line log or a collapsed dashboard row shows. */
  summary: oneLine,
};

/** Agent output inside a workflow step: prose, a tool call, or reasoning. */
export const workflowBlockData = z.discriminatedUnion('blockType', [
  z.strictObject({
    ...blockBase,
    blockType: z.literal('text'),
    /** `role`: who wrote it, `user` for a prompt; absent, the agent (`assistant`). */
    payload: z.strictObject({ text, role: z.enum(['user', 'assistant']).optional() }),
  }),
  z.strictObject({
    ...blockBase,
    blockType: z.literal('tool_use'),
    payload: z.strictObject({
      toolName: name,
      /**
       * The call this block belongs to: a call's start and its result are two blocks with the same id (Claude
       * Code's PreToolUse and PostToolUse), which readers pair; the duration is the difference of their timestamps.
       */
      callId: entityIdSchema.optional(),
      inputPreview: text.optional(),
      output: json.optional(),
      isError: z.boolean().optional(),
      /** How long the call took, when the producer measured it (a block that carries it is the whole call). */
      durationMs: milliseconds.optional(),
      /** Whether the call was allowed to run, and who decided (Claude Code's `config`, `user_temporary`, ...). */
      decision: z.enum(['accept', 'reject']).optional(),
      decisionSource: name.optional(),
      /** The span the call was reported in (OpenTelemetry), so that it can be followed in a tracing tool. */
      traceId: traceId.optional(),
      spanId: spanId.optional(),
    }),
  }),
  z.strictObject({ ...blockBase, blockType: z.literal('thinking'), payload: z.strictObject({ text }) }),
]);

/**
 * Whether a tool-use block says how its call ended (an output, whether it failed, or how long it took: a result,
 * or a whole call), rather than only that it started. Readers that pair a call's blocks (the AG-UI stream, the
 * dashboard) ask this one rule.
 */
export function endsToolCall(payload: { output?: unknown; isError?: boolean; durationMs?: number }): boolean {
  return payload.output !== undefined || payload.isError !== undefined || payload.durationMs !== undefined;
}

// ── 4. TDD events ───────────────────────────────────────────────────────────────────────────────────────────

export const tddPhaseValues = ['red', 'green', 'refactor'] as const;
export type TddPhase = (typeof tddPhaseValues)[number];
const tddPhase = z.enum(tddPhaseValues);

const testCounts = z.strictObject({ total: count, passing: count, failing: count, skipped: count });
const coverage = z.strictObject({ lines: percent, branches: percent, functions: percent, statements: percent });

export const tddPhaseChangedData = z.strictObject({
  agentId: entityIdSchema,
  taskId: entityIdSchema,
  previousPhase: tddPhase.nullable().optional(),
  currentPhase: tddPhase,
  testResults: testCounts.optional(),
  coverage: coverage.optional(),
  duration: milliseconds.optional(),
});

export const tddTestResultData = z.strictObject({
  agentId: entityIdSchema,
  taskId: entityIdSchema,
  testName: name,
  status: z.enum(['passed', 'failed', 'skipped']),
  duration: milliseconds.optional(),
  message: text.optional(),
});

export const tddCoverageUpdateData = z.strictObject({
  agentId: entityIdSchema,
  taskId: entityIdSchema,
  coverage,
});

// ── 5. System events ────────────────────────────────────────────────────────────────────────────────────────

export const systemNotificationData = z.strictObject({
  level: z.enum(['info', 'warning', 'error']),
  title: name,
  message: text,
});

export const systemAlertData = z.strictObject({
  severity: z.enum(['low', 'medium', 'high', 'critical']),
  title: name,
  message: text,
  affectedComponents: z.array(name).max(100),
});

// ── 6. Usage and OpenTelemetry records ──────────────────────────────────────────────────────────────────────

/**
 * What one model request used: tokens and cost, per event. Topic `agent:{agentId}`. Totals per agent, per
 * workflow and per model are kept beside the log (shared/usage.ts); a field a producer does not know is absent,
 * which counts as 0.
 */
export const usageRecordedData = z.strictObject({
  agentId: entityIdSchema,
  /** The session or run the request belongs to: its totals are kept per workflow too. */
  workflowId: entityIdSchema.optional(),
  model: name.optional(),
  /** Input tokens not read from a cache. */
  inputTokens: count.optional(),
  outputTokens: count.optional(),
  cacheReadTokens: count.optional(),
  cacheCreationTokens: count.optional(),
  /** As the producer estimated it (Claude Code reports it; most others do not). */
  costUsd: z.number().min(0).max(1_000_000).optional(),
  durationMs: milliseconds.optional(),
  /** The request as its producer names it (`api_request`, `chat`, ...). */
  operation: name.optional(),
  traceId: traceId.optional(),
  spanId: spanId.optional(),
});

/**
 * An OpenTelemetry record (log record, span or metric point) that no mapping turns into another event: kept,
 * never dropped, with bounded previews of its body and attributes. Topic `otel:{service}`.
 */
export const otelRecordData = z.strictObject({
  signal: z.enum(['log', 'span', 'metric']),
  /** The event name, span name or metric name. */
  name,
  /** The producer's `service.name`, made an id (whitespace and `*` replaced). */
  service: entityIdSchema,
  /** The agent and workflow the record belongs to, where the mapping can tell. */
  agentId: entityIdSchema.optional(),
  workflowId: entityIdSchema.optional(),
  traceId: traceId.optional(),
  spanId: spanId.optional(),
  /** A log record's body or a metric point's value, as text, cut to a preview. */
  body: text.optional(),
  /** The record's attributes (and a span's or point's own fields), values cut to previews. */
  attributes: jsonObject.optional(),
  /** Something was cut: the preview is not the whole record. */
  truncated: z.boolean().optional(),
});

// ── 7. The publish input: a discriminated union on `type` ───────────────────────────────────────────────────

/** The form a timestamp takes over plain JSON, shown by every refusal of one. */
const timestampForm =
  'an ISO 8601 date-time with its UTC offset, such as 2026-12-04T10:15:00Z or 2026-12-04T11:15:00.250+01:00';

/** Why a timestamp too far ahead is refused, how far ahead it is, and what to do. */
function aheadOfClock(date: Date): string {
  const minutes = (date.getTime() - Date.now()) / 60_000;
  const ahead =
    minutes < 120
      ? `${Math.ceil(minutes)} min`
      : minutes < 2_880
        ? `${Math.round(minutes / 60)} h`
        : `${Math.round(minutes / 1_440)} days`;
  return (
    `${date.toISOString()} is ${ahead} ahead of the server's clock; at most ${limits.clockSkewMs / 60_000} min ` +
    `ahead is accepted (limits.clockSkewMs): fix the producer's clock, or leave timestamp out and the server sets it`
  );
}

/** Envelope fields a producer may set; the server assigns `id` and `topic`, and `timestamp` when absent. */
export const producerFields = {
  /** Idempotency key: publishing the same key again returns the original event and stores nothing new. */
  key: keySchema.optional(),
  source: name.optional(),
  correlationId: identifier.optional(),
  /**
   * When the event happened. Over superjson a `Date`; over plain JSON an ISO-8601 string with its offset. At most
   * `limits.clockSkewMs` ahead of the server's clock.
   */
  timestamp: z
    .union([z.date(), z.iso.datetime({ offset: true }).transform((s) => new Date(s))], {
      error: (issue) => `must be ${timestampForm}; got ${JSON.stringify(issue.input)}`,
    })
    .refine((date) => date.getTime() - Date.now() <= limits.clockSkewMs, {
      error: (issue) => aheadOfClock(issue.input as Date),
    })
    .optional(),
};

/** One event type's publish input: its `type` literal, its data schema and the producer's envelope fields. */
export const eventSchema = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.strictObject({ type: z.literal(type), data, ...producerFields });
const event = eventSchema;

const utf8 = new TextEncoder();

/** Field limits bound each string; this bounds the whole payload, free-form JSON included. */
export function checkDataSize(input: { data: unknown }, ctx: z.RefinementCtx): void {
  // Most events are far under the limit: a bound found by walking the value says so without building its text
  // (the store builds it once, to write it).
  if (jsonBytesAtMost(input.data, limits.dataBytes) <= limits.dataBytes) return;
  const json = JSON.stringify(input.data);
  // A UTF-16 unit is at most 3 bytes of UTF-8: most events are counted without encoding them.
  if (json.length * 3 <= limits.dataBytes) return;
  const size = utf8.encode(json).length;
  if (size > limits.dataBytes) {
    ctx.addIssue({
      code: 'custom',
      path: ['data'],
      message: `data is ${size} bytes; the limit is ${limits.dataBytes} bytes per event (split it or store a reference)`,
    });
  }
}

export const publishInputSchema = z
  .discriminatedUnion('type', [
    event('agent.status', agentStatusData),
    event('agent.task_update', agentTaskUpdateData),
    event('agent.log', agentLogData),
    event('agent.metric', agentMetricData),
    event('agent.error', agentErrorData),
    event('workflow.started', workflowStartedData),
    event('workflow.step_started', workflowStepStartedData),
    event('workflow.step_completed', workflowStepCompletedData),
    event('workflow.completed', workflowCompletedData),
    event('workflow.failed', workflowFailedData),
    event('workflow.block', workflowBlockData),
    event('tdd.phase_changed', tddPhaseChangedData),
    event('tdd.test_result', tddTestResultData),
    event('tdd.coverage_update', tddCoverageUpdateData),
    event('system.notification', systemNotificationData),
    event('system.alert', systemAlertData),
    event('usage.recorded', usageRecordedData),
    event('otel.record', otelRecordData),
  ])
  .superRefine(checkDataSize);

/** What a producer sends to `publish` (one element of `publishBatch`). */
export type PublishInput = z.input<typeof publishInputSchema>;
/** A publish input after validation: defaults applied, timestamps as `Date`. */
export type ValidEvent = z.output<typeof publishInputSchema>;
export type EventType = ValidEvent['type'];

export const eventTypes = publishInputSchema.options.map((o) => o.shape.type.value) as readonly EventType[];
export const eventTypeSchema = z.enum(eventTypes as [EventType, ...EventType[]]);

// ── 8. The stored envelope ──────────────────────────────────────────────────────────────────────────────────

export interface EnvelopeFields {
  /** Server-assigned, strictly increasing across all events (a decimal string): the resume cursor. */
  id: string;
  /** Derived from the event: `agent:{agentId}`, `workflow:{workflowId}`, `tdd:{taskId}` or `system`. */
  topic: string;
  timestamp: Date;
  key?: string;
  source?: string;
  correlationId?: string;
}

type ToEnvelope<E> = E extends { type: infer T; data: infer D } ? EnvelopeFields & { type: T; data: D } : never;

/** A stored event as every read and every subscription returns it; narrow on `type` to get typed `data`. */
export type EventEnvelope = ToEnvelope<ValidEvent>;
export type EnvelopeOf<T extends EventType> = Extract<EventEnvelope, { type: T }>;

/** Any stored event, whatever catalogue wrote it (an older one may have defined types this one does not). */
export type AnyEnvelope = EnvelopeFields & { type: string; data: unknown };

/**
 * What the `ingest` mutation and `POST /ingest` answer: the stored events' ids in input order (an event whose key
 * was stored before answers the original's id). For writers that need no envelope back.
 */
export interface IngestReply {
  ids: string[];
}

export const ingestReply = (envelopes: readonly Pick<EnvelopeFields, 'id'>[]): IngestReply => ({
  ids: envelopes.map((e) => e.id),
});

/** A type guard for envelopes of the given types: `events.filter(isEventOf(['agent.status']))`. */
export function isEventOf<const T extends EventType>(
  types: readonly T[],
): (event: AnyEnvelope) => event is EnvelopeOf<T> {
  const set = new Set<string>(types);
  return (event): event is EnvelopeOf<T> => set.has(event.type);
}

/**
 * Sent to a subscriber whose `lastEventId` this log cannot continue: the events after it were deleted by
 * retention (`reason: 'retention'`), or the cursor belongs to another log (`reason: 'epoch'`: its epoch is not
 * this store's, so its ids mean nothing here). Instead of a silent gap or a silent jump it gets this, then what
 * follows: after retention the current state (for `agentStatus`, `workflowEvents` and `tddPhase`) and everything
 * after; after an epoch reset what a subscriber from `"0"` gets, which is everything this log holds (or, once
 * retention has deleted some, the current state and everything after). Its `id` is the retention watermark.
 */
export interface StreamReset {
  id: string;
  type: 'stream.reset';
  topic: 'system';
  timestamp: Date;
  data: {
    reason: 'retention' | 'epoch';
    /** The cursor the subscriber asked to resume after, as it sent it. */
    requestedAfter: string;
    /** Every event up to this id that is not someone's current state has been deleted. */
    retainedAfter: string;
  };
}

/** What a subscription yields: stored events, and a reset notice when this log cannot continue its cursor. */
export type StreamItem = EventEnvelope | StreamReset;

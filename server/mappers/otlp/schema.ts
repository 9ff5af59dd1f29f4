/**
 * The OTLP export requests (logs, traces, metrics) in OTLP/JSON's shape: field names in lowerCamelCase, trace and
 * span ids as hex, 64-bit integers as decimal strings or numbers, enums as integers (or their names). A protobuf
 * request is decoded into the same shape (server/transports/otlp/decode.ts), so one schema checks both, and
 * fields this schema does not name are ignored, as the OTLP specification asks of receivers.
 * https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding
 */
import { z } from 'zod';

/** A 64-bit integer: OTLP/JSON writes it as a decimal string; a number is taken too. */
const int64 = z.union([z.string().regex(/^-?\d{1,20}$/, 'a 64-bit integer as a decimal string'), z.int()]);
/** Nanoseconds since the epoch; 0 or absent means unknown. */
const nanos = z.union([z.string().regex(/^\d{1,20}$/, 'nanoseconds as a decimal string'), z.int().min(0)]);
/**
 * A double: any number, NaN and the infinities included (a decoded protobuf holds them as numbers), or the
 * strings proto3's JSON writes them as.
 */
const double = z.union([
  z.custom<number>((value) => typeof value === 'number', 'a number'),
  z.enum(['NaN', 'Infinity', '-Infinity']),
]);
/** Hex, as OTLP/JSON writes trace and span ids; empty means absent. */
const hexId = (digits: number) => z.string().regex(new RegExp(`^([0-9a-fA-F]{${digits}})?$`), `${digits} hex digits`);
/** An enum as its number, or as its name (`SPAN_KIND_SERVER`), which some encoders write. */
const enumValue = z.union([z.int(), z.string().max(64)]);

// Recursive through getters (zod's way for recursive objects, which it validates faster than through z.lazy).
const anyValue = z.object({
  stringValue: z.string().optional(),
  boolValue: z.boolean().optional(),
  intValue: int64.optional(),
  doubleValue: double.optional(),
  get arrayValue() {
    return z.object({ values: z.array(anyValue).optional() }).optional();
  },
  get kvlistValue() {
    return z.object({ values: z.array(keyValue).optional() }).optional();
  },
  bytesValue: z.string().optional(),
});
const keyValue = z.object({
  key: z.string(),
  get value() {
    return anyValue.optional();
  },
});
const attributes = z.array(keyValue).optional();

const resource = z.object({ attributes }).optional();
const scope = z.object({ name: z.string().optional(), version: z.string().optional(), attributes }).optional();

// ── Logs ──

const logRecord = z.object({
  timeUnixNano: nanos.optional(),
  observedTimeUnixNano: nanos.optional(),
  severityNumber: enumValue.optional(),
  severityText: z.string().optional(),
  body: anyValue.optional(),
  attributes,
  traceId: hexId(32).optional(),
  spanId: hexId(16).optional(),
  eventName: z.string().optional(),
});

export const otlpLogsSchema = z.object({
  resourceLogs: z
    .array(
      z.object({
        resource,
        scopeLogs: z.array(z.object({ scope, logRecords: z.array(logRecord).optional() })).optional(),
      }),
    )
    .optional(),
});

// ── Traces ──

const span = z.object({
  traceId: hexId(32),
  spanId: hexId(16),
  parentSpanId: hexId(16).optional(),
  name: z.string(),
  kind: enumValue.optional(),
  startTimeUnixNano: nanos.optional(),
  endTimeUnixNano: nanos.optional(),
  attributes,
  events: z.array(z.object({ timeUnixNano: nanos.optional(), name: z.string().optional(), attributes })).optional(),
  status: z.object({ message: z.string().optional(), code: enumValue.optional() }).optional(),
});

export const otlpTracesSchema = z.object({
  resourceSpans: z
    .array(
      z.object({
        resource,
        scopeSpans: z.array(z.object({ scope, spans: z.array(span).optional() })).optional(),
      }),
    )
    .optional(),
});

// ── Metrics ──

const numberPoint = z.object({
  attributes,
  startTimeUnixNano: nanos.optional(),
  timeUnixNano: nanos.optional(),
  asDouble: double.optional(),
  asInt: int64.optional(),
});
/** Histograms, exponential histograms and summaries: kept generically, so only what a preview shows is read. */
const distributionPoint = z.object({
  attributes,
  startTimeUnixNano: nanos.optional(),
  timeUnixNano: nanos.optional(),
  count: int64.optional(),
  sum: double.optional(),
  min: double.optional(),
  max: double.optional(),
});

const metric = z.object({
  name: z.string(),
  description: z.string().optional(),
  unit: z.string().optional(),
  gauge: z.object({ dataPoints: z.array(numberPoint).optional() }).optional(),
  sum: z
    .object({
      dataPoints: z.array(numberPoint).optional(),
      aggregationTemporality: enumValue.optional(),
      isMonotonic: z.boolean().optional(),
    })
    .optional(),
  histogram: z
    .object({ dataPoints: z.array(distributionPoint).optional(), aggregationTemporality: enumValue.optional() })
    .optional(),
  exponentialHistogram: z
    .object({ dataPoints: z.array(distributionPoint).optional(), aggregationTemporality: enumValue.optional() })
    .optional(),
  summary: z.object({ dataPoints: z.array(distributionPoint).optional() }).optional(),
});

export const otlpMetricsSchema = z.object({
  resourceMetrics: z
    .array(
      z.object({
        resource,
        scopeMetrics: z.array(z.object({ scope, metrics: z.array(metric).optional() })).optional(),
      }),
    )
    .optional(),
});

export type OtlpLogs = z.output<typeof otlpLogsSchema>;
export type OtlpTraces = z.output<typeof otlpTracesSchema>;
export type OtlpMetrics = z.output<typeof otlpMetricsSchema>;
export type AnyValue = z.output<typeof anyValue>;
export type KeyValue = z.output<typeof keyValue>;
export type LogRecord = z.output<typeof logRecord>;
export type Span = z.output<typeof span>;
export type Metric = z.output<typeof metric>;
export type NumberPoint = z.output<typeof numberPoint>;
export type DistributionPoint = z.output<typeof distributionPoint>;
export type Scope = z.output<typeof scope>;

/** The three signals, by the path they are posted to. */
export const otlpSignals = {
  logs: otlpLogsSchema,
  traces: otlpTracesSchema,
  metrics: otlpMetricsSchema,
} as const;
export type OtlpSignal = keyof typeof otlpSignals;

/**
 * What every OTLP mapping shares: where a record came from (its resource's service), what a record maps to (one
 * `MappedRecord` per log record, span or data point, so a rejection counts records as OTLP does), the
 * idempotency keys, and the generic `otel.record` for anything no mapping claims.
 */
import { createHash } from 'node:crypto';
import { limits, type PublishInput } from '@switchboard/shared';
import { boundedKey, cut, oneLine, safeId } from '../text.js';
import type { AnyValue } from './schema.js';
import { attributePreview, plainValue, type Attributes } from './values.js';

/** Where a record came from: its resource's attributes and `service.name` (as an id: the `otel:` topic). */
export interface Origin {
  resource: Attributes;
  service: string;
}

export function originOf(resource: Attributes): Origin {
  const name = resource.text('service.name') ?? 'unknown_service';
  return { resource, service: safeId(name).slice(0, limits.idLength) };
}

/** One OTLP record (log record, span or data point) and the events it maps to, all stored or none. */
export interface MappedRecord {
  /** The record in a few words, for a rejection message: `log claude_code.tool_result`. */
  what: string;
  events: PublishInput[];
}

/** Room kept in a key for `:<n>`, the event's place in its record's mapping. */
const keySuffixChars = 4;

/** Each event's key: `base:<n>`, the base made to fit (a digest when it would not). */
export function withKeys(base: string, prefix: string, events: PublishInput[]): PublishInput[] {
  const key = boundedKey(base, prefix, keySuffixChars);
  return events.map((event, i) => ({ ...event, key: `${key}:${i}` }));
}

/** A digest of what identifies a record when it names no id of its own: an exporter's retry repeats it exactly. */
export function digestOf(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 48);
}

/** Characters of a body kept in a generic record. */
const bodyChars = 4_000;

export interface GenericRecord {
  signal: 'log' | 'span' | 'metric';
  name: string;
  origin: Origin;
  /** The record's attributes; `fields` are the record's own fields worth keeping (a span's kind, a point's unit). */
  attributes: Attributes;
  fields?: Record<string, unknown>;
  body?: string | undefined;
  agentId?: string | undefined;
  workflowId?: string | undefined;
  traceId?: string | undefined;
  spanId?: string | undefined;
  /** Epoch ms. */
  at: number | undefined;
}

/** The `otel.record` event of a record no mapping claims: never dropped, previews bounded. */
export function genericEvent(record: GenericRecord): PublishInput {
  const values = new Map<string, unknown>([...Object.entries(record.fields ?? {}), ...record.attributes.values]);
  const { preview, truncated } = attributePreview(values);
  const body = record.body === undefined ? undefined : cut(record.body, bodyChars);
  return {
    type: 'otel.record',
    source: 'otlp',
    ...(record.traceId !== undefined && { correlationId: record.traceId }),
    ...(record.at !== undefined && { timestamp: new Date(record.at) }),
    data: {
      signal: record.signal,
      name: oneLine(record.name, limits.nameLength),
      service: record.origin.service,
      ...(record.agentId !== undefined && { agentId: record.agentId }),
      ...(record.workflowId !== undefined && { workflowId: record.workflowId }),
      ...(record.traceId !== undefined && { traceId: record.traceId }),
      ...(record.spanId !== undefined && { spanId: record.spanId }),
      ...(body !== undefined && { body }),
      ...(Object.keys(preview).length > 0 && { attributes: preview }),
      ...((truncated || body !== record.body) && { truncated: true }),
    },
  };
}

/** The text of a log record's body: a string as it is, anything else as JSON. */
export function bodyText(body: AnyValue | undefined): string | undefined {
  const value = plainValue(body);
  return value === undefined || typeof value === 'string' ? value : JSON.stringify(value);
}

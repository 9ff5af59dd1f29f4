/**
 * Envelopes from stored rows and from freshly appended events: the one mapping every store uses, so an event
 * reads back the same from SQLite and from PostgreSQL.
 */
import type { EventEnvelope, ValidEvent } from '@switchboard/shared';

/** The columns an envelope is made of, as every store reads them (`data` is the validated object as JSON). */
export interface EnvelopeRow {
  id: number;
  type: string;
  topic: string;
  timestamp: Date;
  key: string | null;
  source: string | null;
  correlationId: string | null;
  data: string;
}

/** A read envelope's row: what its JSON text is written from, without parsing and encoding `data` again. */
const rows = new WeakMap<object, EnvelopeRow>();

/**
 * Rows were validated against the contract when they were written, so reading them back as envelopes is the
 * one place a cast is honest. `data` is parsed on first use: a replay that only forwards the event (most of
 * them) never parses it, and its frame splices the stored text instead (`storedEnvelopeJson`).
 */
export function envelopeOfRow(row: EnvelopeRow): EventEnvelope {
  let data: unknown;
  let parsed = false;
  const envelope: Record<string, unknown> = {
    id: String(row.id),
    type: row.type,
    topic: row.topic,
    timestamp: row.timestamp,
    get data(): unknown {
      if (!parsed) {
        data = JSON.parse(row.data);
        parsed = true;
      }
      return data;
    },
  };
  if (row.key !== null) envelope.key = row.key;
  if (row.source !== null) envelope.source = row.source;
  if (row.correlationId !== null) envelope.correlationId = row.correlationId;
  rows.set(envelope, row);
  return envelope as unknown as EventEnvelope;
}

/**
 * The JSON text of an envelope read from the store, as the transformer writes it (`encode`, with the timestamp
 * as its ISO string and `data` as stored): undefined for any other value. Frames splice it into superjson's
 * format with `encodedWithOneDate`; test/core/envelope.test.ts checks that the bytes are the same as encoding.
 */
export function storedEnvelopeJson(value: unknown): string | undefined {
  const row = typeof value === 'object' && value !== null ? rows.get(value) : undefined;
  if (row === undefined || Number.isNaN(row.timestamp.getTime())) return undefined;
  let json = `{"id":"${row.id}","type":${JSON.stringify(row.type)},"topic":${JSON.stringify(row.topic)},"timestamp":"${row.timestamp.toISOString()}","data":${row.data}`;
  if (row.key !== null) json += `,"key":${JSON.stringify(row.key)}`;
  if (row.source !== null) json += `,"source":${JSON.stringify(row.source)}`;
  if (row.correlationId !== null) json += `,"correlationId":${JSON.stringify(row.correlationId)}`;
  return `${json}}`;
}

/** The envelope of an event just stored with this id, topic and timestamp: the same object the producer sent. */
export function envelopeOfEvent(event: ValidEvent, id: number, topic: string, timestamp: Date): EventEnvelope {
  const envelope: Record<string, unknown> = { id: String(id), type: event.type, topic, timestamp, data: event.data };
  if (event.key !== undefined) envelope.key = event.key;
  if (event.source !== undefined) envelope.source = event.source;
  if (event.correlationId !== undefined) envelope.correlationId = event.correlationId;
  return envelope as unknown as EventEnvelope;
}

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

/**
 * Rows were validated against the contract when they were written, so reading them back as envelopes is the
 * one place a cast is honest.
 */
export function envelopeOfRow(row: EnvelopeRow): EventEnvelope {
  const envelope: Record<string, unknown> = {
    id: String(row.id),
    type: row.type,
    topic: row.topic,
    timestamp: row.timestamp,
    data: JSON.parse(row.data) as unknown,
  };
  if (row.key !== null) envelope.key = row.key;
  if (row.source !== null) envelope.source = row.source;
  if (row.correlationId !== null) envelope.correlationId = row.correlationId;
  return envelope as unknown as EventEnvelope;
}

/** The envelope of an event just stored with this id, topic and timestamp: the same object the producer sent. */
export function envelopeOfEvent(event: ValidEvent, id: number, topic: string, timestamp: Date): EventEnvelope {
  const envelope: Record<string, unknown> = { id: String(id), type: event.type, topic, timestamp, data: event.data };
  if (event.key !== undefined) envelope.key = event.key;
  if (event.source !== undefined) envelope.source = event.source;
  if (event.correlationId !== undefined) envelope.correlationId = event.correlationId;
  return envelope as unknown as EventEnvelope;
}

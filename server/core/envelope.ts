/**
 * Envelopes from stored rows and from freshly appended events: the one mapping every store uses, so an event
 * reads back the same from SQLite and from PostgreSQL.
 */
import { isPlainJson, type EventEnvelope, type ValidEvent } from '@switchboard/shared';

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
 * A read envelope's `data` as stored (what its JSON text is written from, without parsing and encoding it again),
 * and the value once something has parsed it. Both are non-enumerable properties under symbols of this module:
 * a spread, `Object.keys`, JSON and superjson never see them, and a copy made by spreading is a plain envelope.
 * (A WeakMap from envelope to text did the same at about twice the cost per replayed event, its entries being
 * extra work for every garbage collection.)
 */
const storedText = Symbol('storedText');
const parsedData = Symbol('parsedData');

interface Stored {
  [storedText]?: string;
  [parsedData]?: unknown;
}

/** `data` of every read envelope: one accessor for all of them, so they share their shape. */
const dataAccessor: PropertyDescriptor = {
  get(this: Stored): unknown {
    if (!(parsedData in this)) {
      Object.defineProperty(this, parsedData, { value: JSON.parse(this[storedText] ?? 'null') as unknown });
    }
    return this[parsedData];
  },
  enumerable: true,
  configurable: true,
};

/** The descriptor of the stored text, reused (defineProperty copies what it reads). */
const textDescriptor: PropertyDescriptor = { value: '', enumerable: false, writable: false, configurable: false };

/**
 * Rows were validated against the contract when they were written, so reading them back as envelopes is the
 * one place a cast is honest. `data` is parsed on first use: a replay that only forwards the event (most of
 * them) never parses it, and its frame splices the stored text instead (`storedEnvelopeJson`).
 */
export function envelopeOfRow(row: EnvelopeRow): EventEnvelope {
  return storedEnvelope(row.id, row.type, row.topic, row.timestamp, row.key, row.source, row.correlationId, row.data);
}

/** `envelopeOfRow` from the columns themselves (rows read as arrays build no row object first). */
export function storedEnvelope(
  id: number,
  type: string,
  topic: string,
  timestamp: Date,
  key: string | null,
  source: string | null,
  correlationId: string | null,
  data: string,
): EventEnvelope {
  const envelope: Record<string, unknown> = { id: String(id), type, topic, timestamp };
  Object.defineProperty(envelope, 'data', dataAccessor);
  if (key !== null) envelope.key = key;
  if (source !== null) envelope.source = source;
  if (correlationId !== null) envelope.correlationId = correlationId;
  textDescriptor.value = data;
  Object.defineProperty(envelope, storedText, textDescriptor);
  return envelope as unknown as EventEnvelope;
}

/**
 * The JSON text of an envelope read from the store, as the transformer writes it (`encode`, with the timestamp
 * as its ISO string and `data` as stored): undefined for any other value. Frames splice it into superjson's
 * format with `encodedWithOneDate`; test/core/envelope.test.ts checks that the bytes are the same as encoding.
 */
export function storedEnvelopeJson(value: unknown): string | undefined {
  const data = typeof value === 'object' && value !== null ? (value as Stored)[storedText] : undefined;
  if (data === undefined) return undefined;
  // Its own fields, as built above (a stored id is digits, a stored timestamp a Date).
  const envelope = value as EventEnvelope;
  const { timestamp } = envelope;
  if (Number.isNaN(timestamp.getTime())) return undefined;
  return envelopeJson(envelope, isoJson(timestamp), data);
}

/** The last timestamp written as JSON, and its text: a group's events share their time, as a page of replay mostly does. */
let lastTime = Number.NaN;
let lastIso = '';

/**
 * A valid date as JSON (its ISO string, quoted), remembered for the next call: `toISOString` cost nearly as much as
 * the rest of an envelope's JSON.
 */
function isoJson(timestamp: Date): string {
  const time = timestamp.getTime();
  if (time !== lastTime) {
    lastTime = time;
    lastIso = `"${timestamp.toISOString()}"`;
  }
  return lastIso;
}

/**
 * An envelope made by a store (its id digits) as JSON in its fields' order, with `timestamp` and `data` given
 * as JSON text: the one layout of the frames' text (`storedEnvelopeJson`) and the bus message's
 * (server/bus/wire.ts, the timestamp in epoch ms there).
 */
export function envelopeJson(envelope: EventEnvelope, timestamp: string, data: string): string {
  let json = `{"id":"${envelope.id}","type":${JSON.stringify(envelope.type)},"topic":${JSON.stringify(envelope.topic)},"timestamp":${timestamp},"data":${data}`;
  if (envelope.key !== undefined) json += `,"key":${JSON.stringify(envelope.key)}`;
  if (envelope.source !== undefined) json += `,"source":${JSON.stringify(envelope.source)}`;
  if (envelope.correlationId !== undefined) json += `,"correlationId":${JSON.stringify(envelope.correlationId)}`;
  return `${json}}`;
}

/**
 * A fresh envelope's `data` as the store wrote it (`JSON.stringify` of the object the producer sent), kept as a
 * read envelope keeps its stored text (non-enumerable, under a symbol of this module). The bus between nodes reads
 * it (`writtenDataJson`): its message carries `data` as that JSON, which it would otherwise write again; a write's
 * answer splices it when it is what encoding writes (`madeEnvelopeJson`). Frames to this node's subscribers still
 * encode the object itself.
 */
const writtenText = Symbol('writtenText');

interface Written {
  [writtenText]?: string;
}

/**
 * The envelope of an event just stored with this id, topic and timestamp: the same object the producer sent.
 * `dataText`: `data` as the store wrote it, when it did.
 */
export function envelopeOfEvent(
  event: ValidEvent,
  id: number,
  topic: string,
  timestamp: Date,
  dataText?: string,
): EventEnvelope {
  const envelope: Record<string, unknown> = { id: String(id), type: event.type, topic, timestamp, data: event.data };
  if (event.key !== undefined) envelope.key = event.key;
  if (event.source !== undefined) envelope.source = event.source;
  if (event.correlationId !== undefined) envelope.correlationId = event.correlationId;
  if (dataText !== undefined) {
    textDescriptor.value = dataText;
    Object.defineProperty(envelope, writtenText, textDescriptor);
  }
  return envelope as unknown as EventEnvelope;
}

/**
 * `storedEnvelopeJson` for any envelope a store made: one read back, or one just stored whose data was written
 * as the text encoding would write for it (`isPlainJson`: a walk that builds nothing, where encoding builds a
 * copy and writes it again). Undefined for anything else, which is then encoded as it is.
 */
export function madeEnvelopeJson(value: unknown): string | undefined {
  const stored = storedEnvelopeJson(value);
  if (stored !== undefined) return stored;
  const written = typeof value === 'object' && value !== null ? (value as Written)[writtenText] : undefined;
  if (written === undefined) return undefined;
  const envelope = value as EventEnvelope;
  const { timestamp } = envelope;
  if (Number.isNaN(timestamp.getTime()) || !isPlainJson(envelope.data)) return undefined;
  return envelopeJson(envelope, isoJson(timestamp), written);
}

/** `JSON.stringify(envelope.data)` without writing it again: the text it was stored as; undefined if unknown. */
export function writtenDataJson(envelope: EventEnvelope): string | undefined {
  const held = envelope as Stored & Written;
  return held[writtenText] ?? held[storedText];
}

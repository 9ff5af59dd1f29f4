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
 * Text an envelope carries beside its fields, stamped onto it as a class's private field: a spread,
 * `Object.keys`, `Reflect.ownKeys`, JSON and superjson never see it, a copy made by spreading is a plain envelope,
 * and the envelope stays a plain object. The stamp is a subclass of a base whose constructor returns the object
 * it is given, so the subclass's fields land on that object. (Non-enumerable properties under symbols did the same
 * at about 0.2 µs more per envelope, each `Object.defineProperty` a call into the runtime; a WeakMap from envelope
 * to text at about twice the cost per replayed event, its entries being extra work for every garbage collection.)
 */
const Returns = function (object: object) {
  return object;
} as unknown as new (object: object) => object;

/** A read envelope's `data`, not parsed yet. */
const unparsed = Symbol('unparsed');
/** A fresh envelope's: its `data` is the producer's object itself. */
const fresh = Symbol('fresh');

/**
 * An envelope's `data` as a store wrote or read it: the JSON text it was stored as, and for a read envelope its
 * `data` once something has parsed it (what its JSON text is written from, without parsing and encoding it again,
 * until then). A fresh one's text (`envelopeOfEvent`: `JSON.stringify` of the object the producer sent) is read
 * by the bus between nodes (`writtenDataJson`), whose message carries `data` as that JSON, which it would
 * otherwise write again, and by a write's answer, which splices it when it is what encoding writes
 * (`madeEnvelopeJson`); frames to this node's subscribers still encode a fresh one's object itself. One class for
 * both, each stamped by one constructor: a read envelope stamped through a subclass cost a third more.
 */
class DataText extends Returns {
  readonly #text: string;
  #parsed: unknown;

  private constructor(envelope: object, text: string, parsed: typeof unparsed | typeof fresh) {
    super(envelope);
    this.#text = text;
    this.#parsed = parsed;
  }

  static stampFresh(envelope: object, text: string): void {
    new DataText(envelope, text, fresh);
  }

  static stampStored(envelope: object, text: string): void {
    new DataText(envelope, text, unparsed);
  }

  static of(value: object): string | undefined {
    return #text in value ? value.#text : undefined;
  }

  /** A read envelope's text; undefined for any other value. */
  static stored(value: object): string | undefined {
    return #text in value && value.#parsed !== fresh ? value.#text : undefined;
  }

  static parsed(value: DataText): unknown {
    if (value.#parsed === unparsed) value.#parsed = JSON.parse(value.#text) as unknown;
    return value.#parsed;
  }
}

/** `data` of every read envelope: one accessor for all of them, so they share their shape. */
const dataAccessor: PropertyDescriptor = {
  get(this: DataText): unknown {
    return DataText.parsed(this);
  },
  enumerable: true,
  configurable: true,
};

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
  // Stamped before `data` is defined: stamping an object that already has an accessor cost three times as much.
  DataText.stampStored(envelope, data);
  Object.defineProperty(envelope, 'data', dataAccessor);
  if (key !== null) envelope.key = key;
  if (source !== null) envelope.source = source;
  if (correlationId !== null) envelope.correlationId = correlationId;
  return envelope as unknown as EventEnvelope;
}

/**
 * The JSON text of an envelope read from the store, as the transformer writes it (`encode`, with the timestamp
 * as its ISO string and `data` as stored): undefined for any other value. Frames splice it into superjson's
 * format with `encodedWithOneDate`; test/core/envelope.test.ts checks that the bytes are the same as encoding.
 */
export function storedEnvelopeJson(value: unknown): string | undefined {
  const data = typeof value === 'object' && value !== null ? DataText.stored(value) : undefined;
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
  if (dataText !== undefined) DataText.stampFresh(envelope, dataText);
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
  const written = typeof value === 'object' && value !== null ? DataText.of(value) : undefined;
  if (written === undefined) return undefined;
  const envelope = value as EventEnvelope;
  const { timestamp } = envelope;
  if (Number.isNaN(timestamp.getTime()) || !isPlainJson(envelope.data)) return undefined;
  return envelopeJson(envelope, isoJson(timestamp), written);
}

/** `JSON.stringify(envelope.data)` without writing it again: the text it was stored as; undefined if unknown. */
export function writtenDataJson(envelope: EventEnvelope): string | undefined {
  return DataText.of(envelope);
}

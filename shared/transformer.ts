import superjson, { type SuperJSONResult } from 'superjson';
import { jsonDepthMessage, limits, nestedDeeperThan, tooDeep } from './limits.js';

/**
 * The wire transformer of every tRPC call, on both ends: superjson, which keeps `Date` timestamps as dates.
 * Non-TypeScript clients speak it as documented in docs/protocol.md.
 *
 * Two shortcuts, neither visible on the wire:
 * - Encoding: what this API sends is JSON plus `Date`s (envelopes, batches of them, query results). For such a
 *   value `encode` writes superjson's format directly, in one pass; superjson's own walk, which tracks every
 *   object's identity and path, cost eight times `JSON.stringify` per envelope. Anything else (undefined, -0,
 *   NaN, Map, Set, BigInt, class instances, …) goes to superjson unchanged, but for a `JsonTexts` as a field of
 *   the input (below), passed through for the WebSocket client's frame encoder. Shared references are not marked
 *   as such (nothing in this API relies on object identity); the values decode equal.
 * - Decoding works in place: superjson deep-copies a payload first by default, but every payload decoded here
 *   was just parsed from one frame and has no other reader.
 */

/**
 * A list whose items are JSON texts already, each what `JSON.stringify` wrote for a plain JSON value: what the
 * Publisher sends, having written each event's text once when it took the event (to measure it). `encode` passes
 * it through as it is, and the WebSocket client's frame encoder (client/frame-encoder.ts) writes the texts into the
 * frame where it stands, so that no event is walked or written again. Only for a client whose frames that encoder
 * writes: anywhere else it has no JSON of its own.
 */
export class JsonTexts {
  constructor(readonly texts: readonly string[]) {}

  /** Anywhere but in that encoder's frame it has no JSON: a misplaced one fails loudly rather than going as `{}`. */
  toJSON(): never {
    throw new TypeError(
      'a JsonTexts goes only as a field of a call over the WebSocket client (client/frame-encoder.ts)',
    );
  }
}

/** Thrown inside `encode` when a value needs superjson's general treatment; made once, thrown often. */
const needsSuperjson = new Error('needs superjson');

/** A path segment as superjson writes it: `.` and `\` escaped. */
const escapeKey = (key: string) => (/[.\\]/.test(key) ? key.replace(/\\/g, '\\\\').replace(/\./g, '\\.') : key);

function encodeValue(value: unknown, path: string[], dates: Record<string, ['Date']>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      throw needsSuperjson;
    case 'object':
      break;
    default:
      throw needsSuperjson;
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      path.push(String(i));
      out[i] = encodeValue(value[i] as unknown, path, dates);
      path.pop();
    }
    return out;
  }
  if (value instanceof Date) {
    if (path.length === 0 || Number.isNaN(value.getTime())) throw needsSuperjson;
    dates[path.map(escapeKey).join('.')] = ['Date'];
    return value.toISOString();
  }
  // A field of the input itself, where the frame encoder looks for it (and nowhere else).
  if (value instanceof JsonTexts && path.length === 1) return value;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw needsSuperjson;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key === '__proto__') throw needsSuperjson;
    path.push(key);
    out[key] = encodeValue((value as Record<string, unknown>)[key], path, dates);
    path.pop();
  }
  return out;
}

/** superjson's serialized form of `value`: written directly for JSON-and-Date values, else by superjson. */
export function encode(value: unknown): SuperJSONResult {
  const dates: Record<string, ['Date']> = {};
  let json: unknown;
  try {
    json = encodeValue(value, [], dates);
  } catch (error) {
    if (error === needsSuperjson) return superjson.serialize(value);
    throw error;
  }
  for (const _ in dates) return { json: json as SuperJSONResult['json'], meta: { values: dates, v: 1 } };
  return { json: json as SuperJSONResult['json'] };
}

/**
 * True when `encode` writes `value` exactly as `JSON.stringify` does: strings, booleans, null, finite numbers
 * other than -0, arrays without holes and plain objects of these, nothing else (no `Date`, undefined, class
 * instance, `__proto__` key or `toJSON`, which encoding annotates, hands to superjson or ignores, and
 * `JSON.stringify` flattens, drops or calls). The walk `encodeValue` makes, building nothing (a `JsonTexts`, which
 * `encodeValue` passes through as an input's field, is a class instance here); a property test
 * (test/core/transformer.test.ts) holds the two to the same rules.
 */
export function isPlainJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  // JSON.stringify calls a toJSON method, own or inherited, where encoding does not.
  if ('toJSON' in value) return false;
  if (Array.isArray(value)) {
    // A hole reads as undefined, which is not plain.
    for (const item of value as unknown[]) if (!isPlainJson(item)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || !isPlainJson((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** superjson's form before a value's JSON text. */
const beforeJson = '{"json":';

/** superjson's form after a value's JSON text, with `values` its annotations' JSON members. */
const afterJson = (values: string) => `,"meta":{"values":{${values}},"v":1}}`;

/** superjson's form around `json`, the value's JSON text, with `values` its annotations' JSON members. */
const withAnnotations = (json: string, values: string) => `${beforeJson}${json}${afterJson(values)}`;

/**
 * `JSON.stringify(encode(value))` for a value whose one non-JSON part is a `Date` at `datePath`, from `json`,
 * the value's JSON text with that date as its ISO string: what a server writes for a stored envelope without
 * parsing it first. Byte for byte the same as encoding (test/core/envelope.test.ts).
 */
export function encodedWithOneDate(json: string, datePath: string): string {
  return withAnnotations(json, `${JSON.stringify(datePath)}:["Date"]`);
}

/** The annotations of `eachWithDateAround` last written: lists of one length repeat (a batch's size). */
let listDates = { length: -1, datePath: '', around: ['', ''] as readonly [string, string] };

/**
 * `JSON.stringify(encode(list))` for a list of `length` values, each with one `Date` at `datePath`, in parts: what
 * goes before and after the values' JSON texts, which go between, joined by commas, each with that date as its ISO
 * string (`encodedWithOneDate` for a list, for a writer that sends the encoding in parts rather than as one text).
 */
export function eachWithDateAround(length: number, datePath: string): readonly [before: string, after: string] {
  if (listDates.length !== length || listDates.datePath !== datePath) {
    const tail = `${JSON.stringify(`.${datePath}`).slice(1)}:["Date"]`;
    const values = new Array<string>(length);
    for (let i = 0; i < length; i++) values[i] = `"${i}${tail}`;
    listDates = { length, datePath, around: [`${beforeJson}[`, `]${afterJson(values.join(','))}`] };
  }
  return listDates.around;
}

/** What a client may annotate in what it sends: dates, and fields left undefined. */
const inputAnnotations = new Set(['Date', 'undefined']);

/**
 * Refuses what a client has no reason to send and what would make decoding expensive: shared references
 * (`referentialEqualities`, which let a 1 KB input point at one object from many places and so double the paths
 * a validator walks at every level), annotations other than `Date` and `undefined`, and JSON nested past
 * `limits.jsonDepth` (checked without recursion before superjson's own recursive walk).
 */
function checkInput(payload: SuperJSONResult): void {
  const meta: unknown = payload.meta;
  if (meta === undefined) {
    if (tooDeep(payload.json)) throw new Error(jsonDepthMessage);
    return;
  }
  if (typeof meta !== 'object' || meta === null) throw new Error('superjson meta must be an object');
  if ('referentialEqualities' in meta) {
    throw new Error('input may not hold shared references (superjson referentialEqualities): send plain JSON');
  }
  // meta.values mirrors the input's shape, one level deeper at most for the annotation itself.
  if (tooDeep(payload.json) || nestedDeeperThan(meta, limits.jsonDepth + 3)) {
    throw new Error(jsonDepthMessage);
  }
  const values = 'values' in meta ? meta.values : undefined;
  const stack: unknown[] = [values];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (Array.isArray(top) && top.length === 1 && typeof top[0] === 'string') {
      if (!inputAnnotations.has(top[0])) {
        throw new Error(`input may annotate only Date and undefined values, not ${top[0]}: send plain JSON`);
      }
    } else if (typeof top === 'object' && top !== null) {
      stack.push(...(Object.values(top) as unknown[]));
    }
  }
}

/** superjson's wrapper (`{"json": …, "meta"?: …}`), as tRPC clients send every input. */
const isWrapped = (payload: unknown): payload is SuperJSONResult =>
  typeof payload === 'object' && payload !== null && !Array.isArray(payload) && Object.hasOwn(payload, 'json');

/** Keys superjson refuses in a path (it throws for them): such a payload goes to superjson, which refuses it. */
const unsafeKeys = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Where each `Date` annotation points: `[holder, key]` pairs, or undefined unless every annotation is a `Date`
 * on a plain path (no escapes) to a string inside `json`. Nothing is changed here, so a payload this cannot
 * take goes to superjson whole.
 */
function datesOf(json: unknown, values: unknown): [Record<string, unknown>, string][] | undefined {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) return undefined;
  const found: [Record<string, unknown>, string][] = [];
  for (const [path, annotation] of Object.entries(values)) {
    if (!Array.isArray(annotation) || annotation.length !== 1 || annotation[0] !== 'Date') return undefined;
    if (path.includes('\\')) return undefined;
    const keys = path.split('.');
    let holder: unknown = json;
    for (let i = 0; i < keys.length - 1; i++) {
      const key = keys[i] ?? '';
      if (unsafeKeys.has(key) || typeof holder !== 'object' || holder === null || !Object.hasOwn(holder, key))
        return undefined;
      holder = (holder as Record<string, unknown>)[key];
    }
    const last = keys[keys.length - 1] ?? '';
    if (unsafeKeys.has(last) || typeof holder !== 'object' || holder === null || !Object.hasOwn(holder, last))
      return undefined;
    const record = holder as Record<string, unknown>;
    if (typeof record[last] !== 'string') return undefined;
    found.push([record, last]);
  }
  return found;
}

/**
 * Decodes a payload in place (see above). What this API sends carries `Date`s only (an envelope's timestamp),
 * and superjson's general walk of its annotations cost more than parsing the frame: those are set here
 * directly; any other payload is superjson's to decode.
 */
const decode = (payload: SuperJSONResult): unknown => {
  const { json, meta } = payload;
  if (meta === undefined) return json;
  const keys = Object.keys(meta);
  const plain = keys.length === 2 && meta.v === 1 && 'values' in meta;
  const dates = plain ? datesOf(json, meta.values) : undefined;
  if (dates === undefined) return superjson.deserialize(payload, { inPlace: true });
  for (const [holder, key] of dates) holder[key] = new Date(holder[key] as string);
  return json;
};

/**
 * The transformer of both ends. A server decodes what clients send with `input.deserialize`, which checks it
 * first (`checkInput`); a client decodes what the server sends, which it trusts, with `output.deserialize`.
 */
export const transformer = {
  input: {
    serialize: encode,
    deserialize: (payload: unknown): unknown => {
      // Plain JSON, from a client that knows nothing of superjson (`curl '/trpc/workflow?input={"workflowId":"wf-1"}'`):
      // taken as it is. No input of this API has a top-level `json` field, so the wrapper is never mistaken for one.
      if (!isWrapped(payload)) {
        if (tooDeep(payload)) throw new Error(jsonDepthMessage);
        return payload;
      }
      checkInput(payload);
      return decode(payload);
    },
  },
  output: { serialize: encode, deserialize: decode },
};

import superjson, { type SuperJSONResult } from 'superjson';

/**
 * The wire transformer of every tRPC call, on both ends: superjson, which keeps `Date` timestamps as dates.
 * Non-TypeScript clients speak it as documented in docs/protocol.md.
 *
 * Two shortcuts, neither visible on the wire:
 * - Encoding: what this API sends is JSON plus `Date`s (envelopes, batches of them, query results). For such a
 *   value `encode` writes superjson's format directly, in one pass; superjson's own walk, which tracks every
 *   object's identity and path, cost eight times `JSON.stringify` per envelope. Anything else (undefined, -0,
 *   NaN, Map, Set, BigInt, class instances, …) goes to superjson unchanged. Shared references are not marked
 *   as such (nothing in this API relies on object identity); the values decode equal.
 * - Decoding works in place: superjson deep-copies a payload first by default, but every payload decoded here
 *   was just parsed from one frame and has no other reader.
 */

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

export const transformer = {
  serialize: encode,
  deserialize: (payload: SuperJSONResult): unknown => superjson.deserialize(payload, { inPlace: true }),
};

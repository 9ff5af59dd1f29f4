/**
 * The server's output transformer: superjson, except that a stored event is serialized once, however many
 * subscribers it goes to. tRPC's WebSocket adapter serializes each subscriber's `{ id, data }` separately; the
 * envelope inside is the same object for every subscriber (the bus hands one object to all), so its superjson
 * form is computed on first use and reused. The wire format is exactly superjson's, so clients need nothing
 * special. Only envelopes registered with `serializeOnce` are cached: they are never mutated after that.
 */
import type { CombinedDataTransformer } from '@trpc/server';
import superjson from 'superjson';
import type { StreamItem } from '../shared/index.js';

type Serialized = ReturnType<typeof superjson.serialize>;

const immutable = new WeakSet<object>();
/** The tracked form's `meta`: the envelope's meta with each path under `data.`. */
const cache = new WeakMap<object, { json: Serialized['json']; meta: Serialized['meta'] }>();

/** Marks an envelope as final, so its serialized form may be shared. */
export function serializeOnce<T extends StreamItem>(envelope: T): T {
  immutable.add(envelope);
  return envelope;
}

function underData(meta: Serialized['meta']): Serialized['meta'] {
  if (!meta) return undefined;
  const values =
    meta.values && !Array.isArray(meta.values)
      ? Object.fromEntries(Object.entries(meta.values).map(([path, v]) => [`data.${path}`, v]))
      : meta.values;
  return { ...meta, values };
}

function serialize(value: unknown): Serialized {
  if (
    typeof value === 'object' &&
    value !== null &&
    'data' in value &&
    'id' in value &&
    Object.keys(value).length === 2
  ) {
    const { id, data } = value;
    if (typeof data === 'object' && data !== null && immutable.has(data)) {
      let inner = cache.get(data);
      if (!inner) {
        const serialized = superjson.serialize(data);
        inner = { json: serialized.json, meta: underData(serialized.meta) };
        cache.set(data, inner);
      }
      const result: Serialized = { json: { id, data: inner.json } as Serialized['json'] };
      if (inner.meta) result.meta = inner.meta;
      return result;
    }
  }
  return superjson.serialize(value);
}

export const serverTransformer: CombinedDataTransformer = {
  input: superjson,
  output: { serialize, deserialize: (v: Serialized): unknown => superjson.deserialize(v) },
};

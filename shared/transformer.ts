import superjson, { type SuperJSONResult } from 'superjson';

/**
 * The wire transformer of every tRPC call, on both ends: superjson keeps `Date` timestamps as dates.
 * Non-TypeScript clients speak it as documented in docs/protocol.md.
 *
 * Decoding works in place: superjson deep-copies a payload before decoding it by default, but every payload
 * decoded here was just parsed from one frame and has no other reader, so the copy is pure cost (it was a
 * tenth of a subscriber's CPU per event). The wire format is superjson's, unchanged.
 */
export const transformer = {
  serialize: (value: unknown): SuperJSONResult => superjson.serialize(value),
  deserialize: (payload: SuperJSONResult): unknown => superjson.deserialize(payload, { inPlace: true }),
};

/**
 * The WebSocket client's frames (client/frame-encoder.ts): a `JsonTexts` in a call's input goes as the texts it
 * holds, and the frame reads back as the same message with those events in it; every other message is written
 * exactly as `JSON.stringify` writes it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonTexts, transformer } from '@switchboard/shared';
import { frameEncoder } from '../../client/frame-encoder.js';

/** A call as tRPC's WebSocket link hands it to the encoder: its input through the transformer. */
const call = (id: number, path: string, input: unknown) => ({
  id,
  jsonrpc: '2.0',
  method: 'mutation',
  params: { input: transformer.input.serialize(input), path },
});

const event = fc.record(
  {
    type: fc.string(),
    key: fc.string(),
    data: fc.dictionary(fc.string(), fc.jsonValue()),
  },
  { requiredKeys: ['type', 'data'] },
);
const key = fc.stringMatching(/^[A-Za-z0-9:._-]{1,40}$/);
const events = fc.array(event, { maxLength: 20 });

describe('frameEncoder', () => {
  it('writes a JsonTexts as its texts: the frame reads back as the call with the events themselves', () => {
    fc.assert(
      fc.property(events, fc.option(key, { nil: undefined }), (list, after) => {
        const texts = new JsonTexts(list.map((e) => JSON.stringify(e)));
        const sent = call(7, 'ingest', after === undefined ? { events: texts } : { events: texts, after });
        const read = JSON.parse(frameEncoder.encode(sent) as string) as typeof sent;
        // The events as JSON reads them (JSON.stringify's own: -0 as 0), with nothing else of the call changed.
        const events = list.map((e) => JSON.parse(JSON.stringify(e)) as unknown);
        expect(read).toEqual({
          id: 7,
          jsonrpc: '2.0',
          method: 'mutation',
          params: { input: { json: after === undefined ? { events } : { events, after } }, path: 'ingest' },
        });
        expect('meta' in read.params.input).toBe(false);
      }),
      { numRuns: 300, seed: 20_261_206 },
    );
  });

  it('writes several calls of one turn as one array, each as its own, in order', () => {
    fc.assert(
      fc.property(events, events, key, (first, second, after) => {
        const a = call(1, 'ingest', { events: new JsonTexts(first.map((e) => JSON.stringify(e))) });
        const b = call(2, 'publish', { type: 'agent.log', data: { message: 'plain' } });
        const c = call(3, 'ingest', { events: new JsonTexts(second.map((e) => JSON.stringify(e))), after });
        const read = JSON.parse(frameEncoder.encode([a, b, c]) as string) as { id: number; params: unknown }[];
        expect(read.map((m) => m.id)).toEqual([1, 2, 3]);
        expect(read[1]).toEqual(JSON.parse(JSON.stringify(b)));
        const eventsOf = (m: unknown) =>
          (m as { params: { input: { json: { events: unknown } } } }).params.input.json.events;
        expect(eventsOf(read[0])).toEqual(first.map((e) => JSON.parse(JSON.stringify(e)) as unknown));
        expect(eventsOf(read[2])).toEqual(second.map((e) => JSON.parse(JSON.stringify(e)) as unknown));
      }),
      { numRuns: 300, seed: 6 },
    );
  });

  it('writes every other message exactly as JSON.stringify does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (input, other) => {
        // As the transformer leaves plain JSON (written here, since it hands a `__proto__` key to superjson).
        const one = { id: 1, jsonrpc: '2.0', method: 'mutation', params: { input: { json: input }, path: 'publish' } };
        expect(frameEncoder.encode(one)).toBe(JSON.stringify(one));
        expect(frameEncoder.encode([one, other])).toBe(JSON.stringify([one, other]));
        expect(frameEncoder.encode(other)).toBe(JSON.stringify(other));
      }),
      { numRuns: 300, seed: 12 },
    );
    const empty = call(4, 'ingest', { events: new JsonTexts([]) });
    expect(JSON.parse(frameEncoder.encode(empty) as string)).toEqual(
      JSON.parse(JSON.stringify(call(4, 'ingest', { events: [] }))),
    );
  });
});

/**
 * Envelopes read from the store: `data` parsed only when used, and the frames' spliced text (the stored row as it
 * is) byte for byte what encoding the envelope writes, for WebSocket's `{ id, data }` and SSE's bare envelope; and
 * the bus message between nodes, which reuses the text `data` was stored as, byte for byte what it was before.
 */
import { describe, expect, it } from 'vitest';
import { eachWithDateAround, encode, encodedWithOneDate, transformer } from '@switchboard/shared';
import { encodeEvents } from '../../server/bus/wire.js';
import {
  envelopeOfEvent,
  envelopeOfRow,
  storedEnvelopeJson,
  writtenDataJson,
  type EnvelopeRow,
} from '../../server/core/envelope.js';
import type { ValidEvent } from '@switchboard/shared';

const rows: EnvelopeRow[] = [
  {
    id: 42,
    type: 'agent.status',
    topic: 'agent:a-1',
    timestamp: new Date('2026-12-05T01:02:03.456Z'),
    key: null,
    source: null,
    correlationId: null,
    data: JSON.stringify({ agentId: 'a-1', status: 'busy' }),
  },
  {
    id: 9_007_199_254_740_991,
    type: 'team.custom',
    topic: 'workflow:wf "quoted" \\ é ☃',
    timestamp: new Date(0),
    key: 'k\n1',
    source: 'src\u2028',
    correlationId: 'c-"1"',
    data: JSON.stringify({
      nested: { list: [1, 2.5, -3e21, null, true, 'x\ty'], empty: {}, unicode: '🚀 \u0000' },
      n: 0,
    }),
  },
];

describe('envelopes read from the store', () => {
  it('parses data on first use only, with the keys in the order encoding writes them', () => {
    const [row] = rows;
    if (!row) throw new Error('no row');
    const envelope = envelopeOfRow(row);
    expect(Object.keys(envelope)).toEqual(['id', 'type', 'topic', 'timestamp', 'data']);
    expect(envelope.data).toEqual({ agentId: 'a-1', status: 'busy' });
    expect(envelope.data).toBe(envelope.data);
  });

  it('carries its text where no copy, key listing or encoding sees it, and stays a plain object', () => {
    const [row] = rows;
    if (!row) throw new Error('no row');
    const read = envelopeOfRow(row);
    const written = envelopeOfEvent(
      { type: 'agent.status', data: { agentId: 'a-1', status: 'busy' } } as ValidEvent,
      7,
      'agent:a-1',
      new Date(0),
      '{"agentId":"a-1","status":"busy"}',
    );
    for (const envelope of [read, written]) {
      expect(Object.getPrototypeOf(envelope)).toBe(Object.prototype);
      expect(Reflect.ownKeys(envelope)).toEqual(['id', 'type', 'topic', 'timestamp', 'data']);
      expect(writtenDataJson(envelope)).toBe('{"agentId":"a-1","status":"busy"}');
      // A spread copy is a plain envelope: its fields may change, so it carries no text that could go stale.
      const copy = { ...envelope };
      expect(copy).toEqual(envelope);
      expect(writtenDataJson(copy)).toBeUndefined();
      expect(storedEnvelopeJson(copy)).toBeUndefined();
    }
    expect(storedEnvelopeJson(read)).toBeDefined();
    expect(storedEnvelopeJson(written)).toBeUndefined();
  });

  it.each(rows)('splices the stored text into the same bytes as encoding (id $id)', (row) => {
    const envelope = envelopeOfRow(row);
    const stored = storedEnvelopeJson(envelope);
    if (stored === undefined) throw new Error('no stored text for a read envelope');
    // SSE sends the envelope; WebSocket sends `{ id, data }` with the cursor as id.
    expect(encodedWithOneDate(stored, 'timestamp')).toBe(JSON.stringify(encode(envelope)));
    const cursor = `${row.id}@3f9a1c0e5b7d`;
    expect(encodedWithOneDate(`{"id":${JSON.stringify(cursor)},"data":${stored}}`, 'data.timestamp')).toBe(
      JSON.stringify(encode({ id: cursor, data: envelopeOfRow(row) })),
    );
    // And it decodes to the envelope the client would have got.
    const sent = JSON.parse(encodedWithOneDate(stored, 'timestamp')) as Parameters<
      typeof transformer.output.deserialize
    >[0];
    expect(transformer.output.deserialize(sent)).toEqual({
      ...envelope,
    });
  });

  it('splices lists of them, of any length in any order, into the same bytes as encoding the list', () => {
    const read = rows.map((row) => envelopeOfRow(row));
    // Lengths that change from call to call, and repeat: the annotations are kept for the last length.
    for (const length of [1, 3, 3, 1, 12, 2]) {
      const list = Array.from({ length }, (_, i) => read[i % read.length]);
      const items = list.map((envelope) => storedEnvelopeJson(envelope) ?? 'missing');
      const [before, after] = eachWithDateAround(items.length, 'timestamp');
      expect(`${before}${items.join(',')}${after}`).toBe(JSON.stringify(encode(list)));
    }
  });

  it('has no stored text for anything else', () => {
    expect(storedEnvelopeJson({ id: '1', type: 'x', topic: 't', timestamp: new Date(), data: {} })).toBeUndefined();
    expect(storedEnvelopeJson(undefined)).toBeUndefined();
    expect(storedEnvelopeJson('text')).toBeUndefined();
    // A copy made by spreading carries the data's value, not the stored text: changed, it encodes as it is.
    const [row] = rows;
    if (!row) throw new Error('no row');
    const read = envelopeOfRow(row);
    const copy = { ...read, topic: 'changed' };
    expect(storedEnvelopeJson(copy)).toBeUndefined();
    expect(copy.data).toEqual(read.data);
    expect(Object.getOwnPropertySymbols(copy)).toEqual([]);
    expect(JSON.stringify(read)).toBe(JSON.stringify({ ...read }));
  });
});

describe('envelopes on the bus between nodes', () => {
  /** The message as it was written before the stored text was reused: every envelope encoded whole. */
  const encodedWhole = (events: EventEnvelopeLike[]) =>
    JSON.stringify(events.map((e) => ({ ...e, timestamp: e.timestamp.getTime() })));
  type EventEnvelopeLike = Parameters<typeof encodeEvents>[0][number];

  it('writes the same message from the text data was stored as, as from the object', () => {
    const events = [
      { type: 'agent.status', data: { agentId: 'a-1', status: 'busy' } },
      {
        type: 'team.custom',
        key: 'k\n"1"',
        source: 'src\u2028',
        correlationId: 'c-1',
        data: { at: new Date('2026-12-05T00:00:00Z'), gone: undefined, list: [1, undefined, 'é ☃'], n: -0 },
      },
    ] as unknown as ValidEvent[];
    const fresh = events.map((event, i) =>
      envelopeOfEvent(event, i + 1, `topic:${i}`, new Date(1_000 + i), JSON.stringify(event.data)),
    );
    expect(fresh.map(writtenDataJson)).toEqual(events.map((e) => JSON.stringify(e.data)));
    // Invisible to spreads, keys and JSON: the envelope the producer gets back is unchanged.
    expect(Object.keys(fresh[1] ?? {})).toEqual([
      'id',
      'type',
      'topic',
      'timestamp',
      'data',
      'key',
      'source',
      'correlationId',
    ]);
    const plain = events.map((event, i) => envelopeOfEvent(event, i + 1, `topic:${i}`, new Date(1_000 + i)));
    expect(plain.map(writtenDataJson)).toEqual([undefined, undefined]);
    expect(encodeEvents(fresh)).toBe(encodedWhole(plain));
    expect(encodeEvents(plain)).toBe(encodedWhole(plain));
    // Read from the store: its stored text, the same bytes again.
    const read = rows.map(envelopeOfRow);
    expect(encodeEvents(read)).toBe(encodedWhole(read));
  });
});

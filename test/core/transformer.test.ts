/**
 * The wire transformer writes superjson's format itself for JSON-and-Date values: byte for byte what superjson
 * writes for those, superjson's own output for everything else, and every value decodes back equal.
 */
import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import {
  encode,
  isPlainJson,
  jsonBytesAtMost,
  limits,
  nestedDeeperThan,
  tooDeep,
  transformer,
  utf8Bytes,
} from '@switchboard/shared';

const envelope = (id: number) => ({
  id: String(id),
  type: 'agent.status',
  topic: 'agent:a.b',
  timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, id)),
  key: `k-${id}`,
  data: { agentId: 'a.b', status: 'busy', metrics: { cpu: 0.5, tags: ['x', 'y'], nested: { 'dot.key': true } } },
});

const direct: [string, unknown][] = [
  ['an envelope', envelope(1)],
  ['a batch of envelopes', [envelope(1), envelope(2), envelope(3)]],
  ['a tracked event', { id: '7', data: envelope(7) }],
  ['a history page', { events: [envelope(4)], nextCursor: '4', hasMore: false, retainedAfter: '0' }],
  ['Dates under keys that need escaping', { 'a.b': { 'c\\d': new Date(0) }, list: [{ at: new Date(5) }] }],
  ['plain JSON without Dates', { n: 1, s: 'x', b: false, z: null, a: [1, [2, [3]]], o: {} }],
  ['scalars', 'text'],
  ['null', null],
  ['an empty array', []],
];

const general: [string, unknown][] = [
  ['undefined', undefined],
  ['an undefined property', { a: undefined, b: 1 }],
  ['-0', { n: -0 }],
  ['NaN and Infinity', [Number.NaN, Number.POSITIVE_INFINITY]],
  ['a Map and a Set', { m: new Map([['k', 1]]), s: new Set([1]) }],
  ['a BigInt', { big: 10n }],
  ['a Date at the root', new Date(0)],
  ['an invalid Date', { at: new Date(Number.NaN) }],
  ['a class instance', { error: new Error('boom') }],
  ['a RegExp', { re: /x/g }],
];

describe('wire transformer', () => {
  it.each(direct)('writes exactly what superjson writes for %s', (_, value) => {
    expect(encode(value)).toEqual(superjson.serialize(value));
    expect(JSON.stringify(encode(value))).toBe(JSON.stringify(superjson.serialize(value)));
    expect(transformer.output.deserialize(JSON.parse(JSON.stringify(encode(value))) as never)).toEqual(value);
  });

  it.each(general)('hands %s to superjson', (_, value) => {
    expect(encode(value)).toEqual(superjson.serialize(value));
  });

  it('calls plain only values that encoding writes as JSON.stringify does, without annotations', () => {
    // Any value of the kinds either walk meets, plain or not, nested.
    const leaf = fc.oneof(
      fc.string(),
      fc.double(),
      fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.date({ noInvalidDate: true }),
      fc.constantFrom(new Map(), /x/, 10n),
    );
    const value = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('value')),
        fc.sparseArray(tie('value')),
        fc.dictionary(fc.string(), tie('value')),
      ),
    })).value;
    fc.assert(
      fc.property(value, (v) => {
        // Plain: encoded as JSON itself, no annotation, the same text JSON.stringify writes. (Not plain may still
        // encode alike, a hole for one: those take the general way, which writes the same, or superjson refuses
        // them, a `prototype` key beside a -0 for one.)
        if (isPlainJson(v)) {
          const encoded = encode(v);
          expect(encoded.meta).toBeUndefined();
          expect(JSON.stringify(encoded.json)).toBe(JSON.stringify(v));
        }
      }),
      // Fixed, so the suite is deterministic.
      { numRuns: 500, seed: 20_261_205 },
    );
    // What JSON.stringify calls and encoding does not.
    const withToJson: unknown[] = [1];
    Object.defineProperty(withToJson, 'toJSON', { value: () => 'replaced' });
    expect(isPlainJson({ list: withToJson })).toBe(false);
  });

  it('decodes a shared reference to equal values, without marking it', () => {
    const at = new Date(0);
    const value = [{ at }, { at }];
    const decoded = transformer.output.deserialize(JSON.parse(JSON.stringify(encode(value))) as never);
    expect(decoded).toEqual(value);
    expect(encode(value).meta?.referentialEqualities).toBeUndefined();
  });

  it('refuses a __proto__ key as superjson does, and never writes it', () => {
    const value = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as unknown;
    expect(() => superjson.serialize(value)).toThrow(/prototype pollution/);
    expect(() => encode(value)).toThrow(/prototype pollution/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses, in what a client sends, shared references, annotations other than Date and undefined, and deep JSON', () => {
    const decodeInput = (payload: unknown) => () => transformer.input.deserialize(payload);
    const shared = { a: [1], b: [1] };
    const aliased = { json: shared, meta: { referentialEqualities: { a: ['b'] }, v: 1 } };
    expect(decodeInput(aliased)).toThrow('shared references');
    expect(decodeInput({ json: { re: '/x/' }, meta: { values: { re: ['regexp'] }, v: 1 } })).toThrow('not regexp');
    const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
    expect(decodeInput({ json: { x: deep(limits.jsonDepth + 10) } })).toThrow('limits.jsonDepth');
    const at = new Date(0);
    const sent = JSON.parse(JSON.stringify(superjson.serialize({ at, gone: undefined }))) as unknown;
    expect(decodeInput(sent)()).toEqual({ at, gone: undefined });
    // Plain JSON, from a client without superjson, is taken as it is, within the same depth bound.
    expect(decodeInput({ workflowId: 'wf-1', at: '1970-01-01T00:00:00.000Z' })()).toEqual({
      workflowId: 'wf-1',
      at: '1970-01-01T00:00:00.000Z',
    });
    expect(decodeInput(undefined)()).toBeUndefined();
    expect(decodeInput({ x: deep(limits.jsonDepth + 10) })).toThrow('limits.jsonDepth');
  });

  it('bounds depth at exactly limits.jsonDepth, one more for a batch, and answers for any depth', () => {
    const objects = (n: number): unknown => (n === 0 ? 'leaf' : { a: 1, b: objects(n - 1) });
    // Arrays inside an object: an array at the top is a batch, allowed one level more.
    const arrays = (n: number): unknown => (n === 0 ? 1 : [0, arrays(n - 1)]);
    const inObject = (n: number): unknown => ({ v: arrays(n - 1) });
    for (const nest of [objects, inObject]) {
      expect(tooDeep(nest(limits.jsonDepth))).toBe(false);
      expect(tooDeep(nest(limits.jsonDepth + 1))).toBe(true);
      expect(tooDeep([nest(limits.jsonDepth)])).toBe(false);
      expect(tooDeep([nest(limits.jsonDepth + 1)])).toBe(true);
    }
    expect(nestedDeeperThan(null, 0)).toBe(false);
    expect(nestedDeeperThan({}, 0)).toBe(true);
    // Far deeper than any call stack: built in a loop, answered without a RangeError.
    let hostile: unknown = 1;
    for (let i = 0; i < 200_000; i++) hostile = { x: hostile };
    expect(tooDeep(hostile)).toBe(true);
    expect(tooDeep(JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`))).toBe(true);
  });

  it('counts the UTF-8 bytes of any text as an encoder writes them, a lone surrogate as U+FFFD', () => {
    const encoder = new TextEncoder();
    // Any UTF-16 unit, lone surrogates included, which well-formed generators never make.
    const unit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
    const texts = fc.oneof(
      fc.string({ unit: 'binary-ascii' }),
      fc.string({ unit: 'binary' }),
      fc.string({ unit }),
      // Mostly ASCII with one wider character anywhere, the case a check for ASCII alone would miss.
      fc
        .tuple(
          fc.string({ unit: 'binary-ascii' }),
          fc.constantFrom('é', '\u2028', '😀', '\ud800', '\udfff'),
          fc.string(),
        )
        .map(([a, wide, b]) => `${a}${wide}${b}`),
    );
    fc.assert(
      fc.property(texts, (text) => {
        expect(utf8Bytes(text)).toBe(encoder.encode(text).length);
      }),
      { numRuns: 1_000, seed: 21 },
    );
    // A pair split by the end of the text, and a low surrogate before a high one.
    expect(utf8Bytes('a\ud83d')).toBe(4);
    expect(utf8Bytes('\ude00\ud83d')).toBe(6);
  });

  it('bounds a payload JSON size from above without building it, and stops once past the limit', () => {
    const exact = (value: unknown) => utf8Bytes(JSON.stringify(value));
    // Any JSON value, with the strings that cost JSON most (control characters, non-ASCII, surrogate pairs).
    const text = fc.string({ unit: fc.constantFrom('a', '"', '\\', '\u0001', 'é', '\u2028', '😀') });
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value')),
        fc.dictionary(text, tie('value')),
      ),
    })).value;
    fc.assert(
      fc.property(json, fc.nat({ max: 2_000 }), (value, limit) => {
        const bound = jsonBytesAtMost(value, Infinity);
        expect(bound).toBeGreaterThanOrEqual(exact(value));
        // Past a limit it may stop early, but never answers at or under one the value is over.
        if (exact(value) > limit) expect(jsonBytesAtMost(value, limit)).toBeGreaterThan(limit);
      }),
      { numRuns: 500, seed: 21 },
    );
    // A Date is measured as its text; left-out values count as if written.
    expect(jsonBytesAtMost({ at: new Date(0), gone: undefined }, Infinity)).toBeGreaterThanOrEqual(
      exact({ at: new Date(0) }),
    );
  });

  it('decodes Date-only payloads itself, to what superjson decodes, and hands it anything else', () => {
    const cases: unknown[] = [
      ...direct.map(([, value]) => encode(value)),
      // Escaped keys, a Date on a number, a path that leads nowhere, an annotation superjson knows: superjson's.
      { json: { 'a.b': '1970-01-01T00:00:00.000Z' }, meta: { values: { 'a\\.b': ['Date'] }, v: 1 } },
      { json: { at: 0 }, meta: { values: { at: ['Date'] }, v: 1 } },
      { json: { at: '1970-01-01T00:00:00.000Z' }, meta: { values: { 'missing.at': ['Date'] }, v: 1 } },
      {
        json: { gone: null, at: '1970-01-01T00:00:00.000Z' },
        meta: { values: { gone: ['undefined'], at: ['Date'] }, v: 1 },
      },
      { json: [{ at: '2026-01-01T00:00:00.000Z' }], meta: { values: { '0.at': ['Date'] }, v: 1 } },
    ];
    for (const payload of cases) {
      const copy = () => JSON.parse(JSON.stringify(payload)) as never;
      const expected = (() => {
        try {
          return { value: superjson.deserialize(copy()) };
        } catch (error) {
          return { error: String(error) };
        }
      })();
      const actual = (() => {
        try {
          return { value: transformer.output.deserialize(copy()) };
        } catch (error) {
          return { error: String(error) };
        }
      })();
      expect(actual).toEqual(expected);
    }
  });
});

/**
 * The generated parse (shared/fast-parse.ts) answers only what zod accepts, with zod's own result: equal values,
 * keys in the same order, the input left as it was. Everything else it leaves to zod, whose refusals and
 * messages stay the only ones. Held on generated inputs: valid events of many types, then changed at random
 * places (values of every kind, keys removed, keys added).
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  answerOf,
  defineCatalogue,
  defineFamily,
  fastParse,
  fastSafeParse,
  limits,
  notAnswered,
  publishInputSchema,
  withFastParse,
} from '@switchboard/shared';
import * as fixtures from '../fixtures.js';

const metric = (i: number) => ({
  type: 'agent.metric',
  source: 'bench',
  correlationId: `run-${i}`,
  data: { agentId: `agent-${i}`, name: 'latency', value: i + 0.5, unit: 'ms' },
});

/** Valid inputs of many types and envelope fields; generated ones start from these. */
const seeds: unknown[] = [
  metric(1),
  { ...metric(2), key: 'k-2', timestamp: new Date(Date.UTC(2026, 0, 1)) },
  fixtures.agentStatus('coder-001'),
  fixtures.agentStatus('coder-002', 'idle', { key: 'k-3' }),
  fixtures.agentLog('coder-001', 'hello'),
  fixtures.workflowStarted('wf-1'),
  fixtures.workflowStepCompleted('wf-1', 'plan', 'build'),
  fixtures.workflowBlock('wf-1', 'plan'),
  fixtures.tddPhaseChanged('task-1', 'red'),
  fixtures.systemNotification('deployed'),
  fixtures.usageRecorded('coder-001', { input: 10, output: 5, cacheRead: 2 }, { model: 'm', costUsd: 0.01 }),
];

/** Values of every kind a field may be given, lawful or not. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '',
    '*',
    'a*b',
    'a\u0000b',
    'line\nbreak',
    'bell\u0007',
    'x'.repeat(limits.idLength + 1),
    'x'.repeat(limits.nameLength + 1),
    'éé',
    '😀'.repeat(limits.idLength),
    'busy',
    'idle',
    'agent.metric',
    'agent.status',
    'red',
  ),
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, -1, 100, 101, 1.5, Number.MAX_SAFE_INTEGER + 2),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant([]),
  fc.constant({}),
  fc.constant({ unknown: 1 }),
  fc.constant(new Date(Date.UTC(2026, 0, 1))),
  fc.constant(new Date(Number.NaN)),
  fc.constant(new Date(Date.now() + 365 * 86_400_000)),
  fc.constant([{ stepId: 'x' }]),
);

/** Every place in a value that holds an object or array: the paths a change may go to. */
function containers(value: unknown, path: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null || value instanceof Date) return [];
  const found = [path];
  for (const [key, child] of Object.entries(value)) {
    found.push(...containers(child, [...path, key]));
  }
  return found;
}

function at(value: unknown, path: string[]): Record<string, unknown> {
  let node = value;
  for (const key of path) node = (node as Record<string, unknown>)[key];
  return node as Record<string, unknown>;
}

interface Change {
  kind: 'set' | 'add' | 'remove';
  where: number;
  which: number;
  value: unknown;
  name: string;
}
const change: fc.Arbitrary<Change> = fc.record({
  kind: fc.constantFrom('set', 'set', 'add', 'remove'),
  where: fc.nat(),
  which: fc.nat(),
  value: anyValue,
  name: fc.constantFrom('extra', 'agentId', 'status', 'key', 'timestamp', 'type', 'data', 'unit', '__proto__'),
});

/** A seed changed at random places; a change that finds nothing to change leaves it as it was. */
function changed(seed: unknown, changes: readonly Change[]): unknown {
  const value = structuredClone(seed);
  for (const c of changes) {
    const places = containers(value);
    const path = places[c.where % places.length] ?? [];
    const target = at(value, path);
    const keys = Object.keys(target);
    const key = keys[c.which % Math.max(1, keys.length)];
    if (c.kind === 'add')
      Object.defineProperty(target, c.name, {
        value: structuredClone(c.value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else if (key !== undefined && c.kind === 'set') target[key] = structuredClone(c.value);
    else if (key !== undefined) Reflect.deleteProperty(target, key);
  }
  return value;
}

/** Each object's own keys in order, all the way down: what "the same result" must also keep. */
function keyOrder(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Date) return typeof value;
  return Object.entries(value).map(([key, child]) => [key, keyOrder(child)]);
}

/** A value as text, dates (invalid ones too) and undefined included: to tell that an input was left as it was. */
function snapshot(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, shown: unknown) {
    const raw = key === '' ? value : this[key];
    if (raw instanceof Date) return `Date(${raw.getTime()})`;
    if (typeof raw === 'bigint') return `${raw}n`;
    return raw === undefined ? 'undefined' : shown;
  });
}

/** What a parse does with an input: its result, or the error it throws (a refinement of one's own may throw). */
function outcome<T>(parse: () => T): { value: T } | { thrown: string } {
  try {
    return { value: parse() };
  } catch (error) {
    return { thrown: String(error) };
  }
}

/** How many inputs `agrees` saw answered: the generated cases must reach the answered path, not only refusals. */
let answeredCount = 0;

/** The property: an answer is zod's, and the input is left as it was; a parse that throws throws alike in both. */
function agrees(schema: z.ZodType, input: unknown): void {
  const before = snapshot(input);
  const answered = outcome(() => answerOf(schema)(input));
  const parsed = outcome(() => schema.safeParse(input));
  expect(snapshot(input)).toBe(before);
  if ('thrown' in parsed || 'thrown' in answered) {
    expect(answered).toEqual(parsed);
    return;
  }
  const answer = answered.value;
  const zod = parsed.value;
  if (answer !== notAnswered) answeredCount++;
  if (answer === notAnswered) return;
  expect(zod.success).toBe(true);
  expect(isDeepStrictEqual(answer, zod.data)).toBe(true);
  expect(keyOrder(answer)).toEqual(keyOrder(zod.data));
}

const batch = z.array(publishInputSchema).min(1).max(limits.batchSize);
const ingestInput = z.strictObject({ events: batch, after: z.string().min(1).optional() });

describe('the generated parse', () => {
  it('answers the events it can vouch for, with what zod returns', () => {
    const answer = answerOf(publishInputSchema);
    for (const seed of [metric(1), seeds[1], fixtures.agentStatus('coder-001'), fixtures.agentLog('coder-001', 'x')]) {
      const out = answer(seed);
      expect(out).not.toBe(notAnswered);
      expect(out).toEqual(publishInputSchema.parse(seed));
    }
    const events = Array.from({ length: limits.batchSize }, (_, i) => metric(i));
    expect(answerOf(ingestInput)({ events })).toEqual({ events: events.map((e) => publishInputSchema.parse(e)) });
  });

  it('agrees with zod on every generated single event', () => {
    answeredCount = 0;
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(change, { maxLength: 3 }), (seed, changes) => {
        agrees(publishInputSchema, changed(seed, changes));
      }),
      { numRuns: 3_000 },
    );
    // About a quarter are answered (the rest are refused, or hold free-form JSON that zod alone parses).
    expect(answeredCount).toBeGreaterThan(300);
  });

  it('agrees with zod on generated batches and ingest inputs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...seeds), fc.array(change, { maxLength: 1 })), { maxLength: 4 }),
        fc.option(anyValue, { nil: undefined }),
        fc.array(change, { maxLength: 2 }),
        (items, after, outer) => {
          const events = items.map(([seed, changes]) => changed(seed, changes));
          agrees(batch, events);
          agrees(ingestInput, changed(after === undefined ? { events } : { events, after }, outer));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('leaves every refusal to zod: the same error, the same message', () => {
    const bad = { ...metric(1), data: { ...metric(1).data, agentId: 'a*b' } };
    expect(answerOf(publishInputSchema)(bad)).toBe(notAnswered);
    const expected = publishInputSchema.safeParse(bad);
    expect(expected.success).toBe(false);
    expect(fastSafeParse(publishInputSchema)(bad)).toEqual(expected);
    const wrapped = withFastParse(publishInputSchema);
    for (const parse of [fastParse(publishInputSchema), (input: unknown) => wrapped.parse(input)]) {
      let thrown: unknown;
      try {
        parse(bad);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(z.ZodError);
      expect((thrown as z.ZodError).issues).toEqual(expected.error?.issues);
    }
  });

  it("leaves to zod what changes a value (a trim, a transform, a default), and zod's result stands", () => {
    const schema = z.strictObject({
      name: z.string().trim(),
      at: z.string().transform((s) => s.length),
      n: z.number().default(3),
    });
    const input = { name: ' x ', at: 'abc' };
    expect(answerOf(schema)(input)).toBe(notAnswered);
    expect(fastParse(schema)(input)).toEqual({ name: 'x', at: 3, n: 3 });
  });

  it("agrees with zod on what a team's own catalogue may use", () => {
    const sym = Symbol('s');
    const pools = defineFamily('pool', {
      scaled: {
        data: z.strictObject({
          poolId: z.string(),
          note: z.string().exactOptional(),
          link: z.url({ normalize: true }).optional(),
          size: z.int().min(0).optional(),
          shape: z
            .discriminatedUnion('ver', [z.strictObject({ ver: z.literal(1n) }), z.strictObject({ ver: z.literal(2n) })])
            .optional(),
          tag: z
            .string()
            .superRefine((value, ctx) => {
              ctx.value = value.trim();
            })
            .optional(),
          nonEmpty: z
            .string()
            .optional()
            .refine((value) => {
              // Thrown when the key is absent: zod runs an absent optional key's schema too.
              if (value === undefined) throw new Error('no value');
              return value.length > 0;
            }),
        }),
        topic: 'pool:{poolId}',
      },
    });
    const catalogue = defineCatalogue({ families: [pools] });
    const base = { type: 'pool.scaled', data: { poolId: 'p', nonEmpty: 'x' } };
    const inputs = [
      base,
      { ...base, data: { ...base.data, note: undefined } },
      { ...base, data: { ...base.data, note: 'n' } },
      { ...base, data: { ...base.data, link: ' HTTPS://Example.com ' } },
      { ...base, data: { ...base.data, size: 1.5 } },
      { ...base, data: { ...base.data, shape: { ver: 1n } } },
      { ...base, data: { ...base.data, tag: '  t  ' } },
      { ...base, data: { poolId: 'p' } },
      { ...base, data: { poolId: 'p', nonEmpty: '' } },
    ];
    for (const input of inputs) agrees(catalogue.publishInputSchema, input);
    // Answered: a URL normalised by its check, a value set by a refinement, both as zod leaves them.
    expect(answerOf(catalogue.publishInputSchema)(inputs[3])).toEqual(catalogue.publishInputSchema.parse(inputs[3]));
    expect(answerOf(catalogue.publishInputSchema)(inputs[6])).toMatchObject({ data: { tag: 't' } });
    // Not answered: an exact optional given undefined, a bigint discriminator, a shape with a symbol key.
    expect(answerOf(catalogue.publishInputSchema)(inputs[1])).toBe(notAnswered);
    expect(answerOf(catalogue.publishInputSchema)(inputs[5])).toBe(notAnswered);
    const symbolic = z.object({ [sym]: z.string() });
    expect(answerOf(symbolic)({})).toBe(notAnswered);
    expect(symbolic.safeParse({}).success).toBe(false);
  });

  it('leaves recursive schemas to zod, refuses an oversized array before walking it, runs absent keys as zod does', () => {
    // A recursive schema: zod keeps a cyclic or shared value's references; nothing of it is answered here.
    const tree: z.ZodType = z.object({
      name: z.string(),
      get children() {
        return z.array(tree).optional();
      },
    });
    const cyclic: { name: string; children: unknown[] } = { name: 'a', children: [] };
    cyclic.children.push(cyclic);
    expect(answerOf(tree)(cyclic)).toBe(notAnswered);
    expect(answerOf(tree)({ name: 'a' })).toBe(notAnswered);
    expect(fastParse(tree)({ name: 'a', children: [{ name: 'b' }] })).toEqual({ name: 'a', children: [{ name: 'b' }] });
    // Past its size limit an array goes to zod before any element is checked, as zod refuses it.
    let checked = 0;
    const few = z
      .array(
        z.string().refine(() => {
          checked++;
          return true;
        }),
      )
      .max(3);
    expect(answerOf(few)(['a', 'b', 'c', 'd'])).toBe(notAnswered);
    expect(checked).toBe(0);
    expect(answerOf(few)(['a', 'b'])).toEqual(['a', 'b']);
    // An absent optional key whose schema is not answered here still runs, as zod runs it.
    const throwing = z.object({
      a: z
        .string()
        .optional()
        .overwrite((value) => {
          if (value === undefined) throw new Error('ran on undefined');
          return value;
        }),
    });
    agrees(throwing, {});
    expect(() => answerOf(throwing)({})).toThrow('ran on undefined');
  });

  it('keeps what a plain object drops and a strict one refuses as zod does', () => {
    const plain = z.object({ a: z.string(), b: z.number().optional() });
    const strict = z.strictObject({ a: z.string(), b: z.number().optional() });
    agrees(plain, { a: 'x', extra: 1 });
    expect(answerOf(plain)({ a: 'x', extra: 1 })).toEqual({ a: 'x' });
    expect(answerOf(strict)({ a: 'x', extra: 1 })).toBe(notAnswered);
    expect(answerOf(strict)({ a: 'x', b: undefined })).toEqual({ a: 'x', b: undefined });
    expect(Object.keys(answerOf(strict)({ b: 1, a: 'x' }) as object)).toEqual(['a', 'b']);
    // A required key whose schema takes undefined still has to be there.
    const unknown = z.strictObject({ a: z.unknown() });
    expect(unknown.safeParse({}).success).toBe(false);
    expect(answerOf(unknown)({})).toBe(notAnswered);
    expect(answerOf(unknown)({ a: undefined })).toEqual({ a: undefined });
  });
});

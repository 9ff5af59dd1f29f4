/**
 * Event catalogues: the built-in agent / workflow / tdd / system families, extended by a team's own families.
 * A family is a set of event types `family.name`, each with a zod schema for its data, a topic rule and an
 * optional one-line summary. Everything here is plain zod and strings, so it runs in browsers as well.
 *
 *   const pools = defineFamily('pool', {
 *     scaled: { data: z.strictObject({ poolId: z.string(), size: z.int() }), topic: 'pool:{poolId}',
 *               summary: '{poolId} → {size} workers' },
 *   });
 *   export default defineCatalogue({ families: [pools] });
 *
 * Topic rules and summaries are templates (`{field}` is the data's value) or functions of the data; templates
 * are data, so the server can hand them to dashboards and other languages (`describe()`, `GET /schema`).
 */
import { z } from 'zod';
import type { producerFields } from './events.js';
import { checkDataSize, eventSchema, publishInputSchema, type EnvelopeFields, type StreamReset } from './events.js';
import { firehoseInputs } from './inputs.js';
import { builtinTopicRules, compileTemplate, TemplateFieldError, topicSchema } from './topics.js';

// ── 1. Definitions ──────────────────────────────────────────────────────────────────────────────────────────

/** An event's data: an object (so that the store can index ids in it and summaries can name fields). */
export type DataSchema = z.ZodType<Record<string, unknown>>;
/** Event type → data schema: what every type below is derived from. */
export type DataSchemas = Record<string, DataSchema>;

/** A topic rule or a summary: a template such as `pool:{poolId}`, or a function of the validated data. */
export type DataRule<D extends DataSchema> = string | ((data: z.output<D>) => string);

export interface EventDefinition<D extends DataSchema = DataSchema> {
  data: D;
  /** How the server derives the event's topic, e.g. `pool:{poolId}`. */
  topic: DataRule<D>;
  /** One line for logs and the dashboard, e.g. `{poolId} scaled to {size}`. */
  summary?: DataRule<D> | undefined;
}

export interface Family<M extends DataSchemas = DataSchemas> {
  readonly name: string;
  /** Keyed by the full type name (`pool.scaled`). */
  readonly events: Readonly<Record<string, EventDefinition>>;
  /** Carries the family's types for inference; never set at run time. */
  readonly '~schemas'?: M;
}

/** A family, event type or catalogue that cannot be used; thrown at definition time, so at server start. */
export class CatalogueError extends Error {
  override name = 'CatalogueError';
}

const namePart = /^[a-z][a-z0-9_]*$/;
/** `stream.reset` is the subscription's own notice; no family may take its name. */
const reservedFamilies = new Set(['stream']);

/** Defines a family: `defineFamily('pool', { scaled: { data, topic: 'pool:{poolId}' } })` has type `pool.scaled`. */
export function defineFamily<const F extends string, E extends DataSchemas>(
  family: F,
  events: { [K in keyof E]: EventDefinition<E[K]> },
): Family<{ [K in keyof E & string as `${F}.${K}`]: E[K] }> {
  if (!namePart.test(family)) {
    throw new CatalogueError(`family name "${family}" must be lower case letters, digits and _ (e.g. "pool")`);
  }
  if (reservedFamilies.has(family)) throw new CatalogueError(`family name "${family}" is reserved`);
  const defined: Record<string, EventDefinition> = {};
  for (const [name, definition] of Object.entries(events) as [string, EventDefinition][]) {
    if (!namePart.test(name)) {
      throw new CatalogueError(
        `event name "${family}.${name}" must be lower case letters, digits and _ after the family (e.g. "pool.scaled")`,
      );
    }
    if (!(definition.data instanceof z.ZodType)) {
      throw new CatalogueError(`event type "${family}.${name}" needs a zod schema as its data`);
    }
    defined[`${family}.${name}`] = definition;
  }
  if (Object.keys(defined).length === 0) throw new CatalogueError(`family "${family}" defines no event types`);
  return { name: family, events: defined };
}

// ── 2. Types derived from a catalogue ───────────────────────────────────────────────────────────────────────

type ProducerFields = typeof producerFields;
type Flat<T> = { [K in keyof T]: T[K] } & {};

export type EventTypeOf<M extends DataSchemas> = keyof M & string;
/** What a producer sends for the catalogue's events, narrowed by `type`. */
export type PublishInputOf<M extends DataSchemas> = {
  [T in EventTypeOf<M>]: Flat<
    { type: T; data: z.input<M[T]> } & { [K in keyof ProducerFields]?: z.input<ProducerFields[K]> }
  >;
}[EventTypeOf<M>];
/** A publish input after validation. */
export type ValidEventOf<M extends DataSchemas> = {
  [T in EventTypeOf<M>]: Flat<
    { type: T; data: z.output<M[T]> } & { [K in keyof ProducerFields]?: z.output<ProducerFields[K]> }
  >;
}[EventTypeOf<M>];
/** A stored event of the catalogue; narrow on `type` to get typed `data`. */
export type EnvelopeFor<M extends DataSchemas> = {
  [T in EventTypeOf<M>]: EnvelopeFields & { type: T; data: z.output<M[T]> };
}[EventTypeOf<M>];
export type StreamItemFor<M extends DataSchemas> = EnvelopeFor<M> | StreamReset;

type BuiltinOption = (typeof publishInputSchema)['options'][number];
/** The built-in types and their data schemas. */
export type BuiltinDataSchemas = { [O in BuiltinOption as O['shape']['type']['value']]: O['shape']['data'] };

type SchemasOf<F> = F extends Family<infer M> ? M : never;
type Intersect<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** The built-ins and every family's types, as one map. */
export type CatalogueSchemas<Fs extends readonly Family[]> =
  Flat<BuiltinDataSchemas & Intersect<SchemasOf<Fs[number]>>> extends infer M extends DataSchemas ? M : never;

// ── 3. The catalogue ────────────────────────────────────────────────────────────────────────────────────────

/** One event type as a dashboard or another language sees it: templates only, functions are left out. */
export interface EventTypeDescription {
  type: string;
  family: string;
  builtin: boolean;
  /** The topic template, or null when the rule is a function. */
  topic: string | null;
  /** The summary template, or null when there is none or it is a function. */
  summary: string | null;
}

export interface Catalogue<M extends DataSchemas = DataSchemas> {
  readonly types: readonly EventTypeOf<M>[];
  readonly typeSchema: z.ZodType<EventTypeOf<M>, EventTypeOf<M>>;
  /** Validates a publish input and checks its size and topic; a discriminated union on `type`. */
  readonly publishInputSchema: z.ZodType<ValidEventOf<M>, PublishInputOf<M>>;
  readonly eventsInput: ReturnType<typeof firehoseInputs<z.ZodType<EventTypeOf<M>, EventTypeOf<M>>>>['eventsInput'];
  readonly historyInput: ReturnType<typeof firehoseInputs<z.ZodType<EventTypeOf<M>, EventTypeOf<M>>>>['historyInput'];
  /** The definition of each type, built-ins included. */
  readonly definitions: ReadonlyMap<string, EventDefinition & { family: string; builtin: boolean }>;
  has(type: string): boolean;
  /** The topic of a validated event of this catalogue. */
  topicOf(event: { type: string; data: unknown }): string;
  /** The event's custom one-line summary, if its type has one (built-ins are summarised by the client). */
  summaryOf(event: { type: string; data: unknown }): string | undefined;
  describe(): EventTypeDescription[];
  readonly '~schemas'?: M;
}

/**
 * Any catalogue, whatever its families: what code that serves every catalogue alike (the server) holds. A
 * mapped copy of `Catalogue`, so that TypeScript compares members instead of guessing how `M` varies.
 */
export type AnyCatalogue = { [K in keyof Catalogue]: Catalogue[K] };

function ruleFunction(rule: DataRule<DataSchema>): (data: unknown) => string {
  if (typeof rule !== 'string') return rule as (data: unknown) => string;
  const compiled = compileTemplate(rule);
  return (data) => compiled.render(data);
}

function build<M extends DataSchemas>(families: readonly Family[]): Catalogue<M> {
  const definitions = new Map<string, EventDefinition & { family: string; builtin: boolean }>();
  for (const family of families) {
    for (const [type, definition] of Object.entries(family.events)) {
      const builtin = builtinTypes.has(type);
      if (definitions.has(type)) {
        throw new CatalogueError(
          definitions.get(type)?.builtin === true
            ? `event type "${type}" is built in; a catalogue cannot redefine it (give yours another family name)`
            : `event type "${type}" is defined twice (families "${definitions.get(type)?.family}" and "${family.name}")`,
        );
      }
      definitions.set(type, { ...definition, family: family.name, builtin });
    }
  }
  const topics = new Map([...definitions].map(([type, d]) => [type, ruleFunction(d.topic)]));
  const summaries = new Map(
    [...definitions].flatMap(([type, d]) =>
      d.summary === undefined ? [] : [[type, ruleFunction(d.summary)] as const],
    ),
  );
  const types = [...definitions.keys()] as EventTypeOf<M>[];
  const typeSchema = z.enum(types as [EventTypeOf<M>, ...EventTypeOf<M>[]]) as unknown as z.ZodType<
    EventTypeOf<M>,
    EventTypeOf<M>
  >;

  const topicOf = (event: { type: string; data: unknown }): string => {
    const rule = topics.get(event.type);
    if (!rule) throw new Error(`event type "${event.type}" is not in the catalogue`);
    return rule(event.data);
  };

  const custom = [...definitions].filter(([, d]) => !d.builtin);
  // Only the built-ins: exactly the contract's own schema. With families: the same checks over all types,
  // plus each custom topic, which is derived from data the family's author shaped (the built-ins' ids are
  // validated by their schemas already).
  const publish =
    custom.length === 0
      ? publishInputSchema
      : z
          .discriminatedUnion('type', [
            ...publishInputSchema.options,
            ...custom.map(([type, d]) => eventSchema(type, d.data)),
          ])
          .superRefine((input, ctx) => {
            checkDataSize(input, ctx);
            if (builtinTypes.has(input.type)) return;
            let topic: string;
            try {
              topic = topicOf(input);
            } catch (error) {
              const field = error instanceof TemplateFieldError ? error.field.split('.') : [];
              ctx.addIssue({
                code: 'custom',
                path: ['data', ...field],
                message: `the topic rule of ${input.type} failed: ${error instanceof Error ? error.message : String(error)}`,
              });
              return;
            }
            const checked = topicSchema.safeParse(topic);
            if (!checked.success) {
              ctx.addIssue({
                code: 'custom',
                path: ['data'],
                message: `the topic "${topic}" derived for ${input.type} is not usable: ${checked.error.issues[0]?.message ?? 'invalid'}`,
              });
            }
          });

  return {
    types,
    typeSchema,
    publishInputSchema: publish as unknown as Catalogue<M>['publishInputSchema'],
    ...(firehoseInputs(typeSchema) as Pick<Catalogue<M>, 'eventsInput' | 'historyInput'>),
    definitions,
    has: (type) => definitions.has(type),
    topicOf,
    summaryOf: (event) => {
      try {
        return summaries.get(event.type)?.(event.data);
      } catch {
        // A template naming an optional field the event lacks: the log falls back to type and topic.
        return undefined;
      }
    },
    describe: () =>
      [...definitions].map(([type, d]) => ({
        type,
        family: d.family,
        builtin: d.builtin,
        topic: typeof d.topic === 'string' ? d.topic : null,
        summary: typeof d.summary === 'string' ? d.summary : null,
      })),
  };
}

const builtinFamilies: Family[] = Object.entries(builtinTopicRules).map(([family, topic]) => ({
  name: family,
  events: Object.fromEntries(
    publishInputSchema.options
      .filter((o) => o.shape.type.value.startsWith(`${family}.`))
      .map((o) => [o.shape.type.value, { data: o.shape.data as DataSchema, topic }]),
  ),
}));
const builtinTypes = new Set<string>(publishInputSchema.options.map((o) => o.shape.type.value));

/** The built-in families alone: what the server serves without a catalogue module. */
export const builtinCatalogue: Catalogue<BuiltinDataSchemas> = build(builtinFamilies);

/**
 * The built-in families plus a team's own. Throws `CatalogueError` when a type is defined twice or redefines a
 * built-in one.
 */
export function defineCatalogue<const Fs extends readonly Family[]>(options: {
  families: Fs;
}): Catalogue<CatalogueSchemas<Fs>> {
  return build<CatalogueSchemas<Fs>>([...builtinFamilies, ...options.families]);
}

/** Summaries from a catalogue's description (what the server's `catalogue` query returns), for a log. */
export function summariesFrom(
  description: readonly EventTypeDescription[],
): (event: { type: string; data: unknown }) => string | undefined {
  const templates = new Map(
    description.flatMap((d) => (d.summary === null ? [] : [[d.type, compileTemplate(d.summary)] as const])),
  );
  return (event) => {
    const template = templates.get(event.type);
    if (!template) return undefined;
    try {
      return template.render(event.data);
    } catch {
      // An event stored before its type's summary named this field: the log falls back to type and topic.
      return undefined;
    }
  };
}

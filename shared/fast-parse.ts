import { z } from 'zod';

/**
 * zod's parse of a schema, answered without zod's general machinery where the value is one it certainly accepts.
 * Every event of every write is checked, and for the events this API takes zod spent most of its time in its
 * own walk (each schema's run, its check loop, the object and union steps: one function for every node, so each
 * call site in it sees every kind of node) rather than in the checks themselves (docs/performance-history.md). Here
 * the schema is read once and written out as source, one function per node, each calling its children and zod's own
 * checks of that node (its `min`, `max`, `regex`, `refine`, `superRefine` …, called as zod calls them) from call
 * sites of their own. A value is answered only through the node types below and only when every check passes,
 * with the value zod's parse returns, built the same way (objects and arrays copied, keys in the schema's order,
 * an absent optional key left out). Anything else (a failing check, an unknown key of a strict object, a node
 * type not listed, an exact optional, a symbol key, a recursive schema, a transform, a default, an async check) is not answered here:
 * zod's own parse runs, so every refusal and its message are zod's (a refused value is thus checked twice, the
 * price of the path every accepted one skips). test/core/fast-parse.test.ts holds the two to the same results on
 * generated input.
 */

/** A generated parse's answer for a value it does not vouch for: zod decides. */
export const notAnswered: unique symbol = Symbol('not answered');
export type NotAnswered = typeof notAnswered;

/** The parts of zod's internals read here (zod/v4/core's `$ZodTypeInternals`, as far as this needs). */
interface Internals {
  def: Def;
  traits: Set<string>;
  parse: (payload: Payload, ctx: { async: false }) => Payload | Promise<Payload>;
  run: (payload: Payload, ctx: { async: false }) => Payload | Promise<Payload>;
  check?: (payload: Payload) => unknown;
  optin?: 'optional' | 'defaulted';
  optout?: 'optional';
  propValues?: Record<string, Set<unknown>>;
}
interface Def {
  type: string;
  checks?: Schema[];
  coerce?: boolean;
  shape?: Record<string, Schema>;
  catchall?: Schema;
  element?: Schema;
  innerType?: Schema;
  options?: Schema[];
  discriminator?: string;
  unionFallback?: boolean;
  inclusive?: boolean;
  check?: string;
  when?: (payload: Payload) => boolean;
  maximum?: number;
  length?: number;
  size?: number;
}
interface Schema {
  _zod: Internals;
}
interface Payload {
  value: unknown;
  issues: unknown[];
}

const sync = { async: false } as const;

/** Leaf types whose zod parse reads nothing but the value (no children): run as zod runs them. */
const leaves = new Set(['date', 'literal', 'enum', 'null', 'unknown', 'any', 'undefined']);

/** The checks zod runs on a node after its parse: the node itself if it is a check (a format), then its own. */
function checksOf(zod: Internals): Internals[] | undefined {
  const checks = (zod.def.checks ?? []).map((check) => check._zod);
  if (zod.traits.has('$ZodCheck')) checks.unshift(zod);
  // An overwrite (`trim`, `toLowerCase`, …) changes the value: not answered here.
  return checks.some((check) => check.def.check === 'overwrite' || check.check === undefined) ? undefined : checks;
}

/**
 * The source of one function per schema node, and the values they read as constants. A node's function takes
 * the value and returns zod's result for it, or `U` (not answered); each call from one node to another, and each
 * call of one of zod's checks, is a call site of its own, so the engine sees one target at each.
 */
class Compiler {
  readonly consts: unknown[] = [];
  readonly functions: string[] = [];
  private readonly named = new Map<Internals, string>();
  /** Nodes whose function answers nothing (a kind not answered here). */
  private readonly stubs = new Set<string>();
  /** Nodes being written: meeting one again means the schema is recursive. */
  private readonly open = new Set<Internals>();
  /** A node met again while it was being written: zod keeps a recursive parse's shared and cyclic values, this does not. */
  recursive = false;
  private syncName: string | undefined;

  /** The parse context zod's own parse passes, as a constant. */
  private get sync(): string {
    this.syncName ??= this.constant(sync);
    return this.syncName;
  }

  /** A value the generated code reads as a constant. */
  constant(value: unknown): string {
    this.consts.push(value);
    return `c${this.consts.length - 1}`;
  }

  /** The function for a schema node, made once per node. */
  node(schema: Schema): string {
    const zod = schema._zod;
    if (this.open.has(zod)) this.recursive = true;
    const known = this.named.get(zod);
    if (known !== undefined) return known;
    const name = `f${this.named.size}`;
    this.named.set(zod, name);
    this.open.add(zod);
    const checks = checksOf(zod);
    const body = checks && this.body(zod);
    this.open.delete(zod);
    if (!checks || body === undefined) {
      this.functions.push(`function ${name}(v) { return U; }`);
      this.stubs.add(name);
      return name;
    }
    let code = body;
    if (checks.length > 0) {
      // As zod's runChecks with no issue so far: a check with a `when` runs if it says so, every other runs. A
      // check may set the value (a URL format normalises it): the result is what the checks leave, as in zod.
      code += 'const p = { value: o, issues: [] };\n';
      for (const check of checks) {
        const call = `{ const r = ${this.constant(check.check)}(p); if (r instanceof Promise || p.issues.length !== 0) return U; }`;
        code += check.def.when === undefined ? `${call}\n` : `if (${this.constant(check.def.when)}(p)) ${call}\n`;
      }
      code += 'return p.value;\n';
    } else {
      code += 'return o;\n';
    }
    this.functions.push(`function ${name}(v) {\n${code}}`);
    return name;
  }

  /** Code that sets `o` to the node's result for `v` (its checks aside), or returns U; undefined if not answered here. */
  private body(zod: Internals): string | undefined {
    const { def } = zod;
    if (def.coerce) return undefined;
    switch (def.type) {
      case 'string':
        return "if (typeof v !== 'string') return U;\nconst o = v;\n";
      case 'number':
        // zod's number: a number, not NaN, finite.
        return "if (typeof v !== 'number' || !Number.isFinite(v)) return U;\nconst o = v;\n";
      case 'boolean':
        return "if (typeof v !== 'boolean') return U;\nconst o = v;\n";
      case 'object':
        return this.object(def);
      case 'array': {
        if (!def.element) return undefined;
        const element = this.node(def.element);
        // zod refuses an array past its leading size checks before it walks it (util.sizeCaps): so does this.
        const caps: number[] = [];
        for (const check of def.checks ?? []) {
          const { check: kind, maximum, length, size } = check._zod.def;
          if (kind === undefined || !/_(length|size)$|_equals$/.test(kind)) break;
          const max = maximum ?? length ?? size;
          if (max !== undefined && max >= 0) caps.push(max);
        }
        const cap = caps.length > 0 ? `if (v.length > ${Math.min(...caps)}) return U;\n` : '';
        return (
          `if (!Array.isArray(v)) return U;\n${cap}const n = v.length;\nconst o = new Array(n);\n` +
          `for (let i = 0; i < n; i++) { const x = ${element}(v[i]); if (x === U) return U; o[i] = x; }\n`
        );
      }
      case 'optional':
      case 'nullable': {
        // An exact optional runs its inner type on undefined too (so refuses it): zod's.
        if (!def.innerType || def.innerType._zod.optin === 'defaulted' || zod.traits.has('$ZodExactOptional'))
          return undefined;
        const empty = def.type === 'optional' ? 'undefined' : 'null';
        const inner = this.node(def.innerType);
        return `let o = ${empty};\nif (v !== ${empty}) { o = ${inner}(v); if (o === U) return U; }\n`;
      }
      case 'union':
        return this.union(def);
      default: {
        if (!leaves.has(def.type)) return undefined;
        const parse = this.constant(zod.parse);
        return (
          `const q = { value: v, issues: [] };\nconst r = ${parse}(q, ${this.sync});\n` +
          'if (r instanceof Promise || q.issues.length !== 0) return U;\nconst o = q.value;\n'
        );
      }
    }
  }

  /**
   * An object: its shape's keys in order, each through its node; an absent optional key left out, a present one
   * kept (undefined included), as zod's object parse does. A strict object (catchall `never`) answers only when
   * the value has no other key, enumerable own or inherited (zod's `for … in`); a plain one drops other keys, as
   * zod does; any other catchall is zod's.
   */
  private object(def: Def): string | undefined {
    const { shape, catchall } = def;
    if (!shape) return undefined;
    const strict = catchall?._zod.def.type === 'never';
    if (catchall !== undefined && !strict) return undefined;
    // A shape keyed by symbols too is zod's.
    if (Object.getOwnPropertySymbols(shape).length > 0) return undefined;
    const keys = Object.keys(shape);
    let code = "if (typeof v !== 'object' || v === null || Array.isArray(v)) return U;\nconst o = {};\n";
    for (const key of keys) {
      const field = shape[key];
      if (key === '__proto__' || field === undefined) return undefined;
      const { optin, optout } = field._zod;
      // Required, or optional in and out; a default or another mix is zod's.
      if (optin !== undefined && !(optin === 'optional' && optout === 'optional')) return undefined;
      const k = JSON.stringify(key);
      const node = this.node(field);
      const read = `{ const x = ${node}(v[${k}]); if (x === U) return U; o[${k}] = x; }`;
      // zod runs an absent optional key's schema on undefined too and ignores its result; on undefined an optional
      // runs only its own checks, so where it has some, or is a kind not answered here, zod's own run runs (a
      // check that throws throws here too).
      const runs = this.stubs.has(node) || (checksOf(field._zod)?.length ?? 1) > 0;
      const absent = runs
        ? ` else { const r = ${this.constant(field._zod)}.run({ value: undefined, issues: [] }, ${this.sync}); if (r instanceof Promise) return U; }`
        : '';
      code += optin === undefined ? `if (!(${k} in v)) return U;\n${read}\n` : `if (${k} in v) ${read}${absent}\n`;
    }
    if (strict) {
      const known = keys.map((key) => `k !== ${JSON.stringify(key)}`).join(' && ');
      code += keys.length === 0 ? 'for (const k in v) return U;\n' : `for (const k in v) if (${known}) return U;\n`;
    }
    return code;
  }

  /**
   * A discriminated union: the option its discriminator's value names. A plain union: its first option only,
   * which is the one zod answers with whenever it accepts the value (zod takes the first that does); a value the
   * first refuses is zod's, since a later option is right only if every earlier one refuses it.
   */
  private union(def: Def): string | undefined {
    const options = def.options ?? [];
    if (def.discriminator === undefined) {
      if (def.inclusive === false || options[0] === undefined) return undefined;
      return `const o = ${this.node(options[0])}(v);\nif (o === U) return U;\n`;
    }
    if (def.unionFallback) return undefined;
    const d = JSON.stringify(def.discriminator);
    const seen = new Set<unknown>();
    let cases = '';
    for (const option of options) {
      const values = option._zod.propValues?.[def.discriminator];
      if (!values) return undefined;
      const name = this.node(option);
      for (const value of values) {
        // Case labels as JSON literals: strings, finite numbers, booleans and null only.
        const json =
          typeof value === 'string' ||
          typeof value === 'boolean' ||
          value === null ||
          (typeof value === 'number' && Number.isFinite(value));
        if (!json || seen.has(value)) return undefined;
        const literal = JSON.stringify(value);
        seen.add(value);
        cases += `case ${literal}: o = ${name}(v); break;\n`;
      }
    }
    return (
      "if (typeof v !== 'object' || v === null || Array.isArray(v)) return U;\nlet o;\n" +
      `switch (v[${d}]) {\n${cases}default: return U;\n}\nif (o === U) return U;\n`
    );
  }
}

/**
 * The schema's generated parse: zod's result for a value it vouches for, else `notAnswered`. Where the runtime
 * makes no code from strings (`--disallow-code-generation-from-strings`), it answers nothing and zod decides.
 */
export function answerOf<S extends z.ZodType>(schema: S): (input: unknown) => z.output<S> | NotAnswered {
  let answer = answers.get(schema);
  if (answer === undefined) {
    answer = generate(schema as unknown as Schema);
    answers.set(schema, answer);
  }
  return answer as (input: unknown) => z.output<S> | NotAnswered;
}

/** Each schema's generated parse, made once: a route that checks with a schema it is given asks every time. */
const answers = new WeakMap<object, (input: unknown) => unknown>();

function generate(schema: Schema): (input: unknown) => unknown {
  // Where zod makes no code from strings (`z.config({ jitless: true })`, or a runtime that refuses it: its own
  // probe, made once), neither does this.
  if (z.core.globalConfig.jitless === true || !z.core.util.allowsEval.value) return () => notAnswered;
  try {
    const compiler = new Compiler();
    const root = compiler.node(schema);
    if (compiler.recursive) return () => notAnswered;
    const constants = compiler.consts.map((_, i) => `c${i} = c[${i}]`).join(', ');
    const source = `"use strict";\n${constants ? `const ${constants};\n` : ''}${compiler.functions.join('\n')}\nreturn ${root};`;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the schema's own parser, made from its definition
    const make = new Function('c', 'U', source) as (c: unknown[], u: NotAnswered) => (input: unknown) => unknown;
    return make(compiler.consts, notAnswered);
  } catch {
    return () => notAnswered;
  }
}

/** `schema.parse`, answered first by the generated parse (see the top of this file). */
export function fastParse<S extends z.ZodType>(schema: S): (input: unknown) => z.output<S> {
  const answer = answerOf(schema);
  return (input) => {
    const out = answer(input);
    return out === notAnswered ? schema.parse(input) : out;
  };
}

/** `schema.safeParse`, answered first by the generated parse. */
export function fastSafeParse<S extends z.ZodType>(schema: S): (input: unknown) => z.ZodSafeParseResult<z.output<S>> {
  const answer = answerOf(schema);
  return (input) => {
    const out = answer(input);
    return out === notAnswered ? schema.safeParse(input) : { success: true, data: out };
  };
}

/**
 * The schema as a procedure's input parser (tRPC calls a zod schema's `parse`): the same schema, its types and
 * everything else unchanged, its `parse` answered first by the generated parse.
 */
export function withFastParse<S extends z.ZodType>(schema: S): S {
  return Object.assign(Object.create(schema) as S, { parse: fastParse(schema) });
}

/**
 * Topics and the topic-pattern grammar (docs/protocol.md states the same rules for other languages).
 *
 * The server derives every event's topic from its data; producers never set it:
 *   agent.*    → `agent:{agentId}`      workflow.* → `workflow:{workflowId}`
 *   tdd.*      → `tdd:{taskId}`         system.*   → `system`
 *   usage.*    → `agent:{agentId}`      otel.*     → `otel:{service}`
 *
 * A pattern is a topic in which `*` matches any run of characters, the empty run included:
 * `agent:*`, `workflow:wf-4*`, `*` (everything). Every other character matches itself, case-sensitively.
 *
 * The alphabet is closed: a topic holds only printable characters (no whitespace, no control, format,
 * surrogate or private-use characters) and no `*`; a pattern the same plus `*`, at most `limits.patternStars`
 * of them, `limits.topicLength` characters in all. Every input that carries a topic or a pattern is checked
 * here, so no store ever sees a character its own matcher treats specially (SQLite's GLOB stops at a NUL;
 * PostgreSQL refuses one), and matching costs at most a bounded scan per pattern.
 */
import { z } from 'zod';
import type { ValidEvent } from './events.js';
import { alphabetProblem, patternAlphabet } from './alphabet.js';
import { limits } from './limits.js';

/** How the built-in families derive topics, as templates (see `compileTemplate`). */
export const builtinTopicRules = {
  agent: 'agent:{agentId}',
  workflow: 'workflow:{workflowId}',
  tdd: 'tdd:{taskId}',
  system: 'system',
  // An agent's usage is part of what the agent did: read and publish scopes on `agent:` cover it.
  usage: 'agent:{agentId}',
  otel: 'otel:{service}',
} as const;

const builtinTopics = new Map(
  Object.entries(builtinTopicRules).map(([family, rule]) => [family, compileTemplate(rule)] as const),
);

/** The topic of a built-in event; a catalogue's `topicOf` covers its own families as well. */
export function topicOf(event: ValidEvent): string {
  const rule = builtinTopics.get(event.type.slice(0, event.type.indexOf('.')));
  // Every built-in type belongs to one of the families above; the type system cannot see the prefix.
  if (!rule) throw new Error(`no topic rule for ${event.type}`);
  return rule.render(event.data);
}

/**
 * The topic of one agent, workflow or TDD task, by the same rule `topicOf` applies to its events: for filters
 * and scope checks that name an entity rather than hold an event.
 */
export function entityTopic(family: 'agent' | 'workflow' | 'tdd', id: string): string {
  const rule = builtinTopics.get(family);
  const field = rule?.fields[0];
  // Each of these families' rules names exactly one field (builtinTopicRules above).
  if (!rule || field === undefined) throw new Error(`no topic rule for ${family}`);
  return rule.render({ [field]: id });
}

/** A value a template could not fill in: the field it names is missing or not a string or number. */
export class TemplateFieldError extends Error {
  constructor(readonly field: string) {
    super(`"${field}" must be a string or a number (the template names it)`);
    this.name = 'TemplateFieldError';
  }
}

export interface CompiledTemplate {
  readonly template: string;
  /** The fields it names, as dotted paths into the data (`{pool.id}`). */
  readonly fields: readonly string[];
  /** Fills in the fields; throws `TemplateFieldError` for one that is missing or not a string or number. */
  render(data: unknown): string;
}

function fieldValue(data: unknown, path: readonly string[]): unknown {
  let value = data;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * Compiles a template such as `pool:{poolId}` once; `{field}` (or `{a.b}` for a nested field) is replaced by
 * the data's value. Topic rules and one-line summaries of event families are written this way, so that they
 * are plain data a dashboard or another language can apply too.
 */
export function compileTemplate(template: string): CompiledTemplate {
  const parts = template.split(/\{([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\}/);
  // split with one capture group alternates literal text (even indexes) and field paths (odd indexes).
  const fields = parts.filter((_, i) => i % 2 === 1);
  const paths = fields.map((f) => f.split('.'));
  return {
    template,
    fields,
    render(data) {
      let out = parts[0] ?? '';
      for (let i = 1; i < parts.length; i += 2) {
        const value = fieldValue(data, paths[(i - 1) / 2] ?? []);
        if (typeof value !== 'string' && typeof value !== 'number') throw new TemplateFieldError(parts[i] ?? '');
        out += String(value) + (parts[i + 1] ?? '');
      }
      return out;
    },
  };
}

const countStars = (pattern: string): number => pattern.split('*').length - 1;

export const topicPatternSchema = z
  .string()
  .min(1)
  .max(limits.topicLength)
  .regex(patternAlphabet, { error: (issue) => `topic pattern ${alphabetProblem(String(issue.input)) ?? 'is empty'}` })
  .superRefine((pattern, ctx) => {
    const stars = countStars(pattern);
    if (stars > limits.patternStars) {
      ctx.addIssue({
        code: 'custom',
        message: `topic pattern has ${stars} "*"; at most ${limits.patternStars} are allowed (limits.patternStars): one "*" matches any run already`,
      });
    }
  });

/** A topic as the server derives it: the pattern alphabet without `*`. */
export const topicSchema = topicPatternSchema.refine((topic) => !topic.includes('*'), 'a topic may not contain "*"');

/**
 * Compiles a pattern to a predicate over topics, in time linear in the topic for every pattern the schema
 * accepts: the literal runs between stars are found left to right with `indexOf`, and the leftmost place for
 * each run is always as good as any later one (a `*` absorbs whatever lies between), so nothing backtracks.
 */
export function topicMatcher(pattern: string): (topic: string) => boolean {
  if (!pattern.includes('*')) return (topic) => topic === pattern;
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  const last = parts.at(-1) ?? '';
  const middle = parts.slice(1, -1).filter((part) => part !== '');
  const shortest = middle.reduce((sum, part) => sum + part.length, first.length + last.length);
  return (topic) => {
    if (topic.length < shortest || !topic.startsWith(first) || !topic.endsWith(last)) return false;
    const end = topic.length - last.length;
    let at = first.length;
    for (const part of middle) {
      const found = topic.indexOf(part, at);
      if (found < 0 || found + part.length > end) return false;
      at = found + part.length;
    }
    return true;
  };
}

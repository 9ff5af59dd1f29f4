/**
 * Topic scopes: which topics a token may read and which it may publish to, as topic patterns in the grammar of
 * `shared/topics.ts`. A direction without scopes is unrestricted (the role alone decides).
 *
 * Reads are narrowed where a request's filter is built, so the store's SQL and the live predicate both see the
 * narrowed topics and nothing outside the scopes is ever read, counted or sent. Narrowing keeps a requested
 * pattern that lies inside a scope, or a scope that lies inside a requested pattern; a pair that only partly
 * overlaps (`agent:*` against `*:team-a`) cannot be written as one pattern and is dropped, which can only ever
 * withhold events, never leak them.
 */
import { z } from 'zod';
import { topicMatcher, topicPatternSchema } from '@switchboard/shared';
import type { EventFilter } from '../core/filter.js';

export const scopesSchema = z.strictObject({
  /** Topics this token may subscribe to, query and read history of. */
  read: z.array(topicPatternSchema).min(1, 'list at least one pattern, or leave read out').optional(),
  /** Topics this token may publish to. */
  publish: z.array(topicPatternSchema).min(1, 'list at least one pattern, or leave publish out').optional(),
});
export type Scopes = z.output<typeof scopesSchema>;

/** Who holds the scopes, for messages: a token's name and its scopes. */
export interface Scoped {
  name: string;
  scopes?: Scopes | undefined;
}

/** A read or a publish outside the caller's scopes; the message names the topic and the token. */
export class ScopeError extends Error {
  override name = 'ScopeError';
}

/**
 * True when every topic `inner` matches is also matched by `outer`. With `*` as the only wildcard this holds
 * exactly when `outer` matches `inner` read as text in which each `*` can be consumed only by a `*` of `outer`.
 */
export function covers(outer: string, inner: string): boolean {
  const width = inner.length + 1;
  const memo = new Map<number, boolean>();
  const match = (i: number, j: number): boolean => {
    const key = i * width + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (i === outer.length) result = j === inner.length;
    else if (outer[i] === '*') result = match(i + 1, j) || (j < inner.length && match(i, j + 1));
    else result = j < inner.length && inner[j] !== '*' && inner[j] === outer[i] && match(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return match(0, 0);
}

/** The requested topic patterns narrowed to `scope`; undefined means "every topic". */
export function narrowTopics(
  requested: readonly string[] | undefined,
  scope: readonly string[] | undefined,
): readonly string[] | undefined {
  if (scope === undefined) return requested;
  if (requested === undefined) return scope;
  const narrowed = new Set<string>();
  for (const want of requested) {
    for (const allowed of scope) {
      if (covers(allowed, want)) narrowed.add(want);
      else if (covers(want, allowed)) narrowed.add(allowed);
    }
  }
  return [...narrowed];
}

/** The filter with its topics narrowed to what `who` may read; ScopeError when nothing is left. */
export function readableFilter(who: Scoped, filter: EventFilter): EventFilter {
  const scope = who.scopes?.read;
  if (scope === undefined) return filter;
  const topics = narrowTopics(filter.topics, scope);
  if (topics?.length === 0) {
    throw new ScopeError(
      `topics ${(filter.topics ?? []).join(', ')} are outside the read scopes of token "${who.name}" (${scope.join(', ')})`,
    );
  }
  return { ...filter, topics, scope };
}

/** A predicate for results that carry a topic (current-state queries). */
export function canRead(who: Scoped): (topic: string) => boolean {
  const scope = who.scopes?.read?.map(topicMatcher);
  return (topic) => scope === undefined || scope.some((match) => match(topic));
}

/** Throws ScopeError naming the first event whose topic lies outside `who`'s publish scopes. */
export function checkPublish(
  who: Scoped,
  events: readonly { type: string; data: unknown }[],
  topicOf: (event: { type: string; data: unknown }) => string,
): void {
  const scope = who.scopes?.publish;
  if (scope === undefined) return;
  const matchers = scope.map(topicMatcher);
  for (const event of events) {
    const topic = topicOf(event);
    if (!matchers.some((match) => match(topic))) {
      throw new ScopeError(
        `token "${who.name}" may not publish to topic ${topic} (its publish scopes: ${scope.join(', ')}); nothing was stored`,
      );
    }
  }
}

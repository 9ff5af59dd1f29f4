/**
 * Topic scopes: which topics a token may read and which it may publish to, as topic patterns in the grammar of
 * `shared/topics.ts`. A direction without scopes is unrestricted (the role alone decides).
 *
 * Reads carry the scope in the request's filter: a store selects events that match the requested topics AND
 * the scope, and the same predicate is checked again in code on every event before it leaves the server, so a
 * scoped reader gets exactly the events its scope and its request both match, whatever a store's matcher does.
 * A request none of whose patterns can match any topic in the scope is refused (FORBIDDEN) rather than answered
 * with nothing.
 */
import { topicMatcher } from '@switchboard/shared';
import type { EventFilter } from '../core/filter.js';
import type { Scopes } from '../ops/token-entries.js';

export { scopesSchema, type Scopes } from '../ops/token-entries.js';

/** Who holds the scopes, for messages: a token's name and its scopes (and whose keys it writes). */
export interface Scoped {
  name: string;
  scopes?: Scopes | undefined;
  keyOwner?: string;
}

/** A read or a publish outside the caller's scopes; the message names the topic and the token. */
export class ScopeError extends Error {
  override name = 'ScopeError';

  constructor(
    /** The refusal alone; the message adds what it meant for the request, when there is something to add. */
    readonly refusal: string,
    consequence?: string,
  ) {
    super(consequence === undefined ? refusal : `${refusal}; ${consequence}`);
  }
}

/**
 * True when some topic matches both patterns. With `*` as the only wildcard, walk both at once: equal literals
 * advance together, and a `*` on either side may match nothing (skip it) or swallow the other side's next
 * symbol (a literal, or a run of the other's `*`). Memoised over positions, so it costs at most the product of
 * the lengths, which `limits.topicLength` bounds.
 */
export function intersects(a: string, b: string): boolean {
  // Bottom-up over suffixes: meets(i, j) says a[i..] and b[j..] share a topic. One byte per pair of positions.
  const width = b.length + 1;
  const table = new Uint8Array((a.length + 1) * width);
  const meets = (i: number, j: number): boolean => table[i * width + j] === 1;
  for (let i = a.length; i >= 0; i--) {
    for (let j = b.length; j >= 0; j--) {
      let result: boolean;
      if (i === a.length && j === b.length) result = true;
      else if (a[i] === '*') result = meets(i + 1, j) || (j < b.length && meets(i, j + 1));
      else if (b[j] === '*') result = meets(i, j + 1) || (i < a.length && meets(i + 1, j));
      else result = i < a.length && j < b.length && a[i] === b[j] && meets(i + 1, j + 1);
      if (result) table[i * width + j] = 1;
    }
  }
  return meets(0, 0);
}

/** The filter with `who`'s read scope added; ScopeError when no requested pattern can meet the scope. */
export function readableFilter(who: Scoped, filter: EventFilter): EventFilter {
  const scope = who.scopes?.read;
  if (scope === undefined) return filter;
  const requested = filter.topics;
  if (requested !== undefined && !requested.some((want) => scope.some((allowed) => intersects(want, allowed)))) {
    throw new ScopeError(
      `topics ${requested.join(', ')} are outside the read scopes of token "${who.name}" (${scope.join(', ')})`,
    );
  }
  return { ...filter, scope };
}

/** A predicate for results that carry a topic (current-state queries). */
export function canRead(who: Scoped): (topic: string) => boolean {
  const scope = who.scopes?.read?.map(topicMatcher);
  return (topic) => scope === undefined || scope.some((match) => match(topic));
}

/** Throws ScopeError naming the first event whose topic lies outside `who`'s publish scopes. */
export function checkPublish(
  who: Scoped,
  events: readonly { type: string; data: unknown; key?: string | undefined }[],
  topicOf: (event: { type: string; data: unknown }) => string,
): void {
  // Every JWT without a subject writes keys into one namespace, where a repeat would answer with another
  // holder's event: such a token publishes without keys, or gets a `sub`.
  if (who.keyOwner === 'jwt:' && events.some((event) => event.key !== undefined)) {
    throw new ScopeError(
      `token "${who.name}" is a JWT without "sub" and cannot publish with idempotency keys (they would be shared with every such token); give it a subject`,
    );
  }
  const scope = who.scopes?.publish;
  if (scope === undefined) return;
  const matchers = scope.map(topicMatcher);
  for (const event of events) {
    const topic = topicOf(event);
    if (!matchers.some((match) => match(topic))) {
      throw new ScopeError(
        `token "${who.name}" may not publish to topic ${topic} (its publish scopes: ${scope.join(', ')})`,
        'nothing was stored',
      );
    }
  }
}

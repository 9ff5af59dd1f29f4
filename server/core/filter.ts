/**
 * The server-side event filter. Subscriptions and queries translate their inputs into one `EventFilter`; the
 * store turns it into SQL for the backlog, and `compileFilter` into a predicate for live events, so both halves
 * of a stream select exactly the same events.
 */
import { topicMatcher, type EventEnvelope, type ValidEvent } from '@switchboard/shared';

/** All present conditions must hold; within one condition any listed value matches. */
export interface EventFilter {
  /** Type names; a catalogue may define more than the built-in ones. */
  readonly types?: readonly string[] | undefined;
  /** Topic patterns (`*` wildcards). */
  readonly topics?: readonly string[] | undefined;
  readonly agentIds?: readonly string[] | undefined;
  readonly stepIds?: readonly string[] | undefined;
  /**
   * The caller's read scope (topic patterns), when it has one: an event must match `topics` (if given) and the
   * scope. Stores select by both; it is checked again in code on every event that leaves the server, whatever a
   * store matched, so that a store's matcher can never widen what a token reads.
   */
  readonly scope?: readonly string[] | undefined;
}

/** The ids a filter can select an event by, besides its type and topic; the store copies them into columns. */
export interface EventRefs {
  agentId: string | null;
  stepId: string | null;
}

const stringOrNull = (v: unknown) => (typeof v === 'string' ? v : null);

export function refsOf(event: Pick<ValidEvent, 'data'>): EventRefs {
  const data: Readonly<Record<string, unknown>> = event.data;
  return { agentId: stringOrNull(data.agentId), stepId: stringOrNull(data.stepId) };
}

export function compileFilter(filter: EventFilter): (event: EventEnvelope) => boolean {
  const types = filter.types && new Set<string>(filter.types);
  const topics = filter.topics?.map(topicMatcher);
  const scope = filter.scope?.map(topicMatcher);
  const agentIds = filter.agentIds && new Set(filter.agentIds);
  const stepIds = filter.stepIds && new Set(filter.stepIds);
  return (event) => {
    if (types && !types.has(event.type)) return false;
    if (topics && !topics.some((match) => match(event.topic))) return false;
    if (scope && !scope.some((match) => match(event.topic))) return false;
    if (agentIds || stepIds) {
      const refs = refsOf(event);
      if (agentIds && (refs.agentId === null || !agentIds.has(refs.agentId))) return false;
      if (stepIds && (refs.stepId === null || !stepIds.has(refs.stepId))) return false;
    }
    return true;
  };
}

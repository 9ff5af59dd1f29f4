import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { EventEnvelope, StreamItem } from '@switchboard/shared';
import { useBatched } from './hooks.js';
import { useTRPCClient } from './trpc.js';

/** Events grouped by entity (a workflow, a TDD task), each group in id order without duplicates. */
type EntityEvents = ReadonlyMap<string, readonly EventEnvelope[]>;

function merge(existing: readonly EventEnvelope[], incoming: readonly EventEnvelope[], cap: number) {
  const byId = new Map<string, EventEnvelope>();
  for (const e of existing) byId.set(e.id, e);
  for (const e of incoming) byId.set(e.id, e);
  const merged = [...byId.values()].sort((a, b) => Number(a.id) - Number(b.id));
  return merged.length > cap ? merged.slice(merged.length - cap) : merged;
}

/**
 * Keeps each entity's recent events from a live subscription, plus what `history` adds for entities that
 * arrived as a snapshot (the latest event only). A reset notice (retention) starts the groups over; the
 * snapshot that follows it refills them.
 */
function useEntityEvents(entityOf: (event: EventEnvelope) => string | undefined, cap: number) {
  const [entities, setEntities] = useState<EntityEvents>(new Map());
  const apply = useCallback(
    (batch: StreamItem[]) => {
      setEntities((previous) => {
        let next = new Map(previous);
        const incoming = new Map<string, EventEnvelope[]>();
        for (const item of batch) {
          if (item.type === 'stream.reset') {
            next = new Map();
            incoming.clear();
            continue;
          }
          const key = entityOf(item);
          if (key === undefined) continue;
          let list = incoming.get(key);
          if (!list) incoming.set(key, (list = []));
          list.push(item);
        }
        for (const [key, list] of incoming) next.set(key, merge(next.get(key) ?? [], list, cap));
        return next;
      });
    },
    [entityOf, cap],
  );
  const push = useBatched(apply);
  const add = useCallback(
    (key: string, events: readonly EventEnvelope[]) => {
      setEntities((previous) => new Map(previous).set(key, merge(previous.get(key) ?? [], events, cap)));
    },
    [cap],
  );
  return { entities, push, add };
}

/**
 * Loads, once per entity, its newest stored events. An entity that first showed up as a snapshot arrived as its
 * latest state-bearing event alone, and the stream went on from the store's head: this fills in its steps or its
 * phase history, both before that event and between it and the head. Events already held merge by id.
 */
function useBackfill(
  wanted: readonly { key: string; topic: string }[],
  limit: number,
  add: (key: string, events: readonly EventEnvelope[]) => void,
) {
  const client = useTRPCClient();
  const requested = useRef(new Set<string>());
  useEffect(() => {
    for (const { key, topic } of wanted) {
      if (requested.current.has(key)) continue;
      requested.current.add(key);
      client.history
        .query({ topics: [topic], order: 'desc', limit })
        .then((page) => {
          add(key, page.events);
        })
        .catch(() => {
          // Left as it is: the live events still show; the next reload tries again.
          requested.current.delete(key);
        });
    }
  }, [wanted, client, add, limit]);
}

/** What a panel derives from one entity's events. */
export interface EntityView {
  key: string;
}

export interface EntityPanel<V extends EntityView> {
  entityOf: (event: EventEnvelope) => string | undefined;
  /** Events kept per entity. */
  cap: number;
  toView: (key: string, events: readonly EventEnvelope[]) => V;
  compare: (a: V, b: V) => number;
  /** Entities shown (and filled in from history), the first in `compare` order. */
  shown: number;
}

/**
 * A panel of entities (workflows, TDD tasks) fed by one subscription: `push` takes what it yields; `views` are
 * sorted, and the shown ones that arrived as a snapshot get their earlier events from `history`, once.
 */
export function useEntityViews<V extends EntityView>(panel: EntityPanel<V>) {
  const { entities, push, add } = useEntityEvents(panel.entityOf, panel.cap);
  const views = useMemo(
    () => [...entities].map(([key, events]) => panel.toView(key, events)).sort(panel.compare),
    [entities, panel],
  );
  const wanted = useMemo(
    () =>
      views.slice(0, panel.shown).flatMap((v) => {
        // The server derives an event's topic from its entity: any of the entity's events names it.
        const topic = entities.get(v.key)?.[0]?.topic;
        return topic === undefined ? [] : [{ key: v.key, topic }];
      }),
    [views, panel, entities],
  );
  useBackfill(wanted, panel.cap, add);
  return { views, push };
}

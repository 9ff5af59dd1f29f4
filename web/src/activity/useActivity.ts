import { useCallback, useEffect, useRef, useState } from 'react';
import type { StreamItem } from '@switchboard/shared';
import { useFeed, useOlderPage, type FeedInput } from '../feed.js';
import { RateWindow } from './rates.js';

/** The window the chart shows, in buckets of 5 s. */
export const windowMs = 15 * 60_000;
const bucketMs = 5_000;
/** Agents charted one by one; the rest are added up as one series. */
export const otherAgents = 'other agents';
const maxAgents = 50;
const maxFamilies = 30;
/** History read on load, at most: pages of 1,000 events back to the window's start. */
const historyPages = 5;
const pageSize = 1_000;

const everything: FeedInput = {};

const familyOf = (event: StreamItem) => event.type.split('.')[0] ?? event.type;

/** The agent an event is about, when its data names one. */
function agentOf(event: StreamItem): string | undefined {
  const data = event.data as { agentId?: unknown } | null;
  return typeof data?.agentId === 'string' ? data.agentId : undefined;
}

/**
 * Events per second by family and by agent over the last 15 minutes: counted from the live stream, and from
 * history on load back to the window's start (up to 5 pages; the chart starts where that reached).
 */
export function useActivity() {
  const [windows] = useState(() => {
    const now = Date.now();
    return {
      families: new RateWindow(bucketMs, windowMs / bucketMs, maxFamilies, 'other', now),
      agents: new RateWindow(bucketMs, windowMs / bucketMs, maxAgents, otherAgents, now),
    };
  });
  const count = useCallback(
    (event: StreamItem) => {
      if (event.type === 'stream.reset') return;
      const at = event.timestamp.getTime();
      windows.families.add(familyOf(event), at);
      const agent = agentOf(event);
      if (agent !== undefined) windows.agents.add(agent, at);
    },
    [windows],
  );
  const feed = useFeed(everything, pageSize, count);
  const readOlder = useOlderPage(everything, pageSize);
  // Bumped when history has been counted, so the chart redraws without waiting for its next tick.
  const [loaded, setLoaded] = useState(0);
  // History counted so far reaches down to this id: a page is counted once, even when the effect runs again.
  const countedBelow = useRef(Infinity);
  const { start } = feed;
  useEffect(() => {
    if (!start || !('head' in start)) return;
    const abort = new AbortController();
    const from = Date.now() - windowMs;
    (async () => {
      let page: { events: readonly StreamItem[]; hasMore: boolean } = { events: start.events, hasMore: start.hasOlder };
      for (let read = 1; ; read++) {
        for (const event of page.events) if (Number(event.id) < countedBelow.current) count(event);
        const oldest = page.events.at(-1);
        if (oldest) countedBelow.current = Math.min(countedBelow.current, Number(oldest.id));
        const reachedStart = !page.hasMore || oldest === undefined || oldest.timestamp.getTime() < from;
        if (reachedStart || read >= historyPages) {
          // Counted back to the window's start, or only back to the oldest event read.
          const coveredFrom = reachedStart ? from : oldest.timestamp.getTime();
          windows.families.coveredFrom(coveredFrom);
          windows.agents.coveredFrom(coveredFrom);
          break;
        }
        page = await readOlder(oldest.id, abort.signal);
      }
      if (!abort.signal.aborted) setLoaded((n) => n + 1);
    })().catch(() => {
      // The live stream still counts; the chart begins where the page opened.
    });
    return () => {
      abort.abort();
    };
  }, [start, count, readOlder, windows]);
  return { windows, error: feed.error, loaded };
}

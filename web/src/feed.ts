/**
 * Reading the event log as the page's views do (the event log, the activity chart, a session's transcript): the
 * store's head first, then the newest page below it from `history`, then the `events` subscription from exactly
 * that head. Nothing falls between the page and the live events, and nothing comes twice.
 */
import { skipToken } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { EventType, StreamItem } from '@switchboard/shared';
import { useTRPC, useTRPCClient } from './trpc.js';

/** Which events a feed reads: the server applies both filters, for the pages and the live events alike. */
export interface FeedInput {
  topics?: string[];
  types?: EventType[];
}

/** Where a feed stands once it has read its first page. */
export type FeedStart =
  | {
      /** The newest event id when the feed opened; live events are those after it. */
      head: string;
      /** The newest page at or below `head`, newest first. */
      events: readonly StreamItem[];
      hasOlder: boolean;
    }
  | { error: string };

export interface Feed {
  start: FeedStart | null;
  /** The page could not be read, or the subscription failed. */
  error: string | null;
  /** The id of the newest event received (the page's head until a live event arrives). */
  lastReceived: { readonly current: string };
}

/**
 * One feed: `input` must keep its identity while the feed should (memoise it); a new input starts over. Each
 * live event goes to `onLive` as it arrives.
 */
export function useFeed(input: FeedInput, pageSize: number, onLive: (item: StreamItem) => void): Feed {
  const client = useTRPCClient();
  const trpc = useTRPC();
  const [start, setStart] = useState<FeedStart | null>(null);
  const lastReceived = useRef('0');
  const latestOnLive = useRef(onLive);
  useEffect(() => {
    latestOnLive.current = onLive;
  }, [onLive]);

  useEffect(() => {
    const abort = new AbortController();
    const { signal } = abort;
    setStart(null);
    (async () => {
      // The head first, then the page below it: events after the head come through the subscription.
      const head = (await client.history.query({ order: 'desc', limit: 1 }, { signal })).events[0]?.id ?? '0';
      const page = await client.history.query(
        { ...input, order: 'desc', before: String(Number(head) + 1), limit: pageSize },
        { signal },
      );
      if (signal.aborted) return;
      lastReceived.current = head;
      setStart({ head, events: page.events, hasOlder: page.hasMore });
    })().catch((error: unknown) => {
      if (!signal.aborted) setStart({ error: error instanceof Error ? error.message : String(error) });
    });
    return () => {
      abort.abort();
    };
  }, [client, input, pageSize]);

  const subscription = useSubscription(
    trpc.events.subscriptionOptions(start && 'head' in start ? { ...input, lastEventId: start.head } : skipToken, {
      onData: ({ data }) => {
        lastReceived.current = data.id;
        latestOnLive.current(data);
      },
    }),
  );
  const error =
    start && 'error' in start ? start.error : subscription.status === 'error' ? subscription.error.message : null;
  return { start, error, lastReceived };
}

/** Reads the page of events just older than `before`, newest first. */
export function useOlderPage(input: FeedInput, pageSize: number) {
  const client = useTRPCClient();
  return useCallback(
    (before: string, signal?: AbortSignal) =>
      client.history.query({ ...input, order: 'desc', before, limit: pageSize }, { signal }),
    [client, input, pageSize],
  );
}

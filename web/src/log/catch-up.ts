import { useCallback, useEffect, useRef } from 'react';
import type { ConnectionState } from '../../../client/client.js';
import type { FeedInput } from '../feed.js';
import { useTRPCClient } from '../trpc.js';

/** Where the firehose stands after a reconnect: replaying what it missed, or caught up (and how much it replayed). */
export type SyncState =
  { phase: 'live' } | { phase: 'catching-up'; replayed: number } | { phase: 'caught-up'; replayed: number; at: number };

/** How often a catch-up in progress asks again whether anything is left. */
const recheckMs = 200;

/**
 * After a reconnect the client resubscribes from the last id it saw and the server replays what was missed.
 * This tells `onSync` how far that went: caught up once nothing matching the feed's filter is left between the
 * last id received and the head at the moment of reconnecting. `received` counts each event that arrives.
 */
export function useCatchUp({
  connection,
  started,
  lastReceived,
  input,
  onSync,
}: {
  connection: ConnectionState;
  /** The feed has read its first page: only a drop after that is a reconnect to report. */
  started: boolean;
  lastReceived: { readonly current: string };
  input: FeedInput;
  onSync: (sync: SyncState) => void;
}): () => void {
  const client = useTRPCClient();
  const replayed = useRef<number | null>(null);
  const wasDown = useRef(false);
  useEffect(() => {
    if (connection.state !== 'open') {
      if (started) wasDown.current = true;
      return;
    }
    if (!wasDown.current) return;
    wasDown.current = false;
    replayed.current = 0;
    onSync({ phase: 'catching-up', replayed: 0 });
    const abort = new AbortController();
    const { signal } = abort;
    let timer: number | undefined;
    const check = async () => {
      const head = (await client.history.query({ order: 'desc', limit: 1 }, { signal })).events[0]?.id ?? '0';
      for (;;) {
        signal.throwIfAborted();
        const missing =
          Number(lastReceived.current) >= Number(head)
            ? []
            : (
                await client.history.query(
                  { ...input, after: lastReceived.current, before: String(Number(head) + 1), limit: 1 },
                  { signal },
                )
              ).events;
        signal.throwIfAborted();
        if (missing.length === 0) {
          onSync({ phase: 'caught-up', replayed: replayed.current ?? 0, at: Date.now() });
          replayed.current = null;
          return;
        }
        onSync({ phase: 'catching-up', replayed: replayed.current ?? 0 });
        await new Promise((resolve) => {
          timer = window.setTimeout(resolve, recheckMs);
        });
      }
    };
    check().catch(() => {
      // Stopped, or the connection dropped again: the next reconnect starts a new check.
    });
    return () => {
      abort.abort();
      window.clearTimeout(timer);
    };
  }, [connection.state, client, input, onSync, started, lastReceived]);

  return useCallback(() => {
    if (replayed.current !== null) replayed.current++;
  }, []);
}

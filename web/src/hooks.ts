import { useCallback, useEffect, useRef, useState } from 'react';
import type { Connection, ConnectionState } from '../../client/client.js';

/**
 * Collects items as they arrive and hands them over in one batch at most every `intervalMs`, so hundreds of
 * events a second cost a few renders a second rather than one each.
 */
export function useBatched<T>(flush: (batch: T[]) => void, intervalMs = 100): (item: T) => void {
  const buffer = useRef<T[]>([]);
  const timer = useRef<number | undefined>(undefined);
  const latestFlush = useRef(flush);
  useEffect(() => {
    latestFlush.current = flush;
  }, [flush]);
  useEffect(
    () => () => {
      window.clearTimeout(timer.current);
    },
    [],
  );
  return useCallback(
    (item: T) => {
      buffer.current.push(item);
      if (timer.current !== undefined) return;
      timer.current = window.setTimeout(() => {
        timer.current = undefined;
        const batch = buffer.current;
        buffer.current = [];
        latestFlush.current(batch);
      }, intervalMs);
    },
    [intervalMs],
  );
}

/** The current time, refreshed every `intervalMs`, for "5 s ago" labels. */
export function useNow(intervalMs = 1_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => {
      setNow(Date.now());
    }, intervalMs);
    return () => {
      window.clearInterval(timer);
    };
  }, [intervalMs]);
  return now;
}

/** The WebSocket's state, as the typed client reports it. */
export function useConnectionState(connection: Connection): ConnectionState {
  const [state, setState] = useState(connection.current);
  useEffect(() => connection.subscribe(setState), [connection]);
  return state;
}

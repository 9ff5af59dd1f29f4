import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * Pause for a stream of batches: while `paused`, arrivals wait here (the newest `max` of them) and are counted;
 * on resume they go to `deliver` in one batch, in the order they came.
 */
export function useHeld<T>(paused: boolean, deliver: (batch: readonly T[]) => void, max: number) {
  const held = useRef<T[]>([]);
  const [heldCount, setHeldCount] = useState(0);
  const pausedRef = useRef(paused);
  useEffect(() => {
    pausedRef.current = paused;
    if (!paused && held.current.length > 0) {
      deliver(held.current);
      held.current = [];
      setHeldCount(0);
    }
  }, [paused, deliver]);
  const take = useCallback(
    (batch: T[]) => {
      if (pausedRef.current) {
        held.current = held.current.concat(batch).slice(-max);
        setHeldCount(held.current.length);
      } else deliver(batch);
    },
    [deliver, max],
  );
  return { take, heldCount };
}

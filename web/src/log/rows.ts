import { useCallback, useState } from 'react';
import type { StreamItem } from '@switchboard/shared';

/**
 * The rows the log holds, newest first and at most `maxRows`: the feed's first page, live events put on top,
 * older pages added below.
 */
export function useLogRows(maxRows: number) {
  const [rows, setRows] = useState<readonly StreamItem[]>([]);
  const [hasOlder, setHasOlder] = useState(false);
  /** The feed's first page. */
  const reset = useCallback((events: readonly StreamItem[], more: boolean) => {
    setRows(events);
    setHasOlder(more);
  }, []);
  /** Live events, oldest first. */
  const prepend = useCallback(
    (batch: readonly StreamItem[]) => {
      setRows((previous) => [...batch].reverse().concat(previous).slice(0, maxRows));
    },
    [maxRows],
  );
  /** The page below `oldest`; dropped if the rows changed underneath it (a new start). */
  const appendOlder = useCallback(
    (oldest: string, page: { events: readonly StreamItem[]; hasMore: boolean }) => {
      setRows((previous) =>
        previous.at(-1)?.id === oldest ? previous.concat(page.events).slice(0, maxRows) : previous,
      );
      setHasOlder(page.hasMore);
    },
    [maxRows],
  );
  return { rows, hasOlder, reset, prepend, appendOlder };
}

import { useEffect, useState } from 'react';
import type { StreamItem } from '@switchboard/shared';

/**
 * Loads the next older page when the reader nears the end of what the log holds, one page at a time, until the
 * store has no more or the log holds `maxRows`.
 */
export function useOlderPages({
  nearEnd,
  hasOlder,
  rows,
  maxRows,
  readOlder,
  appendOlder,
}: {
  nearEnd: boolean;
  hasOlder: boolean;
  rows: readonly StreamItem[];
  maxRows: number;
  readOlder: (before: string) => Promise<{ events: readonly StreamItem[]; hasMore: boolean }>;
  appendOlder: (oldest: string, page: { events: readonly StreamItem[]; hasMore: boolean }) => void;
}) {
  const [loading, setLoading] = useState(false);
  const oldest = rows.at(-1)?.id;
  const full = rows.length >= maxRows;
  useEffect(() => {
    if (!nearEnd || !hasOlder || loading || oldest === undefined || full) return;
    setLoading(true);
    readOlder(oldest)
      .then((page) => {
        appendOlder(oldest, page);
      })
      .catch(() => {
        // Scrolling to the end again retries.
      })
      .finally(() => {
        setLoading(false);
      });
  }, [nearEnd, hasOlder, loading, oldest, full, readOlder, appendOlder]);
}

import { useEffect } from 'react';
import type { StreamItem } from '@switchboard/shared';
import type { ConnectionState } from '../../../client/client.js';
import { useFeed, useOlderPage, type FeedInput } from '../feed.js';
import { useBatched } from '../hooks.js';
import type { Summarize } from '../summaries.js';
import { useCatchUp, type SyncState } from './catch-up.js';
import { useHeld } from './held.js';
import { LogRow } from './LogRow.js';
import { useOlderPages } from './older.js';
import { useLogRows } from './rows.js';
import { useVirtualRows } from './virtual.js';

/** The log keeps at most this many events in memory and renders only the rows in view. */
export const maxRows = 5_000;
const pageSize = 200;
export const rowHeight = 24;
const overscan = 12;

interface Props {
  input: FeedInput;
  paused: boolean;
  connection: ConnectionState;
  onSync: (sync: SyncState) => void;
  summarize: Summarize;
  selectedId: string | undefined;
  onOpen: (event: StreamItem) => void;
}

/**
 * One filter's log: the feed's newest page, then its live events on top (held while paused); older pages as
 * the reader scrolls towards the end; the rows in view.
 */
export function LogStream({ input, paused, connection, onSync, summarize, selectedId, onOpen }: Props) {
  const older = useOlderPage(input, pageSize);
  const { rows, hasOlder, reset, prepend, appendOlder } = useLogRows(maxRows);
  const held = useHeld(paused, prepend, maxRows);
  const push = useBatched(held.take);
  const feed = useFeed(input, pageSize, (item) => {
    received();
    push(item);
  });
  const { start } = feed;
  useEffect(() => {
    if (start && 'head' in start) reset(start.events, start.hasOlder);
  }, [start, reset]);
  const received = useCatchUp({
    connection,
    started: start !== null && 'head' in start,
    lastReceived: feed.lastReceived,
    input,
    onSync,
  });
  const view = useVirtualRows(rows, rowHeight, overscan);
  useOlderPages({ nearEnd: view.nearEnd, hasOlder, rows, maxRows, readOlder: older, appendOlder });

  return (
    <div className="log-main">
      <div className="log-status small muted" data-testid="log-status">
        {rows.length} events{rows[0] && ` · newest #${rows[0].id}`}
        {paused && <span className="held"> · paused, {held.heldCount} new held</span>}
        {feed.error && <span className="error"> · {feed.error}</span>}
      </div>
      <div className="log-scroll" ref={view.scroller} data-testid="log-scroll" onScroll={view.onScroll}>
        <div style={{ height: rows.length * rowHeight, position: 'relative' }} role="list" aria-label="events">
          {rows.slice(view.first, view.last).map((event, i) => (
            <LogRow
              key={event.id}
              event={event}
              summary={summarize(event)}
              top={(view.first + i) * rowHeight}
              height={rowHeight}
              selected={event.id === selectedId}
              onOpen={onOpen}
            />
          ))}
        </div>
        {!hasOlder && rows.length > 0 && rows.length < maxRows && (
          <div className="log-end small muted">the start of what is stored</div>
        )}
        {rows.length >= maxRows && (
          <div className="log-end small muted">
            showing the newest {maxRows} events; older ones: <code>switchboard history</code>
          </div>
        )}
      </div>
    </div>
  );
}

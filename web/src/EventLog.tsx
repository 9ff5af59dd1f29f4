import { skipToken, useQuery } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { ConnectionState } from '../../client/client.js';
import { summarizeEvent } from '../../client/summary.js';
import {
  eventTypes,
  summariesFrom,
  topicMatcher,
  type AnyEnvelope,
  type EventType,
  type StreamItem,
} from '@switchboard/shared';
import { clock, pretty } from './format.js';
import { useBatched } from './hooks.js';
import { useTRPC, useTRPCClient } from './trpc.js';

/** The log keeps at most this many events in memory and renders only the rows in view. */
const maxRows = 5_000;
const pageSize = 200;
const rowHeight = 26;
const overscan = 12;

export interface LogFilter {
  topic?: string;
  type?: EventType;
}

/** Whether the log under `filter` holds `event`: the server's own matching, so that both ends agree. */
function matches(filter: LogFilter, event: StreamItem): boolean {
  return (
    (filter.type === undefined || filter.type === event.type) &&
    (filter.topic === undefined || topicMatcher(filter.topic)(event.topic))
  );
}

/** Where the firehose stands after a reconnect: replaying what it missed, or caught up (and how much it replayed). */
export type SyncState =
  { phase: 'live' } | { phase: 'catching-up'; replayed: number } | { phase: 'caught-up'; replayed: number; at: number };

interface Props {
  connection: ConnectionState;
  onSync: (sync: SyncState) => void;
}

/** The firehose with filters, pause, a detail view and history paging on scroll. */
export function EventLog({ connection, onSync }: Props) {
  const [filter, setFilter] = useState<LogFilter>({});
  const [topicDraft, setTopicDraft] = useState('');
  const [paused, setPaused] = useState(false);
  const [selected, setSelected] = useState<StreamItem | null>(null);
  // The detail view shows an event of the log: a filter that leaves it out closes the view.
  const applyFilter = (next: LogFilter) => {
    setFilter(next);
    if (selected && !matches(next, selected)) setSelected(null);
  };
  useEffect(() => {
    if (!selected) return;
    const close = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setSelected(null);
    };
    window.addEventListener('keydown', close);
    return () => {
      window.removeEventListener('keydown', close);
    };
  }, [selected]);

  return (
    <section className="panel log" aria-labelledby="log-title">
      <header>
        <h2 id="log-title">Event log</h2>
        <form
          className="filters"
          onSubmit={(e) => {
            e.preventDefault();
            const topic = topicDraft.trim();
            applyFilter({ ...filter, topic: topic === '' ? undefined : topic });
          }}
        >
          <input
            type="search"
            placeholder="topic pattern, e.g. agent:*"
            title="A topic pattern such as agent:* or workflow:wf-42; * matches any run of characters"
            aria-label="Topic pattern"
            value={topicDraft}
            onChange={(e) => {
              setTopicDraft(e.target.value);
            }}
          />
          <select
            aria-label="Event type"
            value={filter.type ?? ''}
            onChange={(e) => {
              const type = eventTypes.find((t) => t === e.target.value);
              applyFilter({ ...filter, type });
            }}
          >
            <option value="">all types</option>
            {eventTypes.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
          <button type="submit">Apply</button>
        </form>
        <button
          type="button"
          className={paused ? 'active' : ''}
          aria-pressed={paused}
          onClick={() => {
            setPaused((p) => !p);
          }}
        >
          {paused ? 'Resume' : 'Pause'}
        </button>
      </header>
      <div className="log-body">
        <LogStream
          key={JSON.stringify(filter)}
          filter={filter}
          paused={paused}
          connection={connection}
          onSync={onSync}
          selectedId={selected?.id}
          onSelect={setSelected}
        />
        {selected && (
          <aside className="detail" aria-label="event detail">
            <div className="detail-head">
              <strong>
                #{selected.id} {selected.type}
              </strong>
              <button
                type="button"
                aria-label="Close detail"
                onClick={() => {
                  setSelected(null);
                }}
              >
                ✕
              </button>
            </div>
            <pre>{pretty(selected)}</pre>
          </aside>
        )}
      </div>
    </section>
  );
}

interface StreamProps {
  filter: LogFilter;
  paused: boolean;
  connection: ConnectionState;
  onSync: (sync: SyncState) => void;
  selectedId: string | undefined;
  onSelect: (event: StreamItem) => void;
}

/**
 * One filter's log: the newest page from `history`, then the `events` subscription from exactly that point, so
 * nothing falls between the two; older pages load as the view nears the end of what is held.
 */
function LogStream({ filter, paused, connection, onSync, selectedId, onSelect }: StreamProps) {
  const trpc = useTRPC();
  // Events of the server's own families are summarised by their catalogue's templates.
  const catalogue = useQuery(trpc.catalogue.queryOptions(undefined, { staleTime: Infinity }));
  const custom = useMemo(() => summariesFrom(catalogue.data ?? []), [catalogue.data]);
  const client = useTRPCClient();
  const input = useMemo(
    () => ({
      ...(filter.topic !== undefined && { topics: [filter.topic] }),
      ...(filter.type !== undefined && { types: [filter.type] }),
    }),
    [filter],
  );
  const [start, setStart] = useState<{ head: string } | { error: string } | null>(null);
  /** Newest first. */
  const [rows, setRows] = useState<readonly StreamItem[]>([]);
  const [hasOlder, setHasOlder] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const lastReceived = useRef('0');
  const replayed = useRef<number | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    const { signal } = abort;
    (async () => {
      // The head first, then the page below it: events after the head come through the subscription.
      const head = (await client.history.query({ order: 'desc', limit: 1 }, { signal })).events[0]?.id ?? '0';
      const page = await client.history.query(
        { ...input, order: 'desc', before: String(Number(head) + 1), limit: pageSize },
        { signal },
      );
      if (signal.aborted) return;
      lastReceived.current = head;
      setRows(page.events);
      setHasOlder(page.hasMore);
      setStart({ head });
    })().catch((error: unknown) => {
      if (!signal.aborted) setStart({ error: error instanceof Error ? error.message : String(error) });
    });
    return () => {
      abort.abort();
    };
  }, [client, input]);

  const prepend = useCallback((batch: readonly StreamItem[]) => {
    setRows((previous) => [...batch].reverse().concat(previous).slice(0, maxRows));
  }, []);
  // While paused, arrivals wait here (bounded like the log) and go in on resume.
  const held = useRef<StreamItem[]>([]);
  const [heldCount, setHeldCount] = useState(0);
  const pausedRef = useRef(paused);
  useEffect(() => {
    pausedRef.current = paused;
    if (!paused && held.current.length > 0) {
      prepend(held.current);
      held.current = [];
      setHeldCount(0);
    }
  }, [paused, prepend]);
  const apply = useCallback(
    (batch: StreamItem[]) => {
      if (pausedRef.current) {
        held.current = held.current.concat(batch).slice(-maxRows);
        setHeldCount(held.current.length);
      } else prepend(batch);
    },
    [prepend],
  );
  const push = useBatched(apply);
  const subscription = useSubscription(
    trpc.events.subscriptionOptions(start && 'head' in start ? { ...input, lastEventId: start.head } : skipToken, {
      onData: ({ data }) => {
        lastReceived.current = data.id;
        if (replayed.current !== null) replayed.current++;
        push(data);
      },
    }),
  );

  // After a reconnect the client resubscribes from the last id it saw; caught up once nothing matching this
  // filter is left between that id and the head at the moment of reconnecting.
  const wasDown = useRef(false);
  useEffect(() => {
    if (connection.state !== 'open') {
      if (start && 'head' in start) wasDown.current = true;
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
          timer = window.setTimeout(resolve, 200);
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
  }, [connection.state, client, input, onSync, start]);

  // Virtual scrolling: only the rows in view (and a few around them) are in the DOM.
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(400);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => {
      setViewHeight(el.clientHeight);
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
    };
  }, []);
  // Rows added above keep the view still for a reader who has scrolled down.
  const firstId = useRef<string | undefined>(undefined);
  useLayoutEffect(() => {
    const el = scroller.current;
    const previous = firstId.current;
    firstId.current = rows[0]?.id;
    if (!el || previous === undefined || el.scrollTop === 0) return;
    const added = rows.findIndex((r) => r.id === previous);
    if (added > 0) el.scrollTop += added * rowHeight;
  }, [rows]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewHeight) / rowHeight) + overscan);
  const oldest = rows.at(-1)?.id;
  const nearEnd = last >= rows.length - overscan;
  useEffect(() => {
    if (!nearEnd || !hasOlder || loadingOlder || oldest === undefined || rows.length >= maxRows) return;
    setLoadingOlder(true);
    client.history
      .query({ ...input, order: 'desc', before: oldest, limit: pageSize })
      .then((page) => {
        setRows((previous) => {
          const tail = previous.at(-1);
          if (tail?.id !== oldest) return previous;
          return previous.concat(page.events).slice(0, maxRows);
        });
        setHasOlder(page.hasMore);
      })
      .catch(() => {
        // Scrolling to the end again retries.
      })
      .finally(() => {
        setLoadingOlder(false);
      });
  }, [nearEnd, hasOlder, loadingOlder, oldest, rows.length, client, input]);

  const error =
    start && 'error' in start ? start.error : subscription.status === 'error' ? subscription.error.message : null;
  return (
    <div className="log-main">
      <div className="log-status small muted" data-testid="log-status">
        {rows.length} events{rows[0] && ` · newest #${rows[0].id}`}
        {paused && <span className="held"> · paused, {heldCount} new held</span>}
        {error && <span className="error"> · {error}</span>}
      </div>
      <div
        className="log-scroll"
        ref={scroller}
        data-testid="log-scroll"
        onScroll={(e) => {
          setScrollTop(e.currentTarget.scrollTop);
        }}
      >
        <div style={{ height: rows.length * rowHeight, position: 'relative' }} role="list">
          {rows.slice(first, last).map((event, i) => (
            <div
              key={event.id}
              role="listitem"
              className={`row${event.id === selectedId ? ' selected' : ''}`}
              data-event-id={event.id}
              style={{ top: (first + i) * rowHeight, height: rowHeight }}
              onClick={() => {
                onSelect(event);
              }}
            >
              <span className="mono muted">#{event.id}</span>
              <span className="mono muted clock">{clock(event.timestamp)}</span>
              <span className={`type family-${event.type.split('.')[0] ?? ''}`} title={event.type}>
                {event.type}
              </span>
              <span className="mono topic" title={event.topic}>
                {event.topic}
              </span>
              <Summary event={event} custom={custom} />
            </div>
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

function Summary({
  event,
  custom,
}: {
  event: StreamItem;
  custom: ((event: AnyEnvelope) => string | undefined) | undefined;
}) {
  const summary = summarizeEvent(event, undefined, custom);
  return (
    <span className="summary" title={summary}>
      {summary}
    </span>
  );
}

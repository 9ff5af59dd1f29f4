import { useCallback, useMemo, useState } from 'react';
import type { ConnectionState } from '../../client/client.js';
import { eventTypes, topicMatcher, type EventType, type StreamItem } from '@switchboard/shared';
import { eventDetail } from './drawer/details.js';
import { useDrawer } from './drawer/Drawer.js';
import type { FeedInput } from './feed.js';
import type { SyncState } from './log/catch-up.js';
import { LogStream } from './log/LogStream.js';
import { useSummarize } from './summaries.js';

export type { SyncState } from './log/catch-up.js';

export interface LogFilter {
  topic?: string;
  type?: EventType;
}

/** Whether the log under `filter` holds `event`: the server's own matching, so that both ends agree. */
function matches(filter: LogFilter, event: { type: string; topic: string }): boolean {
  return (
    (filter.type === undefined || filter.type === event.type) &&
    (filter.topic === undefined || topicMatcher(filter.topic)(event.topic))
  );
}

const feedInput = (filter: LogFilter): FeedInput => ({
  ...(filter.topic !== undefined && { topics: [filter.topic] }),
  ...(filter.type !== undefined && { types: [filter.type] }),
});

interface Props {
  connection: ConnectionState;
  onSync: (sync: SyncState) => void;
}

/** The firehose with filters (applied by the server), pause, and each event's detail in the drawer. */
export function EventLog({ connection, onSync }: Props) {
  const [filter, setFilter] = useState<LogFilter>({});
  const [topicDraft, setTopicDraft] = useState('');
  const [paused, setPaused] = useState(false);
  const input = useMemo(() => feedInput(filter), [filter]);
  const summarize = useSummarize();
  const drawer = useDrawer();
  const shown = drawer.detail?.kind === 'event' ? drawer.detail.events[0] : undefined;
  // The drawer shows an event of the log: a filter that leaves it out closes it.
  const applyFilter = (next: LogFilter) => {
    setFilter(next);
    if (shown && !matches(next, shown)) drawer.close();
  };
  const { open } = drawer;
  const onOpen = useCallback(
    (event: StreamItem) => {
      open(eventDetail(event, summarize(event)));
    },
    [open, summarize],
  );

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
      <LogStream
        key={JSON.stringify(filter)}
        input={input}
        paused={paused}
        connection={connection}
        onSync={onSync}
        summarize={summarize}
        selectedId={shown?.id}
        onOpen={onOpen}
      />
    </section>
  );
}

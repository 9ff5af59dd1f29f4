import type { StreamItem } from '@switchboard/shared';
import { clock } from '../format.js';

/** One event of the log, on one line; a click, Enter or Space opens it in the drawer. */
export function LogRow({
  event,
  summary,
  top,
  height,
  selected,
  onOpen,
}: {
  event: StreamItem;
  summary: string;
  top: number;
  height: number;
  selected: boolean;
  onOpen: (event: StreamItem) => void;
}) {
  return (
    <div
      role="listitem"
      tabIndex={0}
      aria-current={selected || undefined}
      className={`row${selected ? ' selected' : ''}`}
      data-event-id={event.id}
      style={{ top, height }}
      onClick={() => {
        onOpen(event);
      }}
      onKeyDown={(e) => {
        if (e.key !== 'Enter' && e.key !== ' ') return;
        e.preventDefault();
        onOpen(event);
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
      <span className="summary" title={summary}>
        {summary}
      </span>
    </div>
  );
}

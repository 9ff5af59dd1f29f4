/**
 * One subscriber's stream: snapshot or backlog from the store, then live events from the bus, with no gap and
 * no duplicate across the boundary.
 *
 * Why it is gap-free: the feed subscribes to the bus *before* the store is read. Any event missing from that
 * read committed after it began, so it was published after the feed subscribed, so the feed holds it. Events
 * present in both are dropped by id (`id <= cursor`), which is strictly increasing.
 *
 * Why memory stays bounded: the feed buffers at most `bufferLimit` events. Past that it drops its buffer and
 * the stream reads the missed range back from the store, which has every event anyway.
 */
import { errorReasons, type EventEnvelope, type StreamItem, type StreamReset } from '../shared/index.js';
import { ReasonedError } from './errors.js';
import type { EventBus } from './bus/types.js';
import type { EventFilter } from './filter.js';
import { compileFilter } from './filter.js';
import type { EventStore, Snapshot } from './store/types.js';

/** Events read from the store per query while catching up. */
const pageSize = 500;

type FeedResult = readonly EventEnvelope[] | 'overflow' | 'aborted';

class LiveFeed {
  private buffer: EventEnvelope[] = [];
  private overflowed = false;
  private wake: (() => void) | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    bus: EventBus,
    private readonly matches: (event: EventEnvelope) => boolean,
    private readonly bufferLimit: number,
    private readonly signal: AbortSignal,
  ) {
    this.unsubscribe = bus.subscribe((events) => {
      this.push(events);
    });
    signal.addEventListener('abort', this.notify);
  }

  private readonly notify = () => {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  };

  private push(events: readonly EventEnvelope[]): void {
    if (this.overflowed) return;
    for (const event of events) {
      if (!this.matches(event)) continue;
      if (this.buffer.length >= this.bufferLimit) {
        this.overflowed = true;
        this.buffer = [];
        break;
      }
      this.buffer.push(event);
    }
    this.notify();
  }

  /** Waits for buffered events, an overflow (read the store instead) or the end of the subscription. */
  async next(): Promise<FeedResult> {
    while (!this.signal.aborted && !this.overflowed && this.buffer.length === 0) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.signal.aborted) return 'aborted';
    if (this.overflowed) {
      this.overflowed = false;
      return 'overflow';
    }
    const events = this.buffer;
    this.buffer = [];
    return events;
  }

  close(): void {
    this.unsubscribe();
    this.signal.removeEventListener('abort', this.notify);
  }
}

export interface StreamOptions {
  filter: EventFilter;
  /** Resume after this id; the caller has validated it as a decimal id. */
  lastEventId?: string | undefined;
  /** Without a cursor: yield this current state first. Absent: live only. */
  snapshot?: (() => Promise<Snapshot>) | undefined;
  signal: AbortSignal;
  bufferLimit: number;
}

/** Thrown when a cursor is ahead of the store: this server never issued it (a replaced or reset database). */
export class CursorAheadError extends ReasonedError {
  constructor(message: string) {
    super(errorReasons.invalidCursor, message);
    this.name = 'CursorAheadError';
  }
}

export async function* streamEvents(
  store: EventStore,
  bus: EventBus,
  options: StreamOptions,
): AsyncGenerator<StreamItem, void, undefined> {
  const { filter, signal } = options;
  const matches = compileFilter(filter);
  const feed = new LiveFeed(bus, matches, options.bufferLimit, signal);
  try {
    let cursor: number;
    if (options.lastEventId !== undefined) {
      cursor = Number(options.lastEventId);
      const head = await store.headId();
      if (cursor > head) {
        throw new CursorAheadError(
          `lastEventId ${cursor} is ahead of the newest stored event ${head}; this server has no such history ` +
            '(was the database replaced?). Subscribe without lastEventId, or with "0" to replay everything kept.',
        );
      }
      const watermark = await store.retentionWatermark();
      if (cursor < watermark) {
        // Retention deleted events after this cursor: say so, then give the current state, never a silent gap.
        yield resetNotice(cursor, watermark);
        if (options.snapshot) {
          const snapshot = await options.snapshot();
          for (const item of snapshot.items) yield item;
          cursor = snapshot.headId;
        } else {
          cursor = watermark;
        }
      }
    } else if (options.snapshot) {
      const snapshot = await options.snapshot();
      for (const item of snapshot.items) yield item;
      cursor = snapshot.headId;
    } else {
      cursor = await store.headId();
    }

    cursor = yield* catchUp(store, filter, cursor, signal);
    while (!signal.aborted) {
      const next = await feed.next();
      if (next === 'aborted') return;
      if (next === 'overflow') {
        cursor = yield* catchUp(store, filter, cursor, signal);
        continue;
      }
      for (const event of next) {
        const id = Number(event.id);
        if (id <= cursor) continue;
        yield event;
        cursor = id;
      }
    }
  } finally {
    feed.close();
  }
}

function resetNotice(requestedAfter: number, watermark: number): StreamReset {
  return {
    id: String(watermark),
    type: 'stream.reset',
    topic: 'system',
    timestamp: new Date(),
    data: { reason: 'retention', requestedAfter: String(requestedAfter), retainedAfter: String(watermark) },
  };
}

/** Yields every stored event after `cursor` that passes the filter; returns the new cursor. */
async function* catchUp(
  store: EventStore,
  filter: EventFilter,
  from: number,
  signal: AbortSignal,
): AsyncGenerator<EventEnvelope, number, undefined> {
  let cursor = from;
  while (!signal.aborted) {
    const page = await store.readAfter(cursor, filter, pageSize);
    for (const event of page) {
      yield event;
      cursor = Number(event.id);
    }
    if (page.length < pageSize) break;
  }
  return cursor;
}

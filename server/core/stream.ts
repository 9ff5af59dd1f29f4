/**
 * One subscriber's stream: snapshot or backlog from the store, then live events, with no gap and no duplicate
 * across the boundary. Streams are pushed to: one dispatcher per hub takes each committed batch from the bus
 * and offers every event to every open stream, which hands the ones it wants to its sink synchronously. There
 * is no iterator, promise or buffer per subscriber on the live path.
 *
 * Why it is gap-free: a stream is registered with the dispatcher *before* the store is read. Any event missing
 * from that read committed after it began, so it was published after registration, so the stream holds it in
 * its catch-up buffer. Events present in both are dropped by id (`id <= cursor`), which is strictly increasing.
 * The buffer is drained and the stream turns live in the same synchronous step, after the last read.
 *
 * Why memory stays bounded: while catching up a stream buffers at most `bufferLimit` live events; past that it
 * drops the buffer and reads the missed range back from the store, which has every event anyway. A sink that
 * cannot take more (its `push` returns false) pauses the stream: live events are then skipped, and `resume()`
 * reads them back from the store. Catching up also asks the sink whether it is `ready` after every item, so a
 * replay (or a snapshot) goes at the pace the subscriber drains, however far behind it is or however large. A
 * paused replay keeps what it read of its page up to `keptReplayBytes` and sends it first on `resume()`; a paused
 * snapshot keeps the rest of the snapshot.
 */
import { StoreUnavailableError } from './unavailable.js';
import { errorReasons, parseCursor, type EventEnvelope, type StreamItem, type StreamReset } from '@switchboard/shared';
import type { EventBus } from './bus.js';
import { writtenDataJson } from './envelope.js';
import { ReasonedError } from './errors.js';
import { compileFilter, type EventFilter } from './filter.js';
import type { EventStore, Snapshot } from './store.js';
import type { PathTracer } from './trace.js';

/** The longest pause between two reads of a store that cannot be reached. */
const storeRetryMaxMs = 2_000;

/** Events read from the store per query while catching up. */
const pageSize = 1_000;

/**
 * What a paused catch-up keeps of the page it read, at most, counted as the events' stored data plus
 * `envelopeBytes` each: the rest goes first on resume, and what lies past it is read from the store again. A page
 * of events of a few hundred bytes is kept whole; a page of large ones is not held for a subscriber that stopped
 * reading.
 */
export const keptReplayBytes = 512 * 1024;
/** An envelope's fields other than its data, counted against `keptReplayBytes`. */
const envelopeBytes = 256;

/** The first of `events` from `from` on that fit in `keptReplayBytes`. */
function keptOf(events: readonly EventEnvelope[], from: number): EventEnvelope[] {
  let bytes = 0;
  let end = from;
  for (; end < events.length; end++) {
    const event = events[end];
    bytes += envelopeBytes + (event ? (writtenDataJson(event)?.length ?? 0) : 0);
    if (bytes > keptReplayBytes) break;
  }
  return events.slice(from, end);
}

export interface StreamSink {
  /**
   * Takes one item. `shared` is true for a live event, the same object every subscriber gets (worth caching
   * anything derived from it), false for one read or made for this subscriber alone. Returns false when it
   * holds as much as it can: the stream pauses until `resume()`. `more` is true when this stream takes further
   * live events of the same dispatch (a group commit of several) after this one: a transport may hold it and
   * write them all with the last, which comes with `more` false.
   */
  push(item: StreamItem, shared: boolean, more?: boolean): boolean;
  /** The stream failed (a cursor from another database, a store error); nothing follows. */
  fail(error: unknown): void;
  /**
   * Asked after each item pushed while catching up from the store: false pauses the catch-up, and the sink
   * calls `resume` once it can take more (a socket that has drained). Absent: always ready.
   */
  ready?(resume: () => void): boolean;
  /**
   * Told once the stream has fixed where it starts (its cursor, or the snapshot it read), before its first item:
   * every event committed after this is delivered. A transport acknowledges the subscription here.
   */
  started?(): void;
}

export interface StreamOptions {
  filter: EventFilter;
  /** Resume after this cursor (shared/cursor.ts); the caller has validated it. */
  lastEventId?: string | undefined;
  /** Without a cursor: yield this current state first. Absent: live only. */
  snapshot?: (() => Promise<Snapshot>) | undefined;
  bufferLimit: number;
}

/**
 * Thrown when a cursor is ahead of the store: this server never issued it (a replaced or reset database whose
 * cursor carries no epoch, or a restored backup not given a new epoch, `switchboard new-epoch`).
 */
export class CursorAheadError extends ReasonedError {
  constructor(message: string) {
    super(errorReasons.invalidCursor, message);
    this.name = 'CursorAheadError';
  }
}

type State = 'catching-up' | 'live' | 'paused' | 'closed';

export class EventStream {
  private state: State = 'catching-up';
  private cursor = 0;
  private buffer: EventEnvelope[] = [];
  private overflowed = false;
  /**
   * Read from the store but not yet pushed when the sink asked to wait: at most `keptReplayBytes` of a replay's
   * page, or what is left of a snapshot (which, unlike a replay, cannot be read again from the cursor).
   */
  private unsent: EventEnvelope[] = [];
  private unsentIsSnapshot = false;
  /** `resume` bound to this stream, made the first time a sink may need it (not per event, not per idle stream). */
  private wake: (() => void) | undefined;
  private readonly matches: (event: EventEnvelope) => boolean;

  constructor(
    private readonly store: EventStore,
    private readonly dispatcher: Dispatcher,
    private readonly options: StreamOptions,
    private readonly sink: StreamSink,
  ) {
    this.matches = compileFilter(options.filter);
    dispatcher.add(this);
    void this.run(this.begin());
  }

  /**
   * Called by the dispatcher with every committed event, in id order; `id` is `Number(event.id)`. `more`: this
   * stream takes another event of the same dispatch after this one (see `offerAll`).
   */
  offer(event: EventEnvelope, id = Number(event.id), more = false): void {
    if (this.state === 'live') {
      if (!this.matches(event)) return;
      if (id <= this.cursor) return;
      this.cursor = id;
      if (!this.sink.push(event, true, more)) this.state = 'paused';
    } else if (this.state === 'catching-up') {
      if (this.overflowed || !this.matches(event)) return;
      if (this.buffer.length >= this.options.bufferLimit) {
        this.overflowed = true;
        this.buffer = [];
      } else {
        this.buffer.push(event);
      }
    }
    // Paused: skipped here, read back from the store on resume. Closed: nothing.
  }

  /**
   * A dispatch of several events (one group commit's), each with its id: while live, the sink is told of every
   * pushed event but the last this stream takes that more follow, so a transport can write them together and
   * then at once. The last match is found first, from the end (for a stream that takes everything, one check).
   */
  offerAll(events: readonly EventEnvelope[], ids: readonly number[]): void {
    let last = events.length - 1;
    if (this.state === 'live') {
      for (; last >= 0; last--) {
        const event = events[last];
        if (event !== undefined && (ids[last] ?? 0) > this.cursor && this.matches(event)) break;
      }
    }
    for (let i = 0; i <= last; i++) {
      const event = events[i];
      if (event !== undefined) this.offer(event, ids[i], i < last);
    }
  }

  /** After the sink returned false: catch up from the store, then go live again. */
  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'catching-up';
    this.buffer = [];
    this.overflowed = false;
    void this.run(Promise.resolve());
  }

  /**
   * Pushes `events` (in id order, after the cursor; or snapshot items, at or below it) until the sink asks to
   * wait; false if it did.
   */
  private pushPage(events: readonly EventEnvelope[], snapshot = false): boolean {
    for (const [i, event] of events.entries()) {
      if (!snapshot) this.cursor = Number(event.id);
      const full = !this.sink.push(event, false);
      // A sink may close the stream from inside push (its connection was cut).
      if (!this.is('catching-up')) return false;
      if (full || (this.sink.ready && !this.sink.ready(this.waker()))) {
        this.state = 'paused';
        this.buffer = [];
        this.overflowed = false;
        // The rest of the page goes first on resume, whichever way the sink asked to wait, up to
        // `keptReplayBytes`: reading it back from the store would fetch the same rows again. The rest of a snapshot
        // is kept whole: it cannot be read again, the cursor being past it.
        this.unsent = snapshot ? events.slice(i + 1) : keptOf(events, i + 1);
        this.unsentIsSnapshot = snapshot;
        return false;
      }
    }
    return true;
  }

  /** Ends the stream with `error` (its sink threw): nothing follows. */
  fail(error: unknown): void {
    if (this.state === 'closed') return;
    this.close();
    this.sink.fail(error);
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.buffer = [];
    this.unsent = [];
    this.dispatcher.remove(this);
  }

  /** Rows a store selected, checked again in code against a scoped caller's filter: the scope has the last word. */
  private checked(rows: EventEnvelope[]): EventEnvelope[] {
    return this.options.filter.scope === undefined ? rows : rows.filter(this.matches);
  }

  /** `resume` bound to this stream, for a sink's `ready`: made once, on first use. */
  private waker(): () => void {
    return (this.wake ??= this.resume.bind(this));
  }

  /** The state, read afresh: a sink or an await may change it under a narrowed `this.state`. */
  private is(state: State): boolean {
    return this.state === state;
  }

  private async run(start: Promise<void>): Promise<void> {
    try {
      await start;
      await this.catchUp();
    } catch (error) {
      this.fail(error);
    }
  }

  /** Sets the starting cursor, pushing a reset notice and/or the snapshot first where they apply. */
  private async begin(): Promise<void> {
    const { store, options, sink } = this;
    if (options.lastEventId !== undefined) {
      const requested = options.lastEventId;
      const cursor = parseCursor(requested);
      // Validated by the caller's input schema; a cursor that still does not parse is refused the same way.
      if (cursor === undefined)
        throw new CursorAheadError(`lastEventId "${requested}" is not a cursor this server sent`);
      // A cursor from another log (its epoch is not this store's): its id means nothing here, so it resumes as
      // "0" does, told so by a reset notice rather than served this log's events as if they followed its own.
      const foreign = cursor.epoch !== undefined && cursor.epoch !== store.epoch();
      const after = foreign ? 0 : cursor.after;
      const head = await store.headId();
      if (after > head) {
        throw new CursorAheadError(
          `lastEventId ${requested} is ahead of the newest stored event ${head}; this server has no such history ` +
            '(was the database replaced?). Subscribe without lastEventId, or with "0" to replay everything kept.',
        );
      }
      const watermark = await store.retentionWatermark();
      if (this.state === 'closed') return;
      if (!foreign && after >= watermark) {
        this.cursor = after;
        sink.started?.();
        return;
      }
      // Retention deleted events after this cursor, or it is another log's: say so, then give what follows
      // (the current state once anything was deleted), never a silent gap.
      this.cursor = Math.max(after, watermark);
      sink.started?.();
      sink.push(resetNotice(foreign ? 'epoch' : 'retention', requested, watermark), false);
      // Nothing of this log was deleted: a foreign cursor gets all of it, from the first event.
      if (after >= watermark) return;
    } else if (!options.snapshot) {
      // Live only: from the newest event this process has dispatched. The store's head can be ahead of it (a
      // commit whose bus message has not reached this process yet: another node's, or this one's in the moment
      // between commit and publish); starting at the head would drop those as already seen when they arrive.
      // What lies between is read from the store, and duplicates are dropped by id.
      const head = await store.headId();
      const dispatched = this.dispatcher.position;
      this.cursor = dispatched === undefined ? head : Math.min(head, dispatched);
      if (this.state !== 'closed') sink.started?.();
      return;
    }
    if (options.snapshot) {
      // A snapshot holds one event per entity, all at or below its head, which is where the stream continues.
      // Its items go out as a replay does (`catchUp` pushes them first), at the pace the sink drains: a state of
      // many thousands of entities must not land in a socket's buffer at once, past the slow-consumer bound.
      const snapshot = await options.snapshot();
      if (this.state === 'closed') return;
      this.cursor = snapshot.headId;
      // After a reset notice the subscription was acknowledged already.
      if (options.lastEventId === undefined) sink.started?.();
      this.unsent = this.checked(snapshot.items);
      this.unsentIsSnapshot = true;
    }
  }

  /**
   * The next page after the cursor. While the store cannot be reached (a networked store lost its database) the
   * read is tried again after a growing pause instead of failing the stream: the subscription stays open and
   * catches up once the store is back. Live events meanwhile wait in the bounded buffer (or overflow to the store).
   */
  private async readPage(): Promise<EventEnvelope[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.store.readAfter(this.cursor, this.options.filter, pageSize);
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) || this.state === 'closed') throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(storeRetryMaxMs, 50 * 2 ** attempt)));
        if (this.is('closed')) return [];
      }
    }
  }

  /** Reads from the store until the stream is level with the live events, then turns live. */
  private async catchUp(): Promise<void> {
    if (this.unsent.length > 0) {
      const unsent = this.unsent;
      this.unsent = [];
      if (!this.pushPage(unsent, this.unsentIsSnapshot)) return;
    }
    while (this.state === 'catching-up') {
      const page = await this.readPage();
      if (!this.is('catching-up')) return;
      if (!this.pushPage(this.checked(page))) return;
      if (page.length === pageSize) {
        // Rows the scope check withheld are behind the cursor too.
        this.cursor = Math.max(this.cursor, Number(page.at(-1)?.id ?? 0));
        continue;
      }
      if (this.overflowed) {
        // More arrived during the read than the buffer holds: read them from the store instead.
        this.overflowed = false;
        this.buffer = [];
        continue;
      }
      const buffered = this.buffer;
      this.buffer = [];
      this.state = 'live';
      for (const event of buffered) {
        if (!this.is('live')) return;
        this.offer(event);
      }
    }
  }
}

/** Offers every committed event to every open stream. One per hub, listening to its bus for as long as the hub lives. */
export class Dispatcher {
  private readonly streams = new Set<EventStream>();
  /** The newest id dispatched, once anything has been (once per batch: not per event or subscriber). */
  private lastId: number | undefined;

  constructor(
    private readonly bus: EventBus,
    trace?: PathTracer,
  ) {
    bus.subscribe((events) => {
      // Ids parsed once here rather than by each of many streams. A single event goes to every stream in turn;
      // several (a group commit's) go stream by stream, so that each stream knows which of them is its last.
      if (trace) for (const event of events) trace.event('dispatchStart', event);
      // With no stream open (an ingest-only server) nothing is parsed.
      if (this.streams.size > 0) this.offer(events);
      if (trace) for (const event of events) trace.event('dispatchEnd', event);
      const last = events.at(-1);
      if (last) this.lastId = Number(last.id);
    });
  }

  private offer(events: readonly EventEnvelope[]): void {
    const [first] = events;
    const firstId = Number(first?.id);
    const ids = events.length > 1 ? events.map((event) => Number(event.id)) : undefined;
    for (const stream of this.streams) {
      // A sink that throws fails its own stream, not the others nor the append that published the event.
      try {
        if (ids) stream.offerAll(events, ids);
        else if (first) stream.offer(first, firstId);
      } catch (error) {
        stream.fail(error);
      }
    }
  }

  /** The newest id this process's streams have been offered, if known; see `EventStream.begin`. */
  get position(): number | undefined {
    return this.lastId ?? this.bus.delivered?.();
  }

  add(stream: EventStream): void {
    this.streams.add(stream);
  }

  remove(stream: EventStream): void {
    this.streams.delete(stream);
  }

  get size(): number {
    return this.streams.size;
  }
}

function resetNotice(reason: StreamReset['data']['reason'], requestedAfter: string, watermark: number): StreamReset {
  return {
    id: String(watermark),
    type: 'stream.reset',
    topic: 'system',
    timestamp: new Date(),
    data: { reason, requestedAfter, retainedAfter: String(watermark) },
  };
}

/**
 * A stream as an async iterator, for callers that pull (`createCaller`, tRPC's own adapters). Its queue holds at
 * most `bufferLimit` items: past that the stream pauses, keeping what it read of a replay's page up to
 * `keptReplayBytes` (or the rest of a snapshot), and later reads the live events it skipped back from the store.
 */
export async function* pullStream(
  open: (sink: StreamSink) => EventStream,
  bufferLimit: number,
  signal: AbortSignal,
): AsyncGenerator<StreamItem, void, undefined> {
  let queue: StreamItem[] = [];
  let failure: { error: unknown } | undefined;
  const failed = () => failure !== undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const stream = open({
    push(item: StreamItem) {
      queue.push(item);
      notify();
      return queue.length < bufferLimit;
    },
    fail(error) {
      failure = { error };
      notify();
    },
  });
  signal.addEventListener('abort', notify);
  try {
    for (;;) {
      if (signal.aborted) return;
      if (queue.length > 0) {
        const items = queue;
        queue = [];
        for (const item of items) yield item;
        continue;
      }
      if (failure) throw failure.error;
      stream.resume();
      if (queue.length === 0 && !failed()) await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener('abort', notify);
    stream.close();
  }
}

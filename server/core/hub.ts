/**
 * The hub joins a store and a bus: the one append path every write goes through, and the streams every
 * subscription reads, and the store's reads that queries need. Routers hold a hub in their context and nothing
 * else; the store itself stays with the composition root.
 */
import { limits, type EventEnvelope, type StreamItem, type ValidEvent } from '@switchboard/shared';
import type { EventBus } from './bus.js';
import type { EventFilter } from './filter.js';
import type { AppendBatch, EventStore, GroupOutcome, PreparedCommit, SnapshotKind } from './store.js';
import { Dispatcher, EventStream, pullStream, type StreamSink } from './stream.js';
import type { PathTracer } from './trace.js';

export interface HubOptions {
  store: EventStore;
  bus: EventBus;
  /** Live events one subscriber may have waiting before it falls back to reading the store. */
  subscriberBufferLimit?: number;
  /** Told after every append that stored something: how many events, and how long the append took. */
  onAppend?: (stored: number, seconds: number) => void;
  /**
   * Told when publishing stored events threw (a bus listener's fault; the bus still gives them to its other
   * listeners). The events are stored, so the append is still answered with them. Default: a process warning.
   */
  onListenerError?: (error: unknown) => void;
  /**
   * The server's clock, epoch ms: when appends and heartbeats are taken (an agent's last-seen time, events'
   * default timestamp, retention's age). The presence sweeper must read the same one; tests pass a double.
   */
  now?: () => number;
  /** Bench-only timing of each event's path (./trace.ts); absent, nothing is timed. */
  trace?: PathTracer | undefined;
  /**
   * Events per group commit, at most: `limits.batchSize` by default. The delivery model (test/model/) makes its
   * groups a few events long, so that its small appends fill them and take the paths full groups take.
   */
  maxGroupEvents?: number;
}

export interface StreamRequest {
  filter: EventFilter;
  lastEventId?: string | undefined;
  /** Without a cursor: start with this current state. Absent: live only. */
  snapshot?: SnapshotKind | undefined;
}

/** The store's reads that queries need (`history`, state queries, `/healthz`), passed through as they are. */
export type HubReads = Pick<
  EventStore,
  | 'headId'
  | 'readRange'
  | 'retentionWatermark'
  | 'agents'
  | 'presence'
  | 'tddTasks'
  | 'workflow'
  | 'workflows'
  | 'usage'
>;

export type Hub = ReturnType<typeof createHub>;

/**
 * A group's commit, started: when (`performance.now()`, for `onAppend`), what the store answers, and once the
 * store says so (`prepareGroup`'s `onOrdered`), the last id its first attempt took.
 */
interface Sent {
  at: number;
  outcomes: Promise<GroupOutcome[]>;
  orderedTo?: number;
}

interface PendingAppend extends AppendBatch {
  resolve: (envelopes: EventEnvelope[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Events per group commit, at most (a larger batch goes alone: an OTLP export's records, or an in-process
 * caller's): one full batch's worth. It bounds a transaction's size and the time the store is held, and it keeps
 * pipelined batches apart: of two full batches that arrive together, the first is answered once it is stored,
 * so its client prepares its next batch while the second is stored, instead of both being answered together
 * and the store waiting for the client.
 */
const defaultGroupEvents = limits.batchSize;

/** Commits whose time `committedAt` still knows: far more than a dispatch or a catching-up stream spans. */
const commitTimesKept = 256;

/**
 * The ids each recent commit stored (a contiguous range: a group's ids are reserved together, in id order) and
 * when it committed, in a ring, newest last. A lookup walks back from the newest, where live events are.
 */
class CommitTimes {
  private readonly firstIds: number[] = [];
  private readonly lastIds: number[] = [];
  private readonly times: number[] = [];
  private next = 0;
  private size = 0;

  constructor(private readonly capacity: number) {}

  add(firstId: number, lastId: number, at: number): void {
    this.firstIds[this.next] = firstId;
    this.lastIds[this.next] = lastId;
    this.times[this.next] = at;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  at(id: number): number | undefined {
    // Older than every commit kept (a replayed event): no walk through them all.
    if (this.size === 0 || id < (this.firstIds[(this.next - this.size + this.capacity) % this.capacity] ?? 0))
      return undefined;
    for (let n = 1; n <= this.size; n++) {
      const i = (this.next - n + this.capacity) % this.capacity;
      const lastId = this.lastIds[i] ?? 0;
      // Newer than this commit: a later one of another node's, or none of this hub's.
      if (id > lastId) return undefined;
      if (id >= (this.firstIds[i] ?? 0)) return this.times[i];
    }
    return undefined;
  }
}

const warnListenerError = (error: unknown) => {
  process.emitWarning(error instanceof Error ? error : String(error), 'BusListenerWarning');
};

export function createHub({
  store,
  bus,
  subscriberBufferLimit = 1_000,
  onAppend,
  onListenerError = warnListenerError,
  now = Date.now,
  trace,
  maxGroupEvents = defaultGroupEvents,
}: HubOptions) {
  const dispatcher = new Dispatcher(bus, trace);
  // When this hub's recent groups were committed, for the delivery-latency metric: one record per commit, not one
  // per event (a WeakMap entry per envelope cost the commit about half a microsecond per event).
  const commits = new CommitTimes(commitTimesKept);
  // The last envelope asked about and its answer: a dispatch asks once per subscriber for the same envelope.
  let askedAbout: { id: string } | undefined;
  let askedAt: number | undefined;
  // Group commit: appends that arrive while the event loop is busy (a frame of pipelined publishes, many
  // connections at once) wait for the next turn and are stored together in one commit, each still all or
  // nothing on its own. Groups go to the store one after another, each once the one before it is answered or has
  // its place in the store's order (`prepareGroup`), and are published in id order, so the bus sees events in
  // commit (id) order for any store, including one whose append is truly asynchronous (a group prepared ahead,
  // below, goes while the one before it is in flight or published). A failed group does not stall the ones
  // behind it, and every append of a group is answered whatever the store or the bus's listeners do.
  const queue: PendingAppend[] = [];
  let scheduled = false;
  let tail: Promise<unknown> = Promise.resolve();

  // A group taken while a commit was in flight (`prepareAhead`): it is answered next. `sent`: its commit, started
  // as soon as the one before it has its place in the store's order (`sendEarly`), or else once it is answered.
  let ahead: { group: PendingAppend[]; commit: PreparedCommit; sent?: Sent } | undefined;
  /** A commit was started whose group is not yet answered: the next full group may be taken ahead. */
  let committing = false;
  /** The commit started last: a group sent once it has its place in the order is ordered after it. */
  let latest: Sent | undefined;

  /** The appends at the queue's head that make the next group: up to `maxGroupEvents`, at least one. */
  function groupSize(): { take: number; full: boolean } {
    let size = 0;
    let take = 0;
    for (const pending of queue) {
      if (take > 0 && size + pending.events.length > maxGroupEvents) return { take, full: true };
      size += pending.events.length;
      take++;
    }
    return { take, full: size >= maxGroupEvents };
  }

  /**
   * While a commit is in flight, a group that can grow no more (`maxGroupEvents`, or the next append would not
   * fit) need not wait for it to be made: a store that commits in another process (PostgreSQL, `prepareGroup`)
   * builds its rows and statements now, and the group goes to the store as soon as the commit before it has its
   * place in the store's order (`sendEarly`) or is answered, before that one's events are published and its
   * callers answered, instead of leaving the database idle meanwhile. One group ahead at most; a group that is not
   * full still gathers what arrives until its turn.
   */
  function prepareAhead(): void {
    if (!committing || ahead || !store.prepareGroup) return;
    const { take, full } = groupSize();
    if (!full) return;
    const receivedAt = new Date(now());
    const group = queue.splice(0, take);
    ahead = { group, commit: commitOf(group, receivedAt) };
    if (trace) for (const pending of group) for (const event of pending.events) trace.event('commitStart', event);
    sendEarly();
  }

  /**
   * A group's commit: prepared now where the store can (`prepareGroup`), so that it tells when it has its place in
   * the order; otherwise (a group that reads under the store's lock, or one that could not be prepared) all of it
   * at its turn, whole.
   */
  function commitOf(group: PendingAppend[], receivedAt: Date): PreparedCommit {
    try {
      const prepared = store.prepareGroup?.(group, receivedAt);
      if (prepared) return prepared;
    } catch {
      // Made again in full by appendGroup, whose retry refuses the failing batch alone.
    }
    return () => store.appendGroup(group, receivedAt);
  }

  /**
   * The group taken ahead goes to the store once the commit started last holds its place in the store's order,
   * without waiting for that commit's answer: on PostgreSQL it then waits in the database for the head row, and
   * takes it the moment the commit before it ends, instead of after a round trip to this node, whose event loop
   * may be busy with the next call's frame. Ids stay in commit order; only a failed first attempt, whose retry
   * may come after it, reorders them (`commitGroup` publishes by id).
   */
  function sendEarly(): void {
    if (ahead && !ahead.sent && latest?.orderedTo !== undefined) ahead.sent = startCommit(ahead.commit);
  }

  /** Starts a commit; a store that throws rather than rejects is answered the same way. */
  function startCommit(commit: PreparedCommit): Sent {
    const sent: Sent = { at: performance.now(), outcomes: Promise.resolve([]) };
    latest = sent;
    sent.outcomes = new Promise<GroupOutcome[]>((resolve) => {
      resolve(
        commit((lastId) => {
          sent.orderedTo = lastId;
          if (latest === sent) sendEarly();
        }),
      );
    });
    // Awaited by its own turn of commitGroup; until then a failure is not unhandled.
    sent.outcomes.catch(() => undefined);
    return sent;
  }

  /** Once a commit is answered: the group taken ahead of its turn goes to the store at once. */
  function sendAhead(): void {
    if (ahead) ahead.sent ??= startCommit(ahead.commit);
    committing = ahead !== undefined;
  }

  /** A group whose commit the store answered: what `finish` publishes (`stored`, in id order) and answers. */
  interface Answered {
    group: PendingAppend[];
    sent: Sent;
    outcomes: GroupOutcome[];
    stored: EventEnvelope[];
    done: number;
  }

  /** Awaits a group's commit; a commit that fails as a whole fails every append of it, and answers undefined. */
  async function answerOf(group: PendingAppend[], sent: Sent): Promise<Answered | undefined> {
    try {
      const outcomes = await sent.outcomes;
      const done = performance.now();
      // Each batch's events are contiguous and the batches come in id order.
      const stored = outcomes.flatMap((outcome) => (outcome.ok ? outcome.result.stored : []));
      return { group, sent, outcomes, stored, done };
    } catch (error) {
      for (const p of group) p.reject(error);
      return undefined;
    } finally {
      sendAhead();
    }
  }

  /** The group taken ahead, if it went to the store already (the closure's writes are out of the compiler's sight). */
  function sentAhead(): { group: PendingAppend[]; sent: Sent } | undefined {
    return ahead?.sent ? { group: ahead.group, sent: ahead.sent } : undefined;
  }

  async function commitGroup(): Promise<void> {
    scheduled = false;
    let group: PendingAppend[];
    let sent: Sent;
    if (ahead) {
      group = ahead.group;
      sent = ahead.sent ?? startCommit(ahead.commit);
      ahead = undefined;
    } else {
      // Its group went with the one before it (the reordering below).
      if (queue.length === 0) return;
      const taken = queue.splice(0, groupSize().take);
      const receivedAt = new Date(now());
      if (trace) for (const p of taken) for (const event of p.events) trace.event('commitStart', event);
      sent = startCommit(commitOf(taken, receivedAt));
      group = taken;
    }
    committing = true;
    if (queue.length > 0) schedule();
    // What arrived before this commit went out and already fills a group is prepared while it is in flight.
    prepareAhead();
    const answered = await answerOf(group, sent);
    if (!answered) return;
    const all = [answered];
    // This commit's first attempt failed and its retry took ids after the group sent early behind it (`sendEarly`),
    // which may have committed first: both are published together, in id order, and answered in turn.
    const last = Number(answered.stored.at(-1)?.id ?? 0);
    const behind = sentAhead();
    if (behind && sent.orderedTo !== undefined && last > sent.orderedTo) {
      ahead = undefined;
      const next = await answerOf(behind.group, behind.sent);
      if (next) all.push(next);
    }
    finish(all.sort((a, b) => firstIdOf(a) - firstIdOf(b)));
  }

  const firstIdOf = ({ stored }: Answered) => Number(stored[0]?.id ?? 0);

  /** Publishes the groups' stored events (in id order), then answers every append of each. */
  function finish(answered: readonly Answered[]): void {
    if (trace) for (const { stored } of answered) for (const e of stored) trace.event('committed', e);
    for (const { stored, done } of answered) {
      const [first] = stored;
      if (first) commits.add(Number(first.id), Number(stored[stored.length - 1]?.id), done);
    }
    // The groups' stored events go to the bus in one call, in id order: on a bus between nodes that is one
    // publish per commit (in runs of moderate texts, server/bus/wire.ts), not one per call.
    const stored = answered.flatMap((a) => a.stored);
    // The events are durable: a listener that throws must not leave a caller of the group without an answer
    // (it would wait forever, and a retry without a key would store the events twice).
    try {
      bus.publish(stored);
    } catch (error) {
      onListenerError(error);
    }
    for (const { group, outcomes, sent, done } of answered) {
      group.forEach((pending, i) => {
        const outcome = outcomes[i];
        if (!outcome) {
          pending.reject(
            new Error(`the store answered ${outcomes.length} of ${group.length} batches of a group commit`),
          );
          return;
        }
        if (!outcome.ok) {
          pending.reject(outcome.error);
          return;
        }
        onAppend?.(outcome.result.stored.length, (done - sent.at) / 1000);
        pending.resolve(outcome.result.envelopes);
      });
    }
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    // setImmediate runs after the I/O already read in this turn has been handled: that is what forms a group.
    tail = tail
      .then(() => new Promise((resolve) => setImmediate(resolve)))
      .then(commitGroup)
      // commitGroup answers every caller itself; anything else thrown there is a fault worth hearing about.
      .catch(onListenerError);
  }

  /** Opens a stream that pushes to `sink` until closed: the WebSocket handler's path. */
  function open({ filter, lastEventId, snapshot }: StreamRequest, sink: StreamSink): EventStream {
    const options = {
      filter,
      lastEventId,
      snapshot: snapshot && (() => store.snapshot(snapshot, filter)),
      bufferLimit: subscriberBufferLimit,
    };
    return new EventStream(store, dispatcher, options, sink);
  }

  // Routers read through these and never hold the store: the hub is their one way in (arrows, since a store
  // may be a class whose methods need their `this`).
  const reads: HubReads = {
    headId: () => store.headId(),
    readRange: (range, filter, limit) => store.readRange(range, filter, limit),
    retentionWatermark: () => store.retentionWatermark(),
    agents: (agentIds) => store.agents(agentIds),
    presence: (filter) => store.presence(filter),
    tddTasks: (filter) => store.tddTasks(filter),
    workflow: (workflowId) => store.workflow(workflowId),
    workflows: (filter) => store.workflows(filter),
    usage: (query) => store.usage(query),
  };

  return {
    ...reads,
    /** The log's epoch (shared/cursor.ts), read once: every cursor this hub sends carries it. */
    epoch: store.epoch(),
    /**
     * Validated events in; stored envelopes out, in input order, once they are durable and published. Keys are
     * looked up among `keyOwner`'s own ('' without tokens: one namespace for everyone). `conditions`: the
     * presence sweep's offline event is stored (one envelope) or not (none) as the store decides (`ifSilent`);
     * a publisher's batch goes only after its `after` key (`AppendBatch`).
     */
    append(
      events: readonly ValidEvent[],
      keyOwner = '',
      conditions: Pick<AppendBatch, 'ifSilent' | 'after'> = {},
    ): Promise<EventEnvelope[]> {
      if (trace) for (const event of events) trace.event('queued', event);
      return new Promise((resolve, reject) => {
        queue.push({ events, keyOwner, ...conditions, resolve, reject });
        schedule();
        prepareAhead();
      });
    },
    /** Marks these agents seen now without storing an event; answers the known ones with their status. */
    heartbeat(agentIds: readonly string[]): Promise<{ agentId: string; status: string }[]> {
      return store.heartbeat(agentIds, now());
    },
    /**
     * When an event this hub stored was committed (`performance.now()`), while its commit is among the last
     * `commitTimesKept`; undefined for any other (stored earlier, or by another node). The delivery metric asks
     * it for live events only.
     */
    committedAt(envelope: { id: string }): number | undefined {
      if (envelope !== askedAbout) {
        askedAbout = envelope;
        askedAt = commits.at(Number(envelope.id));
      }
      return askedAt;
    },
    /** Resolves once every append queued so far has finished (shutdown waits on it). */
    async drained(): Promise<void> {
      while (queue.length > 0 || scheduled || ahead) await tail;
      await tail;
    },
    open,
    /** Live events a stream holds while catching up, and items a pulled stream's queue holds, at most. */
    bufferLimit: subscriberBufferLimit,
    /** The same stream as an async iterator, ended by `signal` or by `return()`. */
    stream(request: StreamRequest, signal: AbortSignal): AsyncGenerator<StreamItem, void, undefined> {
      return pullStream((sink) => open(request, sink), subscriberBufferLimit, signal);
    },
    /** Subscriptions currently streaming in this process. */
    get subscriptions() {
      return dispatcher.size;
    },
  };
}

/**
 * Turns a lossy transport between nodes into the `EventBus` guarantee: every committed event, once, in id
 * order. Written once, above every transport. It relies on ids being contiguous and visible in the order they
 * were assigned (what the stores guarantee), so:
 * - the next event to deliver is always `delivered + 1`; anything else arriving is held;
 * - seeing id n+k (k > 1) means n+1 … n+k-1 are committed: they are read from the store before n+k goes out;
 * - a lost last message is caught by a periodic head check (`store.headId()` ahead of what was delivered), which
 *   also retries a gap fill whose read failed, whether or not any message follows;
 * - a repeated or late message is dropped by id.
 * Ids the store no longer has (retention deleted them) are skipped once the store has been read past them.
 */
import type { EventEnvelope } from '@switchboard/shared';
import type { BusMessage, BusTransport, EventBus, TransportState } from './bus.js';
// pino's type itself (ops/log.ts re-exports it): the core depends on no other folder of the server.
import type { Logger } from 'pino';
import type { EventStore } from './store.js';

/** Events read from the store per query when filling a gap. */
const fillPage = 1_000;
/** Held events at most; past that they are dropped and read back from the store (bounded memory). */
const maxHeld = 10_000;

export interface SequencerOptions {
  store: EventStore;
  transport: BusTransport;
  log: Logger;
  /** How often the store's head is compared with what was delivered; about a second by default. */
  headCheckMs?: number;
  /** What runs the head check every `headCheckMs`: real timers by default; a test drives a fake clock. */
  every?: Every;
}

/** Calls `tick` every `ms` until the returned function is called. */
export type Every = (ms: number, tick: () => void) => () => void;

/** The real clock: an interval that does not keep the process alive. */
const everyInterval: Every = (ms, tick) => {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
};

export interface SequencerStats {
  /** Events read from the store because the transport did not bring them. */
  gapFilled: number;
  /** Newest id known committed minus newest id delivered, at the last look. */
  lag: number;
  transport: TransportState;
}

export class Sequencer implements EventBus {
  private readonly listeners = new Set<(events: readonly EventEnvelope[]) => void>();
  private deliveredId = 0;
  /** The newest id known to be committed (from a message or the head check). */
  private known = 0;
  private readonly held = new Map<number, EventEnvelope>();
  private filling: Promise<void> | undefined;
  private stopTimer: (() => void) | undefined;
  private closed = false;
  private everUp = false;
  readonly stats: SequencerStats = { gapFilled: 0, lag: 0, transport: 'down' };

  constructor(private readonly options: SequencerOptions) {}

  /** Starts from the store's head (events before it are the store's to serve), then listens. */
  async start(): Promise<void> {
    this.deliveredId = await this.options.store.headId();
    this.known = this.deliveredId;
    await this.options.transport.start(
      (message) => {
        this.receive(message);
      },
      (state) => {
        this.onTransportState(state);
      },
    );
    const every = this.options.every ?? everyInterval;
    this.stopTimer = every(this.options.headCheckMs ?? 1_000, () => {
      void this.checkHead();
    });
  }

  /** This node's own commits: delivered here at once (in order, as the hub publishes them), and announced. */
  publish(events: readonly EventEnvelope[]): void {
    if (events.length === 0) return;
    this.accept(events);
    this.options.transport.publish(events);
  }

  delivered(): number {
    return this.deliveredId;
  }

  subscribe(listener: (events: readonly EventEnvelope[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopTimer?.();
    await this.filling;
    await this.options.transport.close();
  }

  private receive(message: BusMessage): void {
    if ('events' in message) this.accept(message.events);
    else this.noteHead(message.head);
  }

  private onTransportState(state: TransportState): void {
    if (state === this.stats.transport) return;
    this.stats.transport = state;
    const { log, transport } = this.options;
    if (state === 'down') {
      log.warn({ bus: transport.name }, 'bus down: serving from the store through the head check until it is back');
    } else if (!this.everUp) {
      this.everUp = true;
      log.info({ bus: transport.name }, 'bus connected');
    } else {
      log.info({ bus: transport.name }, 'bus up: back on the fast path');
      // Whatever was announced while it was down is in the store.
      void this.checkHead();
    }
  }

  private accept(events: readonly EventEnvelope[]): void {
    for (const event of events) {
      const id = Number(event.id);
      if (id <= this.deliveredId) continue;
      if (this.held.size < maxHeld) this.held.set(id, event);
      this.known = Math.max(this.known, id);
    }
    this.flush();
  }

  /**
   * A head from the head check or a doorbell. One no newer than `known` still flushes: after a failed fill,
   * `known` is ahead of what was delivered and nothing else would read for it until more traffic came; this is
   * the retry. (A flush with nothing missing does nothing, and one while a fill runs waits for it.)
   */
  private noteHead(head: number): void {
    this.known = Math.max(this.known, head);
    this.flush();
  }

  /** Delivers the held run that continues `delivered`; if anything known is still missing, fills from the store. */
  private flush(): void {
    if (this.filling) return;
    const run: EventEnvelope[] = [];
    for (let next = this.held.get(this.deliveredId + 1); next; next = this.held.get(this.deliveredId + 1)) {
      this.held.delete(this.deliveredId + 1);
      this.deliveredId++;
      run.push(next);
    }
    if (run.length > 0) this.emit(run);
    this.stats.lag = this.known - this.deliveredId;
    if (this.known > this.deliveredId) this.fill();
  }

  /** Reads the missing ids from the store; one fill at a time, and nothing is delivered around it meanwhile. */
  private fill(): void {
    this.filling = (async () => {
      let failed = false;
      try {
        while (!this.closed && this.known > this.deliveredId) {
          // A message is believed only as far as the store goes: every real id was committed before it was
          // announced, so it is at most the head read now. An id past it (a forged or corrupt message from
          // whoever can publish on the bus) would otherwise count as committed and skip every real id up to it.
          const head = await this.options.store.headId();
          if (this.known > head) {
            this.known = head;
            for (const id of this.held.keys()) if (id > head) this.held.delete(id);
            if (this.known <= this.deliveredId) break;
          }
          // The target is fixed before the read: every id up to it was committed before we heard of it, so the
          // read sees it; an id heard of during the read may be newer than what the read saw.
          const target = this.known;
          const page = await this.options.store.readAfter(this.deliveredId, {}, fillPage);
          const missing = page.filter((e) => Number(e.id) <= target && !this.held.has(Number(e.id)));
          this.stats.gapFilled += missing.length;
          const run: EventEnvelope[] = [];
          for (const event of page) {
            const id = Number(event.id);
            if (id > target) break;
            this.held.delete(id);
            if (id > this.deliveredId) run.push(event);
          }
          // The store has every committed id up to `target` but the ones retention deleted: a short page, or one
          // that reaches past the target, leaves nothing below the target to wait for; a full page short of it
          // moves the cursor to its last id and reads on (always forward, so the loop ends).
          const lastId = Number(page.at(-1)?.id ?? 0);
          const complete = page.length < fillPage || lastId >= target;
          if (run.length > 0) this.emit(run);
          this.deliveredId = Math.max(this.deliveredId, complete ? target : lastId);
          for (const id of this.held.keys()) if (id <= this.deliveredId) this.held.delete(id);
          if (complete) break;
        }
      } catch (error) {
        // The store is unreachable: keep what is held; the next message or head check tries again (not at
        // once, which would spin while it is down).
        failed = true;
        this.options.log.warn({ err: error }, 'bus gap fill failed; retrying on the next head check');
      } finally {
        this.filling = undefined;
      }
      if (!this.closed && !failed) this.flush();
    })();
  }

  private emit(events: EventEnvelope[]): void {
    // These ids count as delivered whatever a listener does: one that throws must neither keep them from the
    // others nor, thrown into a fill, make them go out a second time.
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (error) {
        this.options.log.error({ err: error }, 'a bus listener failed');
      }
    }
  }

  private async checkHead(): Promise<void> {
    if (this.closed) return;
    try {
      this.noteHead(await this.options.store.headId());
    } catch (error) {
      this.options.log.warn({ err: error }, 'bus head check failed: the store is unreachable');
    }
  }
}

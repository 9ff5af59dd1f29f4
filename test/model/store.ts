/**
 * The store of the delivery model: one in-memory log shared by every node, keeping the `EventStore` contract for
 * what the delivery core uses (group commit, `readAfter`, `headId`, `retentionWatermark`, the agents snapshot).
 * Ids are contiguous and visible in the order they were assigned, as the real stores guarantee.
 *
 * Every call made while the model runs waits in `pending` until the schedule settles it, successfully or with an
 * injected fault, in any order: that is how reads race with commits and with each other. A read's answer is
 * what the log held when it was called (a statement's snapshot); a commit is two steps, so that it can be
 * stored and then lose its answer (the ambiguous failure of a networked store).
 *
 * With a head lock (PostgreSQL's kind, server/store/postgres.ts), a commit is three: it takes the lock (in turn,
 * after any commit already waiting for it), writes while it holds it, then answers. A group the hub prepares
 * (`prepareGroup`) says when it holds the lock, so the hub sends the next one early (server/core/hub.ts
 * `sendEarly`), and a first attempt that fails is done again by the store itself, taking the lock once more,
 * after whatever waited for it meanwhile: the retry that stores after the group behind it.
 */
import { topicOf, type EnvelopeOf, type EventEnvelope, type ValidEvent } from '@switchboard/shared';
import { envelopeOfEvent } from '../../server/core/envelope.js';
import { compileFilter, type EventFilter } from '../../server/core/filter.js';
import type { AppendBatch, EventStore, GroupOutcome, Snapshot, SnapshotKind } from '../../server/core/store.js';

/** A call waiting for the schedule: `settle(true)` answers it, `settle(false)` fails it. */
export interface PendingCall {
  readonly label: string;
  settle(ok: boolean): void;
}

/** The message of every fault the model injects; anything else a subscriber is told is a finding. */
export const injected = 'injected fault';

export class ModelStore implements EventStore {
  /** Every event ever committed, deleted or not, in id order (id = index + 1). */
  readonly history: EventEnvelope[] = [];
  /** Events up to this id were deleted by retention (only before the run: see the model's README in check.ts). */
  watermark = 0;
  /** Calls waiting for the schedule; empty while `controlled` is false (setup answers at once). */
  readonly pending: PendingCall[] = [];
  controlled = false;
  /** Whether a commit holds the head lock, and the commits waiting for it, first come first. */
  private locked = false;
  private readonly waiting: (() => void)[] = [];
  readonly prepareGroup?: EventStore['prepareGroup'];

  /** `headLock`: commits take the head lock, and the hub may prepare groups (see above). */
  constructor(private readonly headLock = false) {
    if (headLock) this.prepareGroup = (batches) => (onOrdered) => this.appendLocked(batches, onOrdered);
  }

  get head(): number {
    return this.history.length;
  }

  /** Stores events at once, outside the schedule: the log that existed before the nodes started. */
  seed(events: readonly ValidEvent[], deleteUpTo: number): void {
    this.commit(events);
    this.watermark = Math.min(deleteUpTo, this.head);
  }

  private commit(events: readonly ValidEvent[]): EventEnvelope[] {
    return events.map((event) => {
      const envelope = envelopeOfEvent(event, this.head + 1, topicOf(event), new Date(0));
      this.history.push(envelope);
      return envelope;
    });
  }

  /** Answers with what `read` returns now, once the schedule settles the call. */
  private call<T>(label: string, read: () => T): Promise<T> {
    const value = read();
    if (!this.controlled) return Promise.resolve(value);
    return new Promise((resolve, reject) => {
      this.pending.push({
        label,
        settle: (ok) => {
          if (ok) resolve(value);
          else reject(new Error(`${injected}: ${label} failed`));
        },
      });
    });
  }

  appendGroup(batches: readonly AppendBatch[]): Promise<GroupOutcome[]> {
    if (this.headLock && this.controlled) return this.appendLocked(batches);
    if (!this.controlled) {
      return Promise.resolve(
        batches.map((b) => ({ ok: true, result: { envelopes: [], stored: this.commit(b.events) } })),
      );
    }
    return new Promise((resolve, reject) => {
      this.pending.push({
        label: `commit of ${batches.length} batch(es)`,
        settle: (ok) => {
          if (!ok) {
            reject(new Error(`${injected}: commit refused, nothing stored`));
            return;
          }
          this.write(batches, resolve, reject);
        },
      });
    });
  }

  /** Stores the batches now, and waits for the schedule to answer the commit or lose its answer. */
  private write(
    batches: readonly AppendBatch[],
    resolve: (outcomes: GroupOutcome[]) => void,
    reject: (error: Error) => void,
  ): void {
    const outcomes: GroupOutcome[] = batches.map((batch) => {
      const stored = this.commit(batch.events);
      return { ok: true, result: { envelopes: stored, stored } };
    });
    const ids = outcomes.flatMap((o) => (o.ok ? o.result.stored.map((e) => e.id) : []));
    this.pending.push({
      label: `answer of the commit of ${outcomes.length} batch(es), stored as ${ids.join(',') || 'nothing'}`,
      settle: (answered) => {
        if (answered) resolve(outcomes);
        else reject(new Error(`${injected}: stored, but the answer was lost`));
      },
    });
  }

  /**
   * A commit under the head lock: the lock (taken once free, in turn), the write, the answer, each a step of the
   * schedule. `onOrdered` hears the last id the first attempt takes as soon as it holds the lock. A first attempt
   * that fails, at its lock or its write, is done again (the real store's retry); the retry's failure refuses it.
   */
  private appendLocked(batches: readonly AppendBatch[], onOrdered?: (lastId: number) => void): Promise<GroupOutcome[]> {
    const count = batches.reduce((n, batch) => n + batch.events.length, 0);
    const what = `commit of ${batches.length} batch(es)`;
    return new Promise((resolve, reject) => {
      const refuse = () => {
        reject(new Error(`${injected}: commit refused, nothing stored`));
      };
      const attempt = (first: boolean) => {
        const failed = first
          ? () => {
              attempt(false);
            }
          : refuse;
        this.pending.push({
          label: `lock for the ${what}${first ? '' : ' (its retry)'}`,
          settle: (ok) => {
            if (!ok) {
              failed();
              return;
            }
            this.whenUnlocked(() => {
              if (first) onOrdered?.(this.head + count);
              this.pending.push({
                label: `write of the ${what}, holding the lock`,
                settle: (written) => {
                  if (!written) {
                    this.unlock();
                    failed();
                    return;
                  }
                  this.write(batches, resolve, reject);
                  this.unlock();
                },
              });
            });
          },
        });
      };
      attempt(true);
    });
  }

  private whenUnlocked(then: () => void): void {
    if (this.locked) {
      this.waiting.push(then);
      return;
    }
    this.locked = true;
    then();
  }

  /** The next commit waiting takes the lock at once, as PostgreSQL hands a row lock to its next waiter. */
  private unlock(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.locked = false;
  }

  async append(events: readonly ValidEvent[]): Promise<{ envelopes: EventEnvelope[]; stored: EventEnvelope[] }> {
    const [outcome] = await this.appendGroup([{ events, keyOwner: '' }]);
    if (!outcome?.ok) throw new Error('append failed');
    return outcome.result;
  }

  /** One log for the whole run: subscribers resume with bare ids, which no epoch check applies to. */
  epoch(): string {
    return 'model';
  }

  readAfter(after: number, filter: EventFilter, limit: number): Promise<EventEnvelope[]> {
    const matches = compileFilter(filter);
    return this.call(`read after ${after}`, () =>
      this.history.slice(Math.max(after, this.watermark)).filter(matches).slice(0, limit),
    );
  }

  headId(): Promise<number> {
    return this.call('head', () => this.head);
  }

  retentionWatermark(): Promise<number> {
    return this.call('watermark', () => this.watermark);
  }

  snapshot(kind: SnapshotKind, filter: EventFilter): Promise<Snapshot> {
    if (kind !== 'agents') throw new Error(`the model keeps agents only, not ${kind}`);
    const matches = compileFilter(filter);
    return this.call('snapshot', () => ({
      items: agentsAt(this.history, this.head).filter(matches),
      headId: this.head,
    }));
  }

  // Not used by the delivery core: the model has no state queries, presence, history pages or retention passes.
  readRange(): never {
    throw new Error('not modelled');
  }
  storedTypes(): never {
    throw new Error('not modelled');
  }
  agents(): never {
    throw new Error('not modelled');
  }
  presence(): never {
    throw new Error('not modelled');
  }
  heartbeat(): never {
    throw new Error('not modelled');
  }
  tddTasks(): never {
    throw new Error('not modelled');
  }
  workflow(): never {
    throw new Error('not modelled');
  }
  workflows(): never {
    throw new Error('not modelled');
  }
  usage(): never {
    throw new Error('not modelled');
  }
  sizeBytes(): never {
    throw new Error('not modelled');
  }
  prune(): never {
    throw new Error('not modelled');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Each agent's latest `agent.status` with an id up to `head`, in id order: what a snapshot at `head` holds. */
export function agentsAt(history: readonly EventEnvelope[], head: number): EnvelopeOf<'agent.status'>[] {
  const latest = new Map<string, EnvelopeOf<'agent.status'>>();
  for (const event of history.slice(0, head)) if (event.type === 'agent.status') latest.set(event.data.agentId, event);
  return [...latest.values()].sort((a, b) => Number(a.id) - Number(b.id));
}

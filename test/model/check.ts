/**
 * What each subscriber of the delivery model must have received, against the committed log. A session is one
 * connection of a subscriber; each is checked on its own, and a subscriber's next session starts from the last
 * id its previous one received, so together they check resumption too.
 *
 * - After a cursor in this log (at or above the retention watermark, at or below the head): exactly the matching
 *   events with larger ids, in order, once.
 * - After a cursor this log does not hold: a `stream.reset` first, then exactly the matching events after the
 *   reset's id. Below the watermark that is the only answer; past the head the stream may instead be refused
 *   (`CursorAheadError`) with nothing delivered. A cursor from another log's epoch, whatever its id, gets a reset
 *   to the watermark (never a refusal) and everything after it.
 * - A snapshot: the agents' latest statuses at some head h, then exactly the matching events after h.
 * - Live only: a run of consecutive matching events that includes every one after what its node had delivered
 *   when the stream said it had started (what a live stream starts from; see `EventStream.begin`).
 * A session that has ended (closed, or failed by an injected fault) must hold a prefix of that; one still open
 * once the world is quiet must hold all of it. Retention deletes only before the run: a pass during it deletes
 * events subscribers have not read yet, by design (docs/guarantees.md).
 */
import type { EventEnvelope, StreamItem } from '@switchboard/shared';
import { CursorAheadError } from '../../server/core/stream.js';
import { agentsAt, injected } from './store.js';

export interface Session {
  readonly name: string;
  /** The `lastEventId` it sent, if any. */
  readonly cursor: number | undefined;
  /** The cursor was another log's (its epoch not the store's): whatever its id, it is not in this log. */
  readonly foreign: boolean;
  readonly mode: 'cursor' | 'live' | 'snapshot';
  readonly matches: (event: EventEnvelope) => boolean;
  readonly headAtConnect: number;
  /** The log's head when the stream said it had fixed its start. */
  headAtStarted: number | undefined;
  /** The newest id its node's bus had delivered then: a live stream delivers everything after it. */
  dispatchedAtStarted: number | undefined;
  readonly items: StreamItem[];
  ended: { error: unknown } | 'closed' | undefined;
}

export interface Log {
  history: readonly EventEnvelope[];
  watermark: number;
}

const show = (items: readonly StreamItem[]) =>
  items.map((i) => (i.type === 'stream.reset' ? `reset@${i.id}` : i.id)).join(',');

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Undefined when the session holds what it should; otherwise what is wrong, in one line. */
export function checkSession(session: Session, log: Log, complete: boolean): string | undefined {
  const problem = checkItems(session, log, complete);
  if (problem) return `${session.name}: ${problem}`;
  const { ended } = session;
  if (ended === undefined || ended === 'closed') return undefined;
  const { error } = ended;
  if (
    error instanceof CursorAheadError &&
    !session.foreign &&
    session.cursor !== undefined &&
    session.cursor > session.headAtConnect
  ) {
    return undefined;
  }
  if (error instanceof Error && error.message.startsWith(injected)) return undefined;
  return `${session.name}: failed with ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
}

function checkItems(session: Session, log: Log, complete: boolean): string | undefined {
  const { items, cursor } = session;
  const open = complete && session.ended === undefined;
  const matching = (after: number) =>
    log.history.filter((e) => Number(e.id) > after && session.matches(e)).map((e) => Number(e.id));
  /** `rest` holds the matching events after `after`, all of them when open and quiet. */
  const tail = (after: number, rest: readonly StreamItem[], before: readonly number[] = []) => {
    const expected = [...before, ...matching(after)];
    const got = rest.map((i) => (i.type === 'stream.reset' ? NaN : Number(i.id)));
    if (open ? same(got, expected) : same(got, expected.slice(0, got.length))) return undefined;
    return `expected ${open ? '' : 'a prefix of '}[${expected.join(',')}], got [${show(rest)}]`;
  };
  const first = items[0];
  if (session.mode === 'cursor' && cursor !== undefined) {
    const inLog = !session.foreign && cursor >= log.watermark && cursor <= session.headAtConnect;
    if (inLog) return tail(cursor, items);
    if (first?.type === 'stream.reset') {
      // Below the watermark, or from another log: the reset is to the watermark, and everything after it follows.
      if ((cursor < log.watermark || session.foreign) && Number(first.id) !== log.watermark) {
        return `a reset to ${first.id}, expected one to the watermark ${log.watermark}`;
      }
      return tail(Number(first.id), items.slice(1));
    }
    if (first) return `cursor ${cursor} is not in this log, yet [${show(items)}] came without a reset first`;
    // Still open once quiet with nothing received: neither a reset nor a refusal (a refused session has ended).
    return open
      ? `cursor ${cursor} is not in this log (${log.watermark} to ${session.headAtConnect}): no reset came`
      : undefined;
  }
  if (session.mode === 'snapshot') {
    const problems: string[] = [];
    for (let h = session.headAtConnect; h <= log.history.length; h++) {
      const snapshot = agentsAt(log.history, h)
        .filter(session.matches)
        .map((e) => Number(e.id));
      const problem = tail(h, items, snapshot);
      if (!problem) return undefined;
      problems.push(problem);
    }
    return `no snapshot head fits: ${problems[0] ?? ''}`;
  }
  // Live only.
  if (items.some((i) => i.type === 'stream.reset')) return `a reset on a live-only stream: [${show(items)}]`;
  const all = matching(0);
  const started = session.dispatchedAtStarted;
  if (first === undefined) {
    if (!open) return undefined;
    if (started === undefined) return 'never started';
    const missed = all.filter((id) => id > started);
    return missed.length === 0 ? undefined : `nothing arrived, expected [${missed.join(',')}]`;
  }
  if (started === undefined) return `items before the stream started: [${show(items)}]`;
  const k = all.indexOf(Number(first.id));
  const skipped = all.slice(0, Math.max(k, 0)).filter((id) => id > started);
  if (k < 0 || skipped.length > 0) {
    return `expected every event after ${started} ([${all.filter((id) => id > started).join(',')}]), got [${show(items)}]`;
  }
  return tail(all[k - 1] ?? 0, items);
}

/** A node's sequencer delivered every id after its start once, in order; all of them once quiet. */
export function checkSequencer(name: string, from: number, ids: readonly number[], head: number, complete: boolean) {
  const expected = Array.from({ length: head - from }, (_, i) => from + i + 1);
  const ok = complete ? same(ids, expected) : same(ids, expected.slice(0, ids.length));
  return ok
    ? undefined
    : `${name}: delivered [${ids.join(',')}], expected ${complete ? '' : 'a prefix of '}[${expected.join(',')}]`;
}

/** A hub publishes its commits' events in id order (some ids between them are other nodes'). */
export function checkPublished(name: string, ids: readonly number[]) {
  const back = ids.findIndex((id, i) => i > 0 && id <= (ids[i - 1] ?? 0));
  return back < 0 ? undefined : `${name}: published ${ids[back]} after ${ids[back - 1]} ([${ids.join(',')}])`;
}

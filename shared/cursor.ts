/**
 * The resume cursor: where a subscriber is in one log. Ids alone are not enough, because a log can be replaced
 * (its SQLite file deleted, a PostgreSQL schema recreated) and the new one hands out the same ids again; a
 * cursor from the old log would then resume in the new one as if nothing had happened. So every log has an
 * epoch, a random id created with its store, and the server sends cursors as `<id>@<epoch>`: `42@3f9a1c0e5b7d`.
 * A cursor whose epoch is not the store's gets a `stream.reset` notice, as one older than retention does.
 *
 * A bare `<id>` stays valid (cursors stored before epochs existed, and a hand-typed `"0"`): it is checked only
 * against the head and retention. Why this form: only digits, lowercase letters and `@`, so it needs no
 * escaping in an SSE `id:` line, a URL, a header or a shell; the id comes first, so within one epoch cursors
 * compare by their leading number, and the part before `@` is the envelope's `id`.
 */
import { z } from 'zod';
import { errorReasons } from './errors.js';

/** Between the id and the epoch. */
export const epochSeparator = '@';

/** What an epoch may be: 1 to 32 digits or lowercase letters (the stores write 12 hex digits). */
export const epochSchema = z.string().regex(/^[0-9a-z]{1,32}$/, 'an epoch is 1 to 32 digits or lowercase letters');

const cursorPattern = /^(0|[1-9][0-9]{0,15})(?:@([0-9a-z]{1,32}))?$/;

export interface Cursor {
  /** Resume after this event id (0: before the first). */
  after: number;
  /** The log the id belongs to; undefined for a bare (legacy) id, which is checked against no epoch. */
  epoch: string | undefined;
}

/** The cursor `raw` holds, or undefined when it is not one (`cursorSchema` says why). */
export function parseCursor(raw: string): Cursor | undefined {
  const match = cursorPattern.exec(raw);
  if (!match) return undefined;
  return { after: Number(match[1]), epoch: match[2] };
}

/** The cursor after event `id` of the log `epoch`: what the server sends as a tracked id. */
export function formatCursor(id: string | number, epoch: string): string {
  return `${id}${epochSeparator}${epoch}`;
}

/**
 * Splits off the epoch of any position that carries one (`4:1@3f9a1c0e5b7d` → `4:1` and the epoch), for streams
 * whose positions are finer than an event id (AG-UI). The epoch is not checked here.
 */
export function splitEpoch(raw: string): { position: string; epoch: string | undefined } {
  const at = raw.lastIndexOf(epochSeparator);
  return at < 0 ? { position: raw, epoch: undefined } : { position: raw.slice(0, at), epoch: raw.slice(at + 1) };
}

/**
 * A resume cursor as a subscription's `lastEventId` or `history`'s `after` / `before` takes it: `<id>` or
 * `<id>@<epoch>`. `'0'` is before the first event. Anything else is refused, never read as "from the start".
 */
export const cursorSchema = z.string().refine((s) => cursorPattern.test(s), {
  error:
    'must be a cursor as the server sent it, such as "42@3f9a1c0e5b7d", or a decimal event id such as "42" ("0" means before the first event)',
  params: { reason: errorReasons.invalidCursor },
});

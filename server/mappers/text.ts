/**
 * Bounding what other tools send, for every mapper: one-line summaries, previews that say how much was cut,
 * ids made safe for the contract, and idempotency keys that fit its length. No I/O.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { limits } from '@switchboard/shared';

export const byteLength = (text: string) => Buffer.byteLength(text);

/** JSON of a field; an absent field is the empty string. */
export const toJson = (value: unknown): string => (value === undefined ? '' : JSON.stringify(value));

/** One line of at most `max` characters. */
export function oneLine(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line || '(empty)';
}

/** At most `max` characters, saying how long the whole was when cut. */
export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${byteLength(text)} bytes in all)` : text;
}

/** A value as stored: itself when its JSON is at most `max` characters, else a preview with the full size. */
export function boundedJson(value: unknown, max: number): z.core.util.JSONType | undefined {
  if (value === undefined) return undefined;
  const json = JSON.stringify(value);
  if (json.length <= max) return JSON.parse(json) as z.core.util.JSONType;
  return { preview: json.slice(0, max), bytes: byteLength(json), truncated: true };
}

/** Ids must not hold whitespace or `*`; the tools' own are UUIDs and the like, but nothing stops a stranger. */
export const safeId = (id: string) => id.replace(/[\s*]/g, '_');

/**
 * `key`, or its digest (with `prefix`) when `key` and a suffix of `suffixChars` characters would not fit the
 * contract's length: as unique in practice, and the same on every retry.
 */
export function boundedKey(key: string, prefix: string, suffixChars: number): string {
  return key.length + suffixChars <= limits.idLength
    ? key
    : `${prefix}${createHash('sha256').update(key).digest('hex').slice(0, 64)}`;
}

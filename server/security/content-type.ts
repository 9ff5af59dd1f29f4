/**
 * Content types a browser cannot send without a CORS preflight. `text/plain`, `multipart/form-data` and
 * `application/x-www-form-urlencoded` are "simple": any page (a `fetch` with no-cors, a plain HTML form) can
 * send them cross-origin with no preflight. Accepting only JSON types means a foreign page must ask first, and
 * only allowlisted origins get a yes.
 */
import type { IncomingMessage } from 'node:http';

export const ingestTypes = ['application/json', 'application/x-ndjson'] as const;
export const trpcTypes = ['application/json'] as const;
/** OTLP/HTTP's two encodings; a page can send neither without a preflight. */
export const otlpTypes = ['application/x-protobuf', 'application/json'] as const;

/** The media type without parameters (`application/json; charset=utf-8` → `application/json`). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

/** The 415 message when the request body is not one of `accepted`, or undefined when it is. */
export function unsupportedType(req: IncomingMessage, accepted: readonly string[]): string | undefined {
  const type = mediaType(req);
  if (accepted.includes(type)) return undefined;
  return `content-type ${type === '' ? '(none)' : `"${type}"`} is not accepted here; send ${accepted.join(' or ')}`;
}

import type { ServerResponse } from 'node:http';

/**
 * How every plain HTTP endpoint answers: JSON, never cached (a health, an ingest result or a refusal is only
 * true when it is sent). `retryAfterSeconds`: when a refusal for now (429) would be admitted, as Retry-After.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, retryAfterSeconds?: number): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...(retryAfterSeconds !== undefined && { 'retry-after': String(retryAfterSeconds) }),
  });
  res.end(JSON.stringify(body));
}

import type { ServerResponse } from 'node:http';

/**
 * How every plain HTTP endpoint answers: JSON, never cached (a health, an ingest result or a refusal is only
 * true when it is sent).
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

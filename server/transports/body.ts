/**
 * Request bodies on the routes that take one (`POST /ingest`, its Claude Code form, tRPC over HTTP, OTLP): read
 * whole, under a limit, so no caller can make the server buffer more than that for a request.
 */
import type { IncomingMessage } from 'node:http';

/**
 * Bytes of one HTTP request body, at most: the default bound of one WebSocket message (`--max-message-bytes`),
 * so a batch that fits one transport fits the other.
 */
export const httpBodyLimit = 1024 * 1024;

/** What is past a size limit, said the one way every edge says it: what it was, the limit, what to do instead. */
export function overLimit(what: string, limit: number, advice: string): string {
  return `${what}; the limit is ${limit} bytes per request (${advice})`;
}

/** The body passed `httpBodyLimit`; the message names the limit and what to send instead. Answered 413. */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

/** The body as text, under `httpBodyLimit` (see `readBytes`). */
export async function readBody(req: IncomingMessage, advice: string): Promise<string> {
  return (await readBytes(req, advice)).toString('utf8');
}

/**
 * The body, or a `BodyTooLargeError` as soon as it is known to be over `limit`: from its declared length before
 * anything is read, or once that many bytes have arrived (a chunked body declares none). `advice` says what to
 * send instead. What is still coming is read and discarded, so the client reads the answer instead of a reset
 * connection.
 */
export function readBytes(req: IncomingMessage, advice: string, limit = httpBodyLimit): Promise<Buffer> {
  const tooLarge = (size: string) => new BodyTooLargeError(overLimit(`body is ${size} bytes`, limit, advice));
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(String(declared)));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume();
      reject(tooLarge(`more than ${limit}`));
    };
    const onEnd = () => {
      resolve(Buffer.concat(chunks));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/**
 * Request bodies on the routes that take one (`POST /ingest`, its Claude Code form, tRPC over HTTP): read whole,
 * under one limit, so no caller can make the server buffer more than that for a request.
 */
import type { IncomingMessage } from 'node:http';

/**
 * Bytes of one HTTP request body, at most: the default bound of one WebSocket message (`--max-message-bytes`),
 * so a batch that fits one transport fits the other.
 */
export const httpBodyLimit = 1024 * 1024;

/** The body passed `httpBodyLimit`; the message names the limit and what to send instead. Answered 413. */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

/**
 * The body as text, or a `BodyTooLargeError` as soon as it is known to be over the limit: from its declared
 * length before anything is read, or once that many bytes have arrived (a chunked body declares none). `advice`
 * says what to send instead. What is still coming is read and discarded, so the client reads the answer
 * instead of a reset connection.
 */
export function readBody(req: IncomingMessage, advice: string): Promise<string> {
  const tooLarge = (size: string) =>
    new BodyTooLargeError(`body is ${size} bytes; the limit is ${httpBodyLimit} bytes per request (${advice})`);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > httpBodyLimit) {
    req.resume();
    return Promise.reject(tooLarge(String(declared)));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= httpBodyLimit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume();
      reject(tooLarge(`more than ${httpBodyLimit}`));
    };
    const onEnd = () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

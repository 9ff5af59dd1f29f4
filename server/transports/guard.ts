/**
 * Where the origin, host and content-type checks meet the HTTP server: one call per request and one per
 * upgrade, before routing, so nothing refused reaches a handler or the store.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorReasons } from '@switchboard/shared';
import type { Metrics } from '../ops/metrics.js';
import type { AccessControl } from '../security/access.js';
import { bearerToken, roleRefusal, type Access, type Principal } from '../security/auth.js';
import { ingestTypes, otlpTypes, trpcTypes, unsupportedType } from '../security/content-type.js';
import type { OriginGuard } from '../security/origin.js';
import { sendJson } from './json-response.js';
import { otlpSignalAt } from './otlp/route.js';

function refuse(res: ServerResponse, status: number, error: string): false {
  sendJson(res, status, { error });
  return false;
}

/** False when the request was answered here (refused, or a CORS preflight); true when routing may go on. */
export function admitRequest(
  guard: OriginGuard,
  metrics: Metrics,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): boolean {
  const refusal = guard.check(req, false);
  if (refusal) return refuse(res, refusal.status, refusal.message);
  if (guard.cors(req, res) === 'answered') return false;
  if (req.method !== 'POST') return true;
  // Every ingest route (plain and tool-specific ones under /ingest/) takes JSON only; OTLP also protobuf.
  const ingest = path === '/ingest' || path.startsWith('/ingest/');
  const otlp = otlpSignalAt(path) !== undefined;
  const accepted = ingest ? ingestTypes : otlp ? otlpTypes : path.startsWith('/trpc') ? trpcTypes : undefined;
  const problem = accepted && unsupportedType(req, accepted);
  if (problem === undefined) return true;
  metrics.rejected.inc({ reason: 'content_type' });
  // Drain the body so the client reads this answer rather than a reset connection.
  req.resume();
  if (otlp) {
    // OTLP answers every error with a google.rpc.Status; 3 is INVALID_ARGUMENT.
    sendJson(res, 415, { code: 3, message: problem });
    return false;
  }
  return refuse(res, 415, problem);
}

/** False when the upgrade was refused: HTTP 403 with a one-line reason, before any WebSocket handshake. */
export function admitUpgrade(guard: OriginGuard, req: IncomingMessage, socket: Duplex): boolean {
  const refusal = guard.check(req, true);
  if (!refusal) return true;
  const body = `${refusal.message}\n`;
  socket.end(
    `HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
  return false;
}

/** Who called, or why not: 401 without a valid token, 403 for a role that lacks the access asked for. */
export type Admission = { principal: Principal } | { principal: null; status: 401 | 403; message: string };

/**
 * The caller of a plain endpoint (one tRPC's `requires` rule does not cover: the ingest routes, OTLP on either
 * transport, `/metrics`), from its `Authorization` header; a refusal is counted in the metrics.
 */
export async function admitCaller(
  access: AccessControl,
  metrics: Metrics,
  authorization: string | undefined,
  need: Access,
): Promise<Admission> {
  const { principal, problem } = await access.authenticate(bearerToken(authorization));
  if (principal === null) {
    metrics.rejected.inc({ reason: errorReasons.unauthorized });
    return {
      principal: null,
      status: 401,
      message: problem ?? 'missing or unknown token: send Authorization: Bearer <token>',
    };
  }
  const refused = roleRefusal(principal, need);
  if (refused !== undefined) {
    metrics.rejected.inc({ reason: errorReasons.forbidden });
    return { principal: null, status: 403, message: refused };
  }
  return { principal };
}

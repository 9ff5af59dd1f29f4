/**
 * `POST /ingest`: plain JSON for producers in any language (a shell hook with curl, a Python script). The body
 * is one event, a JSON array of events, or NDJSON (one event per line), each exactly the `publish` input. The
 * request is all or nothing: every event is validated first, then all are appended in one transaction.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  builtinCatalogue,
  fastSafeParse,
  ingestReply,
  issuePath,
  jsonDepthMessage,
  limits,
  tooDeep,
  parseNdjson,
  type AnyCatalogue,
  type ValidEvent,
} from '@switchboard/shared';
import type { Hub } from '../core/hub.js';
import { PublishRateError, type ConnectionLimits } from '../security/limits.js';
import type { Principal } from '../security/auth.js';
import { checkPublish, ScopeError } from '../security/scopes.js';
import { StoreUnavailableError } from '../core/unavailable.js';
import { BodyTooLargeError, readBody as readLimitedBody } from './body.js';
import { sendJson } from './json-response.js';

interface Problem {
  /** 1-based line for NDJSON, 0-based index for an array, absent for a single object. */
  line?: number;
  index?: number;
  path: string;
  message: string;
}

/** A request refused with an HTTP status and a message (and per-event issues for validation). */
export class IngestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues?: Problem[],
    /** For a 429: when the request would be admitted, as Retry-After says it. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The body under the HTTP body limit; over it, a 413 saying to send fewer events per request. */
export async function readBody(req: IncomingMessage): Promise<string> {
  try {
    return await readLimitedBody(req, 'send fewer events per request');
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new IngestError(413, error.message);
    throw error;
  }
}

/** Splits the body into candidate events, each with where it came from for error messages. */
function parseBody(body: string, contentType: string): { value: unknown; at: Pick<Problem, 'line' | 'index'> }[] {
  if (contentType.includes('ndjson') || contentType.includes('jsonl')) {
    return parseNdjson(body).map((parsed) => {
      if (!parsed.ok) throw new IngestError(400, `line ${parsed.line} is not JSON: ${parsed.error}`);
      if (tooDeep(parsed.value)) {
        throw new IngestError(400, `line ${parsed.line}: ${jsonDepthMessage}`);
      }
      return { value: parsed.value, at: { line: parsed.line } };
    });
  }
  const value = parseJson(
    body,
    'body',
    ' (send one event, an array, or NDJSON with content-type application/x-ndjson)',
  );
  return Array.isArray(value) ? value.map((v: unknown, index) => ({ value: v, at: { index } })) : [{ value, at: {} }];
}

/** JSON.parse, then the depth limit; IngestError (400) naming which, before anything validates the value. */
export function parseJson(text: string, what: string, hint = ''): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    throw new IngestError(400, `${what} is not JSON: ${(error as Error).message}${hint}`);
  }
  if (tooDeep(value)) throw new IngestError(400, jsonDepthMessage);
  return value;
}

type PublishSchema = AnyCatalogue['publishInputSchema'];

function validate(
  items: { value: unknown; at: Pick<Problem, 'line' | 'index'> }[],
  schema: PublishSchema,
): ValidEvent[] {
  if (items.length === 0) throw new IngestError(400, 'no events in the body');
  if (items.length > limits.batchSize) {
    throw new IngestError(
      400,
      `${items.length} events in one request; the limit is ${limits.batchSize} (limits.batchSize): split it`,
    );
  }
  const events: ValidEvent[] = [];
  const issues: Problem[] = [];
  const check = fastSafeParse(schema);
  for (const { value, at } of items) {
    const result = check(value);
    // The hub takes every catalogue's validated events alike (see server/routers/publish.ts).
    if (result.success) events.push(result.data as unknown as ValidEvent);
    else for (const i of result.error.issues) issues.push({ ...at, path: issuePath(i), message: i.message });
  }
  if (issues.length > 0) throw new IngestError(400, 'validation failed; nothing was stored', issues);
  return events;
}

/** Who is publishing through an HTTP ingest route, as far as the route needs to know. */
export interface IngestCaller {
  /** Whose idempotency keys the events' keys are (`Principal.keyOwner`). */
  keyOwner: string;
  /** Throws ScopeError when the caller may not publish one of the events (answered 403, nothing stored). */
  authorize(events: readonly ValidEvent[]): void;
}

/** A publisher on an ingest route: its keys, and its publish scopes checked on every event of `catalogue`. */
export function ingestCallerOf(principal: Principal, catalogue: Pick<AnyCatalogue, 'topicOf'>): IngestCaller {
  return {
    keyOwner: principal.keyOwner,
    authorize: (events) => {
      checkPublish(principal, events, (event) => catalogue.topicOf(event));
    },
  };
}

/** Without tokens: keys in the one shared namespace, every topic allowed. */
export const anyCaller: IngestCaller = { keyOwner: '', authorize: () => undefined };

/**
 * The checks between validation and the append, for every HTTP ingest route: the caller's publish scopes (403)
 * and its publish rate (429). Nothing is stored when either refuses.
 */
export function admit(events: readonly ValidEvent[], caller: IngestCaller, limits: ConnectionLimits): void {
  try {
    caller.authorize(events);
  } catch (error) {
    if (error instanceof ScopeError) throw new IngestError(403, error.message);
    throw error;
  }
  admitRate(events.length, limits);
}

/**
 * The publish rate's check alone, for a route that checked the scopes itself: 429 with the wait, or 413 for more
 * events in one request than a burst admits, with `tooLarge` (what the route's caller can do about it) added.
 */
export function admitRate(count: number, limits: ConnectionLimits, tooLarge?: string): void {
  try {
    limits.admitPublish(count);
  } catch (error) {
    if (!(error instanceof PublishRateError)) throw error;
    if (error.code === 'PAYLOAD_TOO_LARGE') {
      throw new IngestError(413, tooLarge === undefined ? error.message : `${error.message}; ${tooLarge}`);
    }
    throw new IngestError(429, error.message, undefined, error.retryAfterSeconds);
  }
}

export async function handleIngest(
  req: IncomingMessage,
  res: ServerResponse,
  hub: Hub,
  limits: ConnectionLimits,
  catalogue: Pick<AnyCatalogue, 'publishInputSchema'> = builtinCatalogue,
  caller: IngestCaller = anyCaller,
): Promise<void> {
  try {
    if (req.method !== 'POST') throw new IngestError(405, 'use POST with a JSON body');
    const items = parseBody(await readBody(req), req.headers['content-type'] ?? '');
    const events = validate(items, catalogue.publishInputSchema);
    admit(events, caller, limits);
    const envelopes = await hub.append(events, caller.keyOwner);
    sendJson(res, 200, ingestReply(envelopes));
  } catch (error) {
    if (error instanceof IngestError) {
      // Drain what the client is still sending so it reads our answer instead of a reset connection.
      req.resume();
      sendJson(
        res,
        error.status,
        { error: error.message, ...(error.issues && { issues: error.issues }) },
        error.retryAfterSeconds,
      );
      return;
    }
    if (error instanceof StoreUnavailableError) {
      // Nothing was stored, or the outcome is unknown: retrying with the same keys is safe either way.
      sendJson(res, 503, { error: error.message });
      return;
    }
    throw error;
  }
}

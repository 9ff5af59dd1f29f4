/**
 * OTLP/HTTP on the hub's port: `POST /v1/logs`, `/v1/traces` and `/v1/metrics`, so that pointing an exporter's
 * `OTEL_EXPORTER_OTLP_ENDPOINT` at the hub is all it takes. Each request is decoded (protobuf or JSON, gzip or
 * not), checked against its signal's schema, mapped record by record (server/mappers/otlp/), and stored in one
 * `hub.append`: one group commit, whatever the number of records.
 *
 * Answers as the OTLP specification says (https://opentelemetry.io/docs/specs/otlp/#otlphttp-response): 200 with
 * an empty export response, or with `partialSuccess` counting the records refused (those whose events the
 * contract refuses, an id too long, say, or that are outside the token's publish scopes) and the first reason;
 * 400 for a body that is not a request of its signal; 403 when the token may store none of it; 413 past the
 * size limit or the publish burst; 415 for other media types or encodings; 429 past the publish rate, with
 * Retry-After (the wait); 503 while the store is unavailable (retrying is safe: every event has a key). Errors
 * carry a google.rpc.Status in the request's encoding.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { describeIssues, fastSafeParse, type AnyCatalogue, type ValidEvent } from '@switchboard/shared';
import type { Hub } from '../../core/hub.js';
import { StoreUnavailableError } from '../../core/unavailable.js';
import { mapOtlp, parseOtlp, type OtlpSignal } from '../../mappers/otlp/index.js';
import type { ConnectionLimits } from '../../security/limits.js';
import { mediaType } from '../../security/content-type.js';
import { ScopeError } from '../../security/scopes.js';
import { BodyTooLargeError, overLimit, readBytes } from '../body.js';
import { admitRate, IngestError, type IngestCaller } from '../ingest.js';
import {
  contentTypes,
  decodeRequest,
  encodeResponse,
  encodeStatus,
  OtlpDecodeError,
  type OtlpEncoding,
} from './decode.js';

const paths: Readonly<Record<string, OtlpSignal>> = {
  '/v1/logs': 'logs',
  '/v1/traces': 'traces',
  '/v1/metrics': 'metrics',
};

/** The refusal when `caller` may not publish `events` (outside its publish scopes), or undefined when it may. */
function scopeRefusal(caller: IngestCaller, events: readonly ValidEvent[]): ScopeError | undefined {
  try {
    caller.authorize(events);
    return undefined;
  } catch (error) {
    if (error instanceof ScopeError) return error;
    throw error;
  }
}

/** The signal served at `path`, or undefined. */
export function otlpSignalAt(path: string): OtlpSignal | undefined {
  return Object.hasOwn(paths, path) ? paths[path] : undefined;
}

/**
 * Bytes of one OTLP request body, at most, as sent and again after gzip: a thousand log records with their tool
 * details fit, and a body that would decompress past it is refused without being inflated further.
 */
export const otlpBodyLimit = 4 * 1024 * 1024;

const inflate = promisify(gunzip);

/** google.rpc.Code of each HTTP status this route answers with. */
export const statusCodes: Readonly<Record<number, number>> = {
  400: 3,
  401: 16,
  403: 7,
  405: 12,
  413: 8,
  415: 3,
  429: 8,
  503: 14,
};

/** What one answered request held: records taken (their events stored, or already stored) and refused. */
export interface OtlpOutcome {
  accepted: number;
  rejected: number;
}

/** A refusal in OTLP's form: the status, the google.rpc.Status in the request's encoding, Retry-After if given. */
export function sendOtlpError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  retryAfterSeconds?: number,
): void {
  const encoding = encodingOf(req);
  res.writeHead(status, {
    'content-type': contentTypes[encoding],
    'cache-control': 'no-store',
    ...(retryAfterSeconds !== undefined && { 'retry-after': String(retryAfterSeconds) }),
  });
  res.end(encodeStatus(encoding, statusCodes[status] ?? 2, message));
}

function encodingOf(req: IncomingMessage): OtlpEncoding {
  return mediaType(req) === contentTypes.protobuf ? 'protobuf' : 'json';
}

/** What an exporter sent too much is told to do. */
const bodyAdvice = 'export smaller batches: lower the batch size of the exporter';

/** A gzip body inflated, at most `otlpBodyLimit` bytes: IngestError 413 past it, 400 when it is not gzip. */
export async function inflateBody(raw: Buffer): Promise<Buffer> {
  try {
    return await inflate(raw, { maxOutputLength: otlpBodyLimit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new IngestError(413, tooLarge(`the body inflates to more than ${otlpBodyLimit} bytes`));
    }
    throw new IngestError(400, `the body is not gzip: ${(error as Error).message}`);
  }
}

/** The refusal of a request past the limit, after what it was (`the message is 5000000 bytes`). */
export function tooLarge(bytes: string): string {
  return overLimit(bytes, otlpBodyLimit, bodyAdvice);
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'gzip' && encoding !== 'identity') {
    req.resume();
    throw new IngestError(415, `content-encoding "${encoding}" is not accepted here; send gzip or none`);
  }
  let raw: Buffer;
  try {
    raw = await readBytes(req, bodyAdvice, otlpBodyLimit);
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new IngestError(413, error.message);
    throw error;
  }
  return encoding === 'identity' ? raw : inflateBody(raw);
}

/** What one export request stored and refused, and the answer's message (empty when nothing was refused). */
export interface OtlpExport extends OtlpOutcome {
  message: string;
}

/** What every OTLP transport gives an export to check, map and store. */
export interface OtlpExportOptions {
  hub: Hub;
  limits: ConnectionLimits;
  catalogue: Pick<AnyCatalogue, 'publishInputSchema'>;
  caller: IngestCaller;
}

/**
 * One decoded export request (OTLP/JSON's shape, `decodeRequest`) checked against its signal's schema, mapped
 * record by record, and stored in one `hub.append`, whichever transport it came by. Throws IngestError for a
 * request refused whole (400, 403, 429), StoreUnavailableError when nothing could be stored.
 * `catalogue` validates the mapped events, `caller` says whose keys they are and checks its publish scopes.
 */
export async function exportOtlp(
  signal: OtlpSignal,
  decoded: unknown,
  options: OtlpExportOptions,
): Promise<OtlpExport> {
  const parsed = parseOtlp(signal, decoded);
  if (!parsed.success) {
    throw new IngestError(400, `not an OTLP ${signal} export request: ${describeIssues(parsed.error.issues)}`);
  }
  const events: ValidEvent[] = [];
  let accepted = 0;
  let rejected = 0;
  let firstProblem = '';
  /** The first record outside the caller's publish scopes, refused. */
  let outOfScope: ScopeError | undefined;
  const check = fastSafeParse(options.catalogue.publishInputSchema);
  for (const record of mapOtlp(signal, parsed.data)) {
    const valid: ValidEvent[] = [];
    let problem: string | undefined;
    for (const event of record.events) {
      const result = check(event);
      // The hub takes every catalogue's validated events alike (see server/routers/publish.ts).
      if (result.success) valid.push(result.data as unknown as ValidEvent);
      else problem ??= describeIssues(result.error.issues);
    }
    // Checked whether or not the record is valid: a token that may store nothing of the request gets a 403.
    const refused = scopeRefusal(options.caller, valid);
    outOfScope ??= refused;
    // Said of one record: what the refusal means for the whole request is the 403's to say.
    problem ??= refused?.refusal;
    if (problem !== undefined) {
      // The record's events are stored all or none: a record is what OTLP counts as rejected.
      rejected++;
      firstProblem ||= `${record.what}: ${problem}`;
      continue;
    }
    events.push(...valid);
    accepted++;
  }
  // A token that may store none of the request is refused as a whole (403), as /ingest refuses it; one that
  // may store some of it stores those records, and the answer counts the others with the first reason.
  if (accepted === 0 && outOfScope !== undefined) throw new IngestError(403, outOfScope.message);
  if (events.length > 0) {
    // Every record stored was checked against the scopes above.
    admitRate(
      events.length,
      options.limits,
      `the ${accepted} records of this request are ${events.length} events (a record may be several): ${bodyAdvice}`,
    );
    await options.hub.append(events, options.caller.keyOwner);
  }
  const message = rejected === 0 ? '' : `${rejected} records refused; the first: ${firstProblem}`;
  return { accepted, rejected, message };
}

/**
 * Serves one OTLP/HTTP export request; resolves with the records taken and refused once answered (undefined when
 * the request itself was refused).
 */
export async function handleOtlp(
  req: IncomingMessage,
  res: ServerResponse,
  signal: OtlpSignal,
  options: OtlpExportOptions,
): Promise<OtlpOutcome | undefined> {
  try {
    if (req.method !== 'POST') throw new IngestError(405, `use POST with an OTLP export request (${signal})`);
    const encoding = encodingOf(req);
    const { accepted, rejected, message } = await exportOtlp(
      signal,
      decodeRequest(signal, encoding, await bodyOf(req)),
      options,
    );
    res.writeHead(200, { 'content-type': contentTypes[encoding], 'cache-control': 'no-store' });
    res.end(encodeResponse(signal, encoding, rejected, message));
    return { accepted, rejected };
  } catch (error) {
    if (error instanceof IngestError || error instanceof OtlpDecodeError) {
      // Drain what the client is still sending so it reads our answer instead of a reset connection.
      req.resume();
      const status = error instanceof IngestError ? error.status : 400;
      sendOtlpError(
        req,
        res,
        status,
        error.message,
        error instanceof IngestError ? error.retryAfterSeconds : undefined,
      );
      return undefined;
    }
    if (error instanceof StoreUnavailableError) {
      // Nothing was stored, or the outcome is unknown: the exporter's retry is safe either way (keys).
      sendOtlpError(req, res, 503, error.message, 1);
      return undefined;
    }
    throw error;
  }
}

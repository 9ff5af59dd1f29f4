/**
 * OTLP/gRPC on a port of its own (`--otlp-grpc-port`; off unless given, 4317 is OTLP's): the logs, traces and
 * metrics Export services over HTTP/2 without TLS (h2c with prior knowledge), as an exporter set to
 * `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` calls them. A call goes through what OTLP/HTTP's does (./route.ts): the token
 * (the `authorization` metadata) and the publisher role, the body limit, the same decoding and `exportOtlp`, so
 * the same scopes, rate and answer. Success is the Export response in one message and `grpc-status: 0`; a refusal
 * is a trailers-only answer with the status OTLP/HTTP's status maps to (`statusCodes`) and the message, and a
 * rate refusal also carries a RetryInfo of its wait, which makes RESOURCE_EXHAUSTED retryable
 * (https://opentelemetry.io/docs/specs/otlp/#otlpgrpc, https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
 */
import {
  constants,
  createServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AnyCatalogue } from '@switchboard/shared';
import type { ContextFactory, RemotePeer } from '../../context.js';
import type { Hub } from '../../core/hub.js';
import { StoreUnavailableError } from '../../core/unavailable.js';
import type { Logger } from '../../ops/log.js';
import type { Metrics } from '../../ops/metrics.js';
import type { AccessControl } from '../../security/access.js';
import type { OtlpSignal } from '../../mappers/otlp/index.js';
import { admitCaller } from '../guard.js';
import { IngestError, ingestCallerOf } from '../ingest.js';
import { decodeRequest, encodeResponse, encodeRetryStatus, OtlpDecodeError } from './decode.js';
import { exportOtlp, inflateBody, otlpBodyLimit, statusCodes, tooLarge } from './route.js';

/** The Export method of each signal's service, as the exporters call them. */
const methods: Readonly<Record<string, OtlpSignal>> = {
  '/opentelemetry.proto.collector.logs.v1.LogsService/Export': 'logs',
  '/opentelemetry.proto.collector.trace.v1.TraceService/Export': 'traces',
  '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export': 'metrics',
};

/** gRPC status codes (google.rpc.Code) this transport answers with besides those of `statusCodes`. */
const grpcStatus = {
  ok: 0,
  invalidArgument: 3,
  resourceExhausted: 8,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
} as const;

/** Bytes before each gRPC message: a compressed flag and the message's length (big-endian). */
const prefixBytes = 5;

/** A call's request must have arrived whole this long after the call began; a late one is answered and closed. */
const defaultReadDeadlineMs = 30_000;
/** An HTTP/2 connection with no call for this long is closed (an exporter opens a new one when it next sends). */
const idleSessionMs = 120_000;
/**
 * Calls at once on one connection: an exporter sends a few exports at a time (its client queues the rest), and
 * each may hold up to `otlpBodyLimit` while it is read.
 */
const maxStreamsPerSession = 8;
/** Request bytes being read or handled at once, across every connection: past it a call is asked to retry. */
const inFlightBudgetBytes = 64 * 1024 * 1024;
/** How long a closing connection (shutdown, or idle) lets its calls finish before it is cut. */
const closeGraceMs = 2_000;
/** The content types of a gRPC call with protobuf messages. */
const grpcContentTypes = new Set(['application/grpc', 'application/grpc+proto']);

/** A refusal as a gRPC status and message; `retryAfterSeconds` adds a RetryInfo. */
class GrpcError extends Error {
  override name = 'GrpcError';
  constructor(
    readonly code: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export interface OtlpGrpcOptions {
  hub: Hub;
  catalogue: AnyCatalogue;
  access: AccessControl;
  contexts: Pick<ContextFactory, 'limitsFor'>;
  metrics: Metrics;
  log: Logger;
  /** Connections at once, at most (`--max-connections`, as for WebSockets). */
  maxConnections: number;
  /** How long a call's request may take to arrive whole; 30 s by default. */
  readDeadlineMs?: number | undefined;
}

export interface OtlpGrpcServer {
  server: Http2Server;
  /** Stops accepting, lets calls in progress finish for a moment, then closes every connection. */
  close(): Promise<void>;
}

/** A request header as one string (a repeated one joined, as HTTP joins them). */
function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** grpc-message is percent-encoded: every byte outside printable ASCII, and `%` itself. */
function percentEncoded(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Request bytes held: by the calls in progress (against `inFlightBudgetBytes`), or by one call. */
interface Held {
  bytes: number;
}

/**
 * The one message of a unary call, its prefix taken off: RESOURCE_EXHAUSTED as soon as its declared length is
 * past the limit or past what the server may hold at once (`held` counts it until the call releases it),
 * INVALID_ARGUMENT for anything but exactly one message.
 */
function readMessage(
  stream: ServerHttp2Stream,
  inFlight: Held,
  held: Held,
): Promise<{ compressed: boolean; message: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let declared: number | undefined;
    const fail = (error: GrpcError) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (declared === undefined && size >= prefixBytes) {
        declared = Buffer.concat(chunks).readUInt32BE(1);
        if (declared > otlpBodyLimit) {
          fail(new GrpcError(grpcStatus.resourceExhausted, tooLarge(`the message is ${declared} bytes`)));
          return;
        }
        if (inFlight.bytes + declared > inFlightBudgetBytes) {
          fail(
            new GrpcError(
              grpcStatus.resourceExhausted,
              `the server is reading ${inFlightBudgetBytes} bytes of requests at once, its most; retry shortly`,
              1,
            ),
          );
          return;
        }
        held.bytes = declared;
        inFlight.bytes += declared;
      }
      if (declared !== undefined && size > prefixBytes + declared) {
        fail(
          new GrpcError(grpcStatus.invalidArgument, 'an Export call takes one request message; this call sent more'),
        );
      }
    };
    const onEnd = () => {
      const body = Buffer.concat(chunks);
      if (declared === undefined || body.length !== prefixBytes + declared) {
        reject(
          new GrpcError(
            grpcStatus.invalidArgument,
            `the request is not one gRPC message (a 5-byte prefix, then as many bytes as it declares): ${body.length} bytes arrived`,
          ),
        );
        return;
      }
      const flag = body[0];
      if (flag !== 0 && flag !== 1) {
        reject(
          new GrpcError(grpcStatus.invalidArgument, `the message's compressed flag is ${String(flag)}; it is 0 or 1`),
        );
        return;
      }
      resolve({ compressed: flag === 1, message: body.subarray(prefixBytes) });
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', reject);
    // Closed before its end (reset by the client, or answered at the deadline): nothing more will come.
    stream.once('close', () => {
      reject(new GrpcError(grpcStatus.unavailable, 'the call was closed before its request arrived'));
    });
  });
}

/** One message as gRPC frames it: not compressed, its length, the bytes. */
function framed(message: Buffer): Buffer {
  const prefix = Buffer.alloc(prefixBytes);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/**
 * A trailers-only answer: the status and its message, no message body; then RST_STREAM(NO_ERROR), so a client
 * still sending stops and nothing of the call lingers. Nothing is sent on a closed stream.
 */
function answerStatus(stream: ServerHttp2Stream, error: GrpcError): void {
  if (stream.closed) return;
  if (!stream.headersSent) {
    stream.respond(
      {
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-accept-encoding': 'gzip',
        'grpc-status': String(error.code),
        'grpc-message': percentEncoded(error.message),
        ...(error.retryAfterSeconds !== undefined && {
          // gRPC sends binary headers as base64 without padding.
          'grpc-status-details-bin': encodeRetryStatus(error.code, error.message, error.retryAfterSeconds)
            .toString('base64')
            .replace(/=+$/, ''),
        }),
      },
      { endStream: true },
    );
  }
  stream.close(constants.NGHTTP2_NO_ERROR);
}

/** What a refusal of the shared OTLP path (an IngestError's HTTP status) is in gRPC. */
function grpcErrorOf(error: unknown): GrpcError | undefined {
  if (error instanceof GrpcError) return error;
  if (error instanceof OtlpDecodeError) return new GrpcError(grpcStatus.invalidArgument, error.message);
  if (error instanceof IngestError) {
    return new GrpcError(statusCodes[error.status] ?? grpcStatus.internal, error.message, error.retryAfterSeconds);
  }
  // Nothing was stored, or the outcome is unknown: the exporter's retry is safe either way (keys).
  if (error instanceof StoreUnavailableError) return new GrpcError(grpcStatus.unavailable, error.message);
  return undefined;
}

export function createOtlpGrpcServer(options: OtlpGrpcOptions): OtlpGrpcServer {
  const { hub, catalogue, access, contexts, metrics, log, readDeadlineMs = defaultReadDeadlineMs } = options;
  const sessions = new Set<Http2Session>();
  const inFlight: Held = { bytes: 0 };
  /** Closes a connection, letting its calls finish for `closeGraceMs`, then cuts it. */
  const closeSession = (session: Http2Session) => {
    session.close();
    setTimeout(() => {
      session.destroy();
    }, closeGraceMs).unref();
  };
  const server = createServer({ settings: { maxConcurrentStreams: maxStreamsPerSession } });
  server.maxConnections = options.maxConnections;
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.setTimeout(idleSessionMs, () => {
      closeSession(session);
    });
    // A peer's protocol error ends its own connection; nothing more to do.
    session.on('error', () => undefined);
  });

  /** One Export call, answered here; throws what `grpcErrorOf` turns into its status. */
  async function call(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    peer: RemotePeer,
    held: Held,
  ): Promise<void> {
    const path = headers[':path'] ?? '';
    const signal = Object.hasOwn(methods, path) ? methods[path] : undefined;
    if (signal === undefined) {
      throw new GrpcError(
        grpcStatus.unimplemented,
        `no method ${path}; this port serves the OTLP Export services: ${Object.keys(methods).join(', ')}`,
      );
    }
    const encoding = (headerOf(headers, 'grpc-encoding') ?? 'identity').toLowerCase();
    if (encoding !== 'gzip' && encoding !== 'identity') {
      throw new GrpcError(
        grpcStatus.unimplemented,
        `grpc-encoding "${encoding}" is not accepted here; send gzip or none`,
      );
    }
    const admitted = await admitCaller(access, metrics, headers.authorization, 'write');
    if (admitted.principal === null) {
      throw new GrpcError(statusCodes[admitted.status] ?? grpcStatus.internal, admitted.message);
    }
    const { compressed, message } = await readMessage(stream, inFlight, held);
    if (compressed && encoding !== 'gzip') {
      // gRPC's protocol error: a message marked compressed with no compression named for the call.
      throw new GrpcError(grpcStatus.internal, 'the message is marked compressed, but no grpc-encoding names how');
    }
    const body = compressed ? await inflateBody(message) : message;
    const outcome = await exportOtlp(signal, decodeRequest(signal, 'protobuf', body), {
      hub,
      limits: contexts.limitsFor(peer, admitted.principal),
      catalogue,
      caller: ingestCallerOf(admitted.principal, catalogue),
    });
    metrics.otlpRecords.inc({ signal, outcome: 'accepted' }, outcome.accepted);
    metrics.otlpRecords.inc({ signal, outcome: 'rejected' }, outcome.rejected);
    const answer = framed(encodeResponse(signal, 'protobuf', outcome.rejected, outcome.message));
    if (stream.closed) return;
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'gzip' },
      { waitForTrailers: true },
    );
    stream.once('wantTrailers', () => {
      stream.sendTrailers({ 'grpc-status': String(grpcStatus.ok) });
    });
    stream.end(answer);
  }

  server.on('stream', (stream, headers) => {
    // A peer that resets its call leaves nothing to answer.
    stream.on('error', () => undefined);
    const contentType = (headerOf(headers, 'content-type') ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
    if (headers[':method'] !== 'POST' || !grpcContentTypes.has(contentType)) {
      // Not a gRPC call at all: HTTP's answer, as gRPC's protocol says, and the stream closed behind it.
      stream.respond({ ':status': 415, 'content-type': 'text/plain; charset=utf-8' });
      stream.end('this port serves OTLP over gRPC: POST application/grpc calls of the OTLP Export services\n', () => {
        stream.close(constants.NGHTTP2_NO_ERROR);
      });
      return;
    }
    // Read now: once the client has gone, its connection's address is gone with it.
    const peer: RemotePeer = { socket: { remoteAddress: stream.session?.socket.remoteAddress } };
    const held: Held = { bytes: 0 };
    // The whole request within the deadline, however slowly it trickles in; storing it is the store's to bound.
    const deadline = setTimeout(() => {
      answerStatus(
        stream,
        new GrpcError(
          grpcStatus.unavailable,
          `the request did not arrive whole within ${readDeadlineMs / 1000} s; send it again`,
        ),
      );
    }, readDeadlineMs);
    stream.once('end', () => {
      clearTimeout(deadline);
    });
    stream.once('close', () => {
      clearTimeout(deadline);
      inFlight.bytes -= held.bytes;
      held.bytes = 0;
    });
    call(stream, headers, peer, held).catch((error: unknown) => {
      const refusal = grpcErrorOf(error);
      if (refusal === undefined) log.error({ err: error, path: headers[':path'] }, 'OTLP/gRPC call failed');
      answerStatus(stream, refusal ?? new GrpcError(grpcStatus.internal, 'internal error'));
    });
  });

  return {
    server,
    async close() {
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      for (const session of sessions) closeSession(session);
      await closed;
    },
  };
}

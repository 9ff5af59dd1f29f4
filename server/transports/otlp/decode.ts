/**
 * OTLP/HTTP's two encodings, decoded into one shape: `application/x-protobuf` through protobufjs and the official
 * OTLP definitions (./proto, loaded once), `application/json` as it is. A decoded protobuf request is written as
 * OTLP/JSON writes it (lowerCamelCase fields, 64-bit integers as strings, trace and span ids as hex), so one
 * schema (server/mappers/otlp/schema.ts) checks both. The answers are encoded the same two ways.
 * https://opentelemetry.io/docs/specs/otlp/#otlphttp
 */
import protobuf from 'protobufjs';
import { jsonDepthMessage, tooDeep } from '@switchboard/shared';
import type { OtlpSignal } from '../../mappers/otlp/index.js';
import { fromPackageRoot } from '../../ops/package-root.js';

export type OtlpEncoding = 'protobuf' | 'json';

/** A body that is not what its content type says, or not an export request of its signal: answered 400. */
export class OtlpDecodeError extends Error {
  override name = 'OtlpDecodeError';
}

const protoDir = fromPackageRoot('server', 'transports', 'otlp', 'proto');

const services = {
  logs: { file: 'logs/v1/logs_service.proto', package: 'logs', rejected: 'rejectedLogRecords' },
  traces: { file: 'trace/v1/trace_service.proto', package: 'trace', rejected: 'rejectedSpans' },
  metrics: { file: 'metrics/v1/metrics_service.proto', package: 'metrics', rejected: 'rejectedDataPoints' },
} as const satisfies Record<OtlpSignal, unknown>;

interface Messages {
  request: protobuf.Type;
  response: protobuf.Type;
}

/** The definitions, loaded on first use: a server that never receives OTLP never reads them. */
let loaded: { messages: Record<OtlpSignal, Messages>; status: protobuf.Type } | undefined;

function definitions() {
  if (loaded) return loaded;
  const root = new protobuf.Root();
  // Imports name files from the root of the definitions (`opentelemetry/proto/common/v1/common.proto`).
  root.resolvePath = (_origin, target) => `${protoDir}/${target}`;
  root.loadSync(Object.values(services).map((s) => `opentelemetry/proto/collector/${s.file}`));
  const messages = Object.fromEntries(
    Object.entries(services).map(([signal, s]) => {
      const name = `opentelemetry.proto.collector.${s.package}.v1.Export${exportName(signal as OtlpSignal)}Service`;
      return [signal, { request: root.lookupType(`${name}Request`), response: root.lookupType(`${name}Response`) }];
    }),
  ) as Record<OtlpSignal, Messages>;
  // google.rpc.Status, the body of every OTLP error answer: its first two fields (code, message) are all we send.
  const status = new protobuf.Type('Status')
    .add(new protobuf.Field('code', 1, 'int32'))
    .add(new protobuf.Field('message', 2, 'string'));
  new protobuf.Root().define('google.rpc').add(status);
  loaded = { messages, status };
  return loaded;
}

function exportName(signal: OtlpSignal): string {
  return signal === 'logs' ? 'Logs' : signal === 'traces' ? 'Trace' : 'Metrics';
}

/** The export request in `body`, in OTLP/JSON's shape; OtlpDecodeError when it is neither JSON nor protobuf of it. */
export function decodeRequest(signal: OtlpSignal, encoding: OtlpEncoding, body: Buffer): unknown {
  let value: unknown;
  if (encoding === 'json') {
    try {
      value = JSON.parse(body.toString('utf8')) as unknown;
    } catch (error) {
      throw new OtlpDecodeError(`the body is not JSON: ${(error as Error).message}`);
    }
  } else {
    const { request } = definitions().messages[signal];
    let message: protobuf.Message;
    try {
      message = request.decode(body);
    } catch (error) {
      // A truncated or foreign body, or one nested past the stack (a RangeError): either way not a request.
      throw new OtlpDecodeError(
        `the body is not a protobuf ${request.name}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    value = request.toObject(message, { longs: String, enums: Number, bytes: String, defaults: false });
    hexIds(signal, value);
  }
  if (tooDeep(value)) throw new OtlpDecodeError(jsonDepthMessage);
  return value;
}

/** protobufjs writes bytes as base64; OTLP/JSON writes trace and span ids as hex. Rewrites them in place. */
function hexIds(signal: OtlpSignal, value: unknown): void {
  const hex = (base64: unknown) =>
    typeof base64 === 'string' ? Buffer.from(base64, 'base64').toString('hex') : base64;
  const each = (list: unknown, fn: (item: Record<string, unknown>) => void) => {
    if (!Array.isArray(list)) return;
    for (const item of list as unknown[])
      if (typeof item === 'object' && item !== null) fn(item as Record<string, unknown>);
  };
  const root = value as Record<string, unknown>;
  if (signal === 'traces') {
    each(root.resourceSpans, (r) => {
      each(r.scopeSpans, (s) => {
        each(s.spans, (span) => {
          for (const field of ['traceId', 'spanId', 'parentSpanId']) span[field] = hex(span[field]);
          each(span.links, (link) => {
            link.traceId = hex(link.traceId);
            link.spanId = hex(link.spanId);
          });
        });
      });
    });
  } else if (signal === 'logs') {
    each(root.resourceLogs, (r) => {
      each(r.scopeLogs, (s) => {
        each(s.logRecords, (record) => {
          record.traceId = hex(record.traceId);
          record.spanId = hex(record.spanId);
        });
      });
    });
  }
}

export const contentTypes: Record<OtlpEncoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/**
 * The export answer: empty when everything was taken, else `partialSuccess` with the records refused and why.
 * JSON follows proto3's mapping (a 64-bit count is a string).
 */
export function encodeResponse(
  signal: OtlpSignal,
  encoding: OtlpEncoding,
  rejected: number,
  errorMessage: string,
): Buffer {
  const body =
    rejected === 0 ? {} : { partialSuccess: { [services[signal].rejected]: String(rejected), errorMessage } };
  if (encoding === 'json') return Buffer.from(JSON.stringify(body));
  const { response } = definitions().messages[signal];
  return Buffer.from(response.encode(response.fromObject(body)).finish());
}

/** An error answer's body: a google.rpc.Status (code 3 is INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, ...). */
export function encodeStatus(encoding: OtlpEncoding, code: number, message: string): Buffer {
  if (encoding === 'json') return Buffer.from(JSON.stringify({ code, message }));
  const { status } = definitions();
  return Buffer.from(status.encode(status.fromObject({ code, message })).finish());
}

/**
 * A google.rpc.Status whose details hold a google.rpc.RetryInfo (`retry_delay` in whole seconds), as gRPC's
 * `grpc-status-details-bin` carries it: OTLP/gRPC retries RESOURCE_EXHAUSTED only when the server sends one.
 */
export function encodeRetryStatus(code: number, message: string, retryAfterSeconds: number): Buffer {
  // Field by field: Duration (1 seconds) in RetryInfo (1 retry_delay) in an Any (1 type_url, 2 value), in the
  // Status (1 code, 2 message, 3 details); the number before each value is its field number and wire type.
  const duration = protobuf.Writer.create().uint32(8).int64(retryAfterSeconds).finish();
  const retryInfo = protobuf.Writer.create().uint32(10).bytes(duration).finish();
  const any = protobuf.Writer.create()
    .uint32(10)
    .string('type.googleapis.com/google.rpc.RetryInfo')
    .uint32(18)
    .bytes(retryInfo)
    .finish();
  return Buffer.from(
    protobuf.Writer.create().uint32(8).int32(code).uint32(18).string(message).uint32(26).bytes(any).finish(),
  );
}

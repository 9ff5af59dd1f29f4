/**
 * OTLP/gRPC as gRPC's HTTP/2 protocol has servers answer, through a real `node:http2` client speaking it by hand
 * (the SDK's own gRPC exporters are in otlp-sdk.test.ts): the Export response, and every refusal (tokens, roles,
 * scopes, the rate with its RetryInfo, sizes, framing, encodings, methods, content types) as a gRPC status with
 * nothing stored, the rest of a request stored when one record is outside the scopes.
 */
import { connect as connectHttp2, type IncomingHttpHeaders } from 'node:http2';
import { gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { healthSchema } from '@switchboard/shared';
import { createSwitchboardClient } from '../../client/index.js';
import { fromPackageRoot } from '../../server/ops/package-root.js';
import { otlpBodyLimit } from '../../server/transports/otlp/route.js';
import { oneEventASecond, startTestServer, statedWaitMs } from '../harness.js';
import { claudeCodeLogs, claudeCodeTurn, keyValues, otlpTokens } from '../otlp-fixtures.js';

const start = new Date('2026-12-01T10:00:00Z');
const logsMethod = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => fromPackageRoot('server', 'transports', 'otlp', 'proto', target);
root.loadSync([
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
]);
const request = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
const response = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');

/** An OTLP/JSON logs request (the fixtures' shape) as protobuf, as an exporter encodes it. */
function encoded(json: object): Buffer {
  return Buffer.from(request.encode(request.fromObject(json)).finish());
}

/** One gRPC message: its compressed flag, its length, its bytes. */
function framed(message: Buffer, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** grpc-status and grpc-message, from the trailers or, for a trailers-only answer, the headers. */
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
  details: string | undefined;
  body: Buffer;
}

/** One unary call over a connection of its own. */
async function call(
  url: string,
  body: Buffer,
  options: {
    path?: string;
    token?: string;
    contentType?: string;
    encoding?: string;
    /** Send the body and keep the request open, as a client still sending would: the server must close it. */
    keepOpen?: boolean;
  } = {},
): Promise<Answer> {
  const session = connectHttp2(url);
  try {
    return await new Promise<Answer>((resolve, reject) => {
      session.once('error', reject);
      const stream = session.request({
        ':method': 'POST',
        ':path': options.path ?? logsMethod,
        'content-type': options.contentType ?? 'application/grpc',
        te: 'trailers',
        ...(options.token !== undefined && { authorization: `Bearer ${options.token}` }),
        ...(options.encoding !== undefined && { 'grpc-encoding': options.encoding }),
      });
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.once('response', (h) => {
        headers = h;
      });
      stream.once('trailers', (t: IncomingHttpHeaders) => {
        trailers = t;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.once('error', reject);
      stream.once('close', () => {
        const pick = (name: string) => {
          const value = trailers[name] ?? headers[name];
          return Array.isArray(value) ? value.join(',') : value;
        };
        resolve({
          status: Number(headers[':status']),
          headers,
          grpcStatus: pick('grpc-status'),
          grpcMessage: pick('grpc-message'),
          details: pick('grpc-status-details-bin'),
          body: Buffer.concat(chunks),
        });
      });
      if (options.keepOpen === true) stream.write(body);
      else stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** The newest stored id, as /healthz says it to a token's holder. */
async function headOf(url: string, token: string): Promise<string | null> {
  const health = healthSchema.parse(
    await (await fetch(`${url}/healthz`, { headers: { authorization: `Bearer ${token}` } })).json(),
  );
  return 'headEventId' in health ? health.headEventId : 'no head without a token';
}

describe('OTLP/gRPC', () => {
  it('is off unless a port is given, and names its port when it is', async () => {
    await using off = await startTestServer();
    expect(off.otlpGrpcUrl).toBeUndefined();
    await using on = await startTestServer({ otlpGrpcPort: 0 });
    expect(on.otlpGrpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers the Export response, and refuses every bad call with a gRPC status, storing nothing', async () => {
    const { tokens, entries } = otlpTokens('grpc-raw');
    await using server = await startTestServer({ otlpGrpcPort: 0, ...oneEventASecond, tokens: entries });
    const url = server.otlpGrpcUrl;
    if (url === undefined) throw new Error('the server has no OTLP/gRPC port');
    const turn = framed(encoded(claudeCodeLogs('sess-a', claudeCodeTurn(), start)));
    const statusOf = async (body: Buffer, options: Parameters<typeof call>[2] = {}) => {
      const answer = await call(url, body, { token: tokens.publisher, ...options });
      return [answer.status, answer.grpcStatus, answer.grpcMessage && decodeURIComponent(answer.grpcMessage)];
    };

    expect(await statusOf(turn, { token: '' })).toEqual([
      200,
      '16',
      'missing or unknown token: send Authorization: Bearer <token>',
    ]);
    expect(await statusOf(turn, { token: tokens.viewer })).toEqual([
      200,
      '7',
      'token "viewer-2" has role viewer; this needs publisher or admin',
    ]);
    // A session this token may not publish: nothing of it may be stored, so the call is refused whole.
    const elsewhere = framed(encoded(claudeCodeLogs('sess-z', claudeCodeTurn(), start)));
    expect(await statusOf(elsewhere, { token: tokens.scoped })).toEqual([
      200,
      '7',
      expect.stringMatching(/topic agent:sess-z .*; nothing was stored$/),
    ]);
    expect(
      await statusOf(turn, { path: '/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export' }),
    ).toEqual([
      200,
      '12',
      expect.stringMatching(
        /^no method \/opentelemetry\.proto\.collector\.profiles\..*; this port serves the OTLP Export services: /,
      ),
    ]);
    expect(await statusOf(framed(Buffer.from([0x0a, 0xff, 0xff, 0x01])))).toEqual([
      200,
      '3',
      expect.stringMatching(/^the body is not a protobuf ExportLogsServiceRequest/),
    ]);
    expect(await statusOf(Buffer.concat([turn, turn]))).toEqual([
      200,
      '3',
      'an Export call takes one request message; this call sent more',
    ]);
    expect(await statusOf(turn.subarray(0, 3))).toEqual([
      200,
      '3',
      'the request is not one gRPC message (a 5-byte prefix, then as many bytes as it declares): 3 bytes arrived',
    ]);
    // Declared past the limit: refused from its prefix, before the rest is read.
    const huge = Buffer.alloc(5);
    huge.writeUInt32BE(otlpBodyLimit + 1, 1);
    expect(await statusOf(Buffer.concat([huge, Buffer.alloc(1024)]))).toEqual([
      200,
      '8',
      `the message is ${otlpBodyLimit + 1} bytes; the limit is ${otlpBodyLimit} bytes per request (export smaller batches: lower the batch size of the exporter)`,
    ]);
    const deflated = framed(gzipSync(encoded(claudeCodeLogs('sess-a', claudeCodeTurn(), start))), true);
    expect(await statusOf(deflated, { encoding: 'deflate' })).toEqual([
      200,
      '12',
      'grpc-encoding "deflate" is not accepted here; send gzip or none',
    ]);
    expect(await statusOf(framed(Buffer.from('not gzip'), true), { encoding: 'gzip' })).toEqual([
      200,
      '3',
      expect.stringMatching(/^the body is not gzip: /),
    ]);
    // Marked compressed with no compression named: gRPC's protocol error.
    expect(await statusOf(framed(gzipSync(Buffer.from('x')), true))).toEqual([
      200,
      '13',
      'the message is marked compressed, but no grpc-encoding names how',
    ]);
    // Not gRPC (JSON, gRPC-Web) at all: HTTP's own answer.
    for (const contentType of ['application/json', 'application/grpc-web']) {
      const plain = await call(url, turn, { token: tokens.publisher, contentType });
      expect([plain.status, plain.grpcStatus, plain.body.toString()]).toEqual([
        415,
        undefined,
        'this port serves OTLP over gRPC: POST application/grpc calls of the OTLP Export services\n',
      ]);
    }
    // A caller without a token is answered at once, before its request has arrived (the server reads none of it).
    const lingering = await call(url, turn.subarray(0, 100), { keepOpen: true, token: '' });
    expect([lingering.grpcStatus, lingering.grpcMessage]).toEqual(['16', expect.stringMatching(/^missing/)]);
    expect(await headOf(server.url, tokens.viewer)).toBe('0');

    // Its own session, compressed: the turn's API error is an alert on `system`, outside the scopes; that record
    // alone is refused, and the Export response says which and why.
    const scoped = await call(url, deflated, { token: tokens.scoped, encoding: 'gzip' });
    expect([scoped.status, scoped.headers['content-type'], scoped.grpcStatus]).toEqual([200, 'application/grpc', '0']);
    // One message, not compressed.
    expect([scoped.body[0], scoped.body.readUInt32BE(1)]).toEqual([0, scoped.body.length - 5]);
    expect(response.toObject(response.decode(scoped.body.subarray(5)), { longs: String })).toEqual({
      partialSuccess: {
        rejectedLogRecords: '1',
        errorMessage:
          '1 records refused; the first: log claude_code.api_error: token "publisher-3" may not publish to topic system (its publish scopes: agent:sess-a, workflow:sess-a)',
      },
    });
    const stored = await headOf(server.url, tokens.viewer);
    expect(Number(stored)).toBeGreaterThan(0);
    // The exporter's retry of the same records stores nothing more.
    expect((await call(url, deflated, { token: tokens.scoped, encoding: 'gzip' })).grpcStatus).toBe('0');
    expect(await headOf(server.url, tokens.viewer)).toBe(stored);

    // A burst of a thousand: a request of 1,010 events is more than any wait admits. RESOURCE_EXHAUSTED without a
    // RetryInfo, which the exporter does not retry.
    const many = framed(
      encoded(claudeCodeLogs('sess-b', Array.from({ length: 101 }, () => claudeCodeTurn()).flat(), start)),
    );
    const limited = await call(url, many, { token: tokens.publisher });
    expect([limited.grpcStatus, decodeURIComponent(limited.grpcMessage ?? ''), limited.details]).toEqual([
      '8',
      '1010 events in one call, more than the publish burst (1000 events per publisher, SWITCHBOARD_PUBLISH_BURST) ever admits: send at most 1000 per call, or raise the burst; the 808 records of this request are 1010 events (a record may be several): export smaller batches: lower the batch size of the exporter',
      undefined,
    ]);
    expect(await headOf(server.url, tokens.viewer)).toBe(stored);

    await using client = createSwitchboardClient({ url: server.url, WebSocket, token: tokens.viewer });
    expect((await client.agents.query()).map((a) => a.data.agentId)).toEqual(['sess-a']);
  });

  it('answers a call past the publish rate RESOURCE_EXHAUSTED with a RetryInfo of the wait', async () => {
    const token = 'grpc-rate-publisher-0123';
    await using server = await startTestServer({
      otlpGrpcPort: 0,
      ...oneEventASecond,
      tokens: [{ role: 'publisher', token }],
    });
    const url = server.otlpGrpcUrl;
    if (url === undefined) throw new Error('the server has no OTLP/gRPC port');
    // 990 events of the burst of a thousand taken, at one event a second.
    const turns = (n: number) =>
      framed(encoded(claudeCodeLogs('sess-r', Array.from({ length: n }, () => claudeCodeTurn()).flat(), start)));
    expect((await call(url, turns(99), { token })).grpcStatus).toBe('0');
    const stored = Number(await headOf(server.url, token));
    expect(stored).toBe(990);
    // A thousand more: admitted once the 990 have come back, up to 990 seconds from now.
    const limited = await call(url, turns(100), { token });
    const message = decodeURIComponent(limited.grpcMessage ?? '');
    expect([limited.grpcStatus, message]).toEqual(['8', expect.stringMatching(/^publish rate limit: 1 events\/s/)]);
    const waitMs = statedWaitMs(message);
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(stored * 1000);
    // google.rpc.Status { code, message, details: [Any { type_url, value: RetryInfo }] }, field by field.
    const status = protobuf.Reader.create(Buffer.from(limited.details ?? '', 'base64'));
    const fields: Record<number, unknown> = {};
    while (status.pos < status.len) {
      const tag = status.uint32();
      fields[tag >>> 3] = (tag & 7) === 0 ? status.int32() : status.bytes();
    }
    expect(fields[1]).toBe(8);
    expect(Buffer.from(fields[2] as Uint8Array).toString()).toBe(message);
    const any = protobuf.Reader.create(fields[3] as Uint8Array);
    any.uint32();
    expect(any.string()).toBe('type.googleapis.com/google.rpc.RetryInfo');
    any.uint32();
    // RetryInfo { retry_delay (1): Duration { seconds (1) } }: the wait in whole seconds, rounded up.
    const retryInfo = protobuf.Reader.create(any.bytes());
    expect(retryInfo.uint32()).toBe(0x0a);
    const duration = protobuf.Reader.create(retryInfo.bytes());
    expect(duration.uint32()).toBe(0x08);
    expect(Number(duration.int64())).toBe(Math.ceil(waitMs / 1000));
    expect(duration.pos).toBe(duration.len);
    expect(await headOf(server.url, token)).toBe(String(stored));
  });

  it('answers and closes a call whose request does not arrive whole by the deadline', async () => {
    await using server = await startTestServer({ otlpGrpcPort: 0, otlpGrpcReadDeadlineMs: 1_000 });
    const url = server.otlpGrpcUrl;
    if (url === undefined) throw new Error('the server has no OTLP/gRPC port');
    const turn = framed(encoded(claudeCodeLogs('sess-slow', claudeCodeTurn(), start)));
    // Half the message, and then nothing: the client never ends its request.
    const late = await call(url, turn.subarray(0, turn.length / 2), { keepOpen: true });
    expect([late.status, late.grpcStatus, decodeURIComponent(late.grpcMessage ?? '')]).toEqual([
      200,
      '14',
      'the request did not arrive whole within 1 s; send it again',
    ]);
    // The whole message in time is taken.
    expect((await call(url, turn)).grpcStatus).toBe('0');
  });

  it('serves the trace service too: a GenAI span becomes its agent and workflow', async () => {
    await using server = await startTestServer({ otlpGrpcPort: 0 });
    const url = server.otlpGrpcUrl;
    if (url === undefined) throw new Error('the server has no OTLP/gRPC port');
    const traces = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
    const at = BigInt(start.getTime()) * 1_000_000n;
    const message = traces
      .encode(
        traces.fromObject({
          resourceSpans: [
            {
              resource: { attributes: keyValues({ 'service.name': 'my-agents' }) },
              scopeSpans: [
                {
                  spans: [
                    {
                      traceId: Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'),
                      spanId: Buffer.from('b7ad6b7169203331', 'hex'),
                      name: 'invoke_agent planner',
                      kind: 1,
                      startTimeUnixNano: String(at),
                      endTimeUnixNano: String(at + 1_000_000n),
                      attributes: keyValues({
                        'gen_ai.operation.name': 'invoke_agent',
                        'gen_ai.agent.name': 'planner',
                      }),
                    },
                  ],
                },
              ],
            },
          ],
        }),
      )
      .finish();
    const answer = await call(url, framed(Buffer.from(message)), {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    });
    expect([answer.grpcStatus, answer.body.length]).toEqual(['0', 5]);
    await using client = createSwitchboardClient({ url: server.url, WebSocket });
    expect((await client.agents.query()).map((a) => a.data.agentId)).toEqual(['planner']);
    expect((await client.workflows.query()).map((w) => w.workflowId)).toEqual(['0af7651916cd43dd8448eb211c80319c']);
  });
});

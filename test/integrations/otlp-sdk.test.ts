/**
 * The OpenTelemetry JS SDK's own OTLP exporters (http/json, http/protobuf and gRPC) against a real server on port 0:
 * the SDK makes the records (a LoggerProvider, a TracerProvider, a MeterProvider with their in-memory exporters),
 * the OTLP exporters send them as they would to a collector, and the typed client reads what they became.
 */
import { Metadata } from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it, vi } from 'vitest';
import { isEventOf } from '@switchboard/shared';
import WebSocket from 'ws';
import { createSwitchboardClient } from '../../client/index.js';
import { connect, startTestServer } from '../harness.js';
import { claudeCodeStandard, claudeCodeTurn } from '../otlp-fixtures.js';

/** What an OTLP exporter reports for one export: SUCCESS is 0. */
interface Exporter<T> {
  export(items: T, done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

/** What the exporter reported for one export, once it has shut down. */
async function exportOnce<T>(exporter: Exporter<T>, items: T): Promise<{ code: number; error?: Error }> {
  const result = await new Promise<{ code: number; error?: Error }>((resolve) => {
    exporter.export(items, resolve);
  });
  await exporter.shutdown();
  return result;
}

async function send<T>(exporter: Exporter<T>, items: T): Promise<void> {
  const result = await exportOnce(exporter, items);
  if (result.code !== 0) throw new Error(`the exporter failed: ${result.error?.message ?? 'no error given'}`);
}

/** Claude Code's counters as its SDK collects them, once (delta temporality, as Claude Code exports). */
async function claudeCodeMetrics(session: string) {
  const memory = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const reader = new PeriodicExportingMetricReader({ exporter: memory, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'claude-code' }),
    readers: [reader],
  });
  const meter = provider.getMeter('com.anthropic.claude_code', '2.1.216');
  const attributes = { 'session.id': session, 'user.id': 'u-1', 'terminal.type': 'vscode' };
  meter
    .createCounter('claude_code.cost.usage', { unit: 'USD' })
    .add(0.25, { ...attributes, model: 'claude-sonnet-4-6' });
  meter.createCounter('claude_code.lines_of_code.count').add(42, { ...attributes, type: 'added' });
  meter.createCounter('process.restarts').add(1, { host: 'build-7' });
  await reader.forceFlush();
  const [exported] = memory.getMetrics();
  if (!exported) throw new Error('the SDK collected nothing');
  await provider.shutdown();
  return exported;
}

/** Claude Code's events as its SDK emits them: body `claude_code.<name>`, attributes as strings. */
function claudeCodeRecords(session: string): ReadableLogRecord[] {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'claude-code', 'service.version': '2.1.216' }),
    processors: [new SimpleLogRecordProcessor({ exporter: memory })],
  });
  const logger = provider.getLogger('com.anthropic.claude_code.events', '2.1.216');
  const start = Date.parse('2026-12-01T10:00:00Z');
  claudeCodeTurn().forEach((event, i) => {
    const at = new Date(start + i * 1000);
    logger.emit({
      body: `claude_code.${event.name}`,
      timestamp: at,
      attributes: {
        ...claudeCodeStandard(session),
        'event.name': event.name,
        'event.timestamp': at.toISOString(),
        'event.sequence': i + 1,
        ...event.attributes,
      },
    });
  });
  return memory.getFinishedLogRecords();
}

const isBlock = isEventOf(['workflow.block']);
const isRecord = isEventOf(['otel.record']);
const isMetric = isEventOf(['agent.metric']);

describe('OTLP from the OpenTelemetry JS SDK', () => {
  it('takes Claude Code logs over http/json and http/protobuf: agent, workflow, calls and usage', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    await send<ReadableLogRecord[]>(
      new JsonLogExporter({ url: `${server.url}/v1/logs` }),
      claudeCodeRecords('sess-json'),
    );
    const protoRecords = claudeCodeRecords('sess-proto');
    // Compressed, as OTEL_EXPORTER_OTLP_COMPRESSION=gzip asks of every exporter.
    vi.stubEnv('OTEL_EXPORTER_OTLP_COMPRESSION', 'gzip');
    const sendProto = () =>
      send<ReadableLogRecord[]>(new ProtoLogExporter({ url: `${server.url}/v1/logs` }), protoRecords);
    try {
      await sendProto();
      // The exporter's retry of the same records stores nothing.
      const head = (await client.history.query({ order: 'desc', limit: 1 })).events[0]?.id;
      await sendProto();
      expect((await client.history.query({ order: 'desc', limit: 1 })).events[0]?.id).toBe(head);
    } finally {
      vi.unstubAllEnvs();
    }

    for (const session of ['sess-json', 'sess-proto']) {
      const [agent] = await client.agents.query({ agentIds: [session] });
      expect(agent?.data).toMatchObject({ agentType: 'claude-code', status: 'busy', reason: 'working on a prompt' });
      expect(await client.workflow.query({ workflowId: session })).toMatchObject({
        status: 'running',
        currentStepId: 'main',
      });

      const { events } = await client.history.query({ topics: [`workflow:${session}`], limit: 100 });
      const calls = events.filter(isBlock).flatMap((e) => (e.data.blockType === 'tool_use' ? [e.data] : []));
      expect(calls.map((c) => [c.payload.toolName, c.payload.callId, c.payload.isError, c.payload.durationMs])).toEqual(
        [
          ['Bash', 'toolu_01ABC', false, 1234],
          ['Read', 'toolu_01DEF', true, 12],
          ['Write', 'toolu_01GHI', true, undefined],
        ],
      );
      expect(calls.map((c) => [c.payload.decision, c.payload.decisionSource, c.summary])).toEqual([
        ['accept', 'config', 'Bash done in 1.2 s: npm test'],
        ['accept', 'user_temporary', 'Read failed (Error:ENOENT) in 12 ms'],
        ['reject', 'user_reject', 'Write rejected (user_reject)'],
      ]);
      const prompt = events.filter(isBlock).find((e) => e.data.blockType === 'text');
      expect(prompt?.data.summary).toBe('Write a function to calculate the factorial of a number');
    }

    // Two API requests per session, summed exactly (in millionths of a dollar).
    const usage = await client.usage.query();
    const perSession = {
      inputTokens: 1500,
      outputTokens: 365,
      cacheReadTokens: 18000,
      cacheCreationTokens: 2500,
      costUsd: 0.013,
      requests: 2,
    };
    expect(usage.agents.map((a) => [a.id, a.usage])).toEqual([
      ['sess-proto', perSession],
      ['sess-json', perSession],
    ]);
    expect(usage.workflows.map((w) => w.id).sort()).toEqual(['sess-json', 'sess-proto']);
    expect(usage.total).toEqual({
      ...perSession,
      inputTokens: 3000,
      outputTokens: 730,
      cacheReadTokens: 36000,
      cacheCreationTokens: 5000,
      costUsd: 0.026,
      requests: 4,
    });
    expect(usage.models.map((m) => [m.id, m.usage.requests])).toEqual([
      ['claude-sonnet-4-6', 2],
      ['claude-haiku-4-5', 2],
    ]);
    // The API error is an alert naming the session's agent.
    const alerts = await client.history.query({ types: ['system.alert'] });
    expect(alerts.events.map((e) => e.data)).toContainEqual(
      expect.objectContaining({
        severity: 'medium',
        title: 'Claude Code API error 529 (claude-sonnet-4-6)',
        affectedComponents: ['claude-code', 'agent:sess-json'],
      }),
    );
  });

  it('takes GenAI spans over http/json and http/protobuf: the agent, its workflow, tool calls and usage', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    const run = (tracer: Tracer, agent: string) => {
      // The outermost agent, a model call, a tool call that works and one that fails, another model call, and a
      // span of no GenAI operation. Children name their parent through a context, as instrumentation passes it.
      const root = tracer.startSpan(`invoke_agent ${agent}`, {
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.agent.name': agent,
          'gen_ai.agent.id': `${agent}-1`,
        },
      });
      const inside = trace.setSpan(ROOT_CONTEXT, root);
      const child = (name: string, attributes: Record<string, string | number>) =>
        tracer.startSpan(name, { attributes }, inside);
      child('chat gpt-4o', {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.usage.cache_read.input_tokens': 400,
        'gen_ai.usage.output_tokens': 120,
      }).end();
      child('execute_tool get_weather', {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'get_weather',
        'gen_ai.tool.call.id': 'call_abc',
        'gen_ai.tool.call.arguments': '{"city":"Paris"}',
        'gen_ai.tool.call.result': '{"temperature":21}',
      }).end();
      const failing = child('execute_tool search', {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'search',
        'error.type': 'TimeoutError',
      });
      failing.setStatus({ code: SpanStatusCode.ERROR, message: 'search timed out' });
      failing.end();
      child('chat gpt-4o', {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 50,
        'gen_ai.usage.output_tokens': 5,
      }).end();
      child('GET /internal', {}).end();
      root.end();
    };
    const spansOf = (agent: string) => {
      const memory = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': 'weather-agent' }),
        spanProcessors: [new SimpleSpanProcessor(memory)],
      });
      run(provider.getTracer('agent-framework'), agent);
      return memory.getFinishedSpans();
    };
    const jsonSpans = spansOf('planner');
    const protoSpans = spansOf('writer');
    await send(new JsonTraceExporter({ url: `${server.url}/v1/traces` }), jsonSpans);
    await send(new ProtoTraceExporter({ url: `${server.url}/v1/traces` }), protoSpans);

    for (const [agent, spans] of [
      ['planner', jsonSpans],
      ['writer', protoSpans],
    ] as const) {
      const traceId = spans[0]?.spanContext().traceId ?? '';
      const agentId = `${agent}-1`;
      expect(await client.workflow.query({ workflowId: traceId })).toMatchObject({
        status: 'completed',
        workflowType: agent,
      });
      const [status] = await client.agents.query({ agentIds: [agentId] });
      expect(status?.data).toMatchObject({ status: 'idle', agentType: agent });

      const { events } = await client.history.query({ topics: [`workflow:${traceId}`], limit: 100 });
      expect(events.every((e) => e.correlationId === traceId)).toBe(true);
      const calls = events.filter(isBlock).flatMap((e) => (e.data.blockType === 'tool_use' ? [e.data] : []));
      const span = (name: string) => spans.find((s) => s.name === name)?.spanContext().spanId;
      expect(
        calls.map((c) => [c.stepId, c.payload.toolName, c.payload.callId, c.payload.isError, c.payload.spanId]),
      ).toEqual([
        [agentId, 'get_weather', 'call_abc', false, span('execute_tool get_weather')],
        [agentId, 'search', span('execute_tool search'), true, span('execute_tool search')],
      ]);
      expect(calls[0]?.payload).toMatchObject({
        inputPreview: '{"city":"Paris"}',
        output: '{"temperature":21}',
        traceId,
      });
      expect(calls.every((c) => typeof c.payload.durationMs === 'number')).toBe(true);
      expect(calls[1]?.summary).toMatch(/^search failed \(TimeoutError\) in \d+ ms$/);
      // Input tokens there include the cached ones; usage keeps them apart.
      const [usage] = (await client.usage.query({ agentIds: [agentId] })).agents;
      expect(usage?.usage).toEqual({
        inputTokens: 650,
        outputTokens: 125,
        cacheReadTokens: 400,
        cacheCreationTokens: 0,
        costUsd: 0,
        requests: 2,
      });
      // A span of no GenAI operation is kept, generically, under the service.
      const records = await client.history.query({ types: ['otel.record'], topics: ['otel:weather-agent'] });
      expect(
        records.events
          .filter(isRecord)
          .filter((e) => e.data.traceId === traceId)
          .map((e) => e.data),
      ).toEqual([expect.objectContaining({ signal: 'span', name: 'GET /internal', agentId, workflowId: traceId })]);
    }
  });

  it('takes metrics, each point on the agent it names, and exports usage totals in /metrics', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    await send(new OTLPMetricExporter({ url: `${server.url}/v1/metrics` }), await claudeCodeMetrics('sess-m'));

    const metrics = await client.history.query({ types: ['agent.metric'] });
    expect(
      metrics.events.filter(isMetric).map((e) => [e.data.agentId, e.data.name, e.data.value, e.data.unit]),
    ).toEqual([
      ['sess-m', 'claude_code.cost.usage{model=claude-sonnet-4-6}', 0.25, 'USD'],
      ['sess-m', 'claude_code.lines_of_code.count{type=added}', 42, undefined],
    ]);
    const records = await client.history.query({ types: ['otel.record'] });
    expect(records.events.map((e) => e.data)).toEqual([
      expect.objectContaining({ signal: 'metric', name: 'process.restarts', service: 'claude-code', body: '1' }),
    ]);
    // A cost metric repeats what the requests reported: it adds nothing to usage.
    expect((await client.usage.query()).total.requests).toBe(0);

    // Usage from requests is exported by model.
    await send<ReadableLogRecord[]>(new JsonLogExporter({ url: `${server.url}/v1/logs` }), claudeCodeRecords('sess-m'));
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('switchboard_usage_cost_usd_total{model="claude-sonnet-4-6"} 0.0123');
    expect(text).toContain('switchboard_usage_tokens_total{type="cache_read",model="claude-sonnet-4-6"} 18000');
    expect(text).toContain('switchboard_usage_requests_total{model="claude-haiku-4-5"} 1');
    expect(text).toContain('switchboard_otlp_records_total{signal="metrics",outcome="accepted"} 3');
  });

  it('authenticates as OTEL_EXPORTER_OTLP_HEADERS says, and serves a thousand records as one group commit', async () => {
    const publisher = 'cc-publisher-0123456789';
    const admin = 'ops-admin-0123456789ab';
    await using server = await startTestServer({
      tokens: [
        { role: 'publisher', token: publisher },
        { role: 'admin', token: admin },
      ],
    });
    const scrape = async () =>
      (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
    const commits = (text: string) => Number(/^switchboard_publish_seconds_count (\d+)$/m.exec(text)?.[1] ?? 'NaN');
    const records = Array.from({ length: 125 }, (_, i) => claudeCodeRecords(`sess-${i}`)).flat();
    expect(records).toHaveLength(1000);

    // Without the header the exporter is refused, and nothing is stored.
    await expect(
      send<ReadableLogRecord[]>(new ProtoLogExporter({ url: `${server.url}/v1/logs` }), records),
    ).rejects.toThrow(/401|Unauthorized/);
    const before = commits(await scrape());
    // What a user sets for Claude Code; the SDK's exporters read the same variables.
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', server.url);
    vi.stubEnv('OTEL_EXPORTER_OTLP_HEADERS', `Authorization=Bearer ${publisher}`);
    try {
      await send<ReadableLogRecord[]>(new ProtoLogExporter(), records);
    } finally {
      vi.unstubAllEnvs();
    }
    // The thousand records, 1,250 events, went in one append: the store reported one batch.
    expect(commits(await scrape())).toBe(before + 1);
    await using client = createSwitchboardClient({ url: server.url, WebSocket, token: admin });
    const usage = await client.usage.query({ limit: 1000 });
    expect(usage.total.requests).toBe(250);
    expect(usage.agents).toHaveLength(125);
  });
  it('takes Claude Code logs and metrics over gRPC, with its token in the metadata, gzip or not', async () => {
    const publisher = 'grpc-publisher-0123456789';
    const viewer = 'grpc-viewer-0123456789ab';
    await using server = await startTestServer({
      otlpGrpcPort: 0,
      tokens: [
        { role: 'publisher', token: publisher },
        { role: 'viewer', token: viewer },
      ],
    });
    const url = server.otlpGrpcUrl;
    if (url === undefined) throw new Error('the server has no OTLP/gRPC port');
    await using client = createSwitchboardClient({ url: server.url, WebSocket, token: viewer });
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${publisher}`);

    // Without the token: refused, and the exporter says why.
    const refused = await exportOnce(new GrpcLogExporter({ url }), claudeCodeRecords('sess-grpc'));
    expect(refused.code).not.toBe(0);
    expect(refused.error?.message).toContain('missing or unknown token: send Authorization: Bearer <token>');
    expect(await client.history.query({ limit: 1 })).toMatchObject({ events: [] });

    const records = claudeCodeRecords('sess-grpc');
    await send<ReadableLogRecord[]>(new GrpcLogExporter({ url, metadata }), records);
    const head = (await client.history.query({ order: 'desc', limit: 1 })).events[0]?.id;
    expect(head).toBe('10');
    // The same records again, compressed as OTEL_EXPORTER_OTLP_COMPRESSION=gzip asks: stored once.
    vi.stubEnv('OTEL_EXPORTER_OTLP_COMPRESSION', 'gzip');
    try {
      await send<ReadableLogRecord[]>(new GrpcLogExporter({ url, metadata }), records);
    } finally {
      vi.unstubAllEnvs();
    }
    expect((await client.history.query({ order: 'desc', limit: 1 })).events[0]?.id).toBe(head);

    const [agent] = await client.agents.query({ agentIds: ['sess-grpc'] });
    expect(agent?.data).toMatchObject({ agentType: 'claude-code', status: 'busy', reason: 'working on a prompt' });
    const { events } = await client.history.query({ topics: ['workflow:sess-grpc'], limit: 100 });
    expect(events.filter(isBlock).flatMap((e) => (e.data.blockType === 'tool_use' ? [e.data.summary] : []))).toEqual([
      'Bash done in 1.2 s: npm test',
      'Read failed (Error:ENOENT) in 12 ms',
      'Write rejected (user_reject)',
    ]);
    expect((await client.usage.query()).total).toMatchObject({ inputTokens: 1500, costUsd: 0.013, requests: 2 });

    await send(new GrpcMetricExporter({ url, metadata }), await claudeCodeMetrics('sess-grpc'));
    const metrics = await client.history.query({ types: ['agent.metric'] });
    expect(metrics.events.filter(isMetric).map((e) => [e.data.agentId, e.data.name, e.data.value])).toEqual([
      ['sess-grpc', 'claude_code.cost.usage{model=claude-sonnet-4-6}', 0.25],
      ['sess-grpc', 'claude_code.lines_of_code.count{type=added}', 42],
    ]);
  });
});

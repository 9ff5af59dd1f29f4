/**
 * OTLP/HTTP as the specification has receivers answer, with records shaped exactly as Claude Code and Codex
 * send them: what they become, retries stored once, a session sending hooks and telemetry at once shown once,
 * every refusal (bad payloads, media types, encodings, sizes, tokens, scopes, rate) storing nothing, and a record
 * outside a token's publish scopes refused alone.
 */
import { gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { healthSchema, isEventOf } from '@switchboard/shared';
import { createSwitchboardClient } from '../../client/index.js';
import { mapOtlp, parseOtlp } from '../../server/mappers/otlp/index.js';
import { connect, oneEventASecond, startTestServer, statedWaitMs } from '../harness.js';
import {
  claudeCodeLogs,
  claudeCodeTurn,
  codexLogs,
  codexRecord,
  keyValues,
  otlpTokens,
  postOtlp,
} from '../otlp-fixtures.js';

const start = new Date('2026-12-01T10:00:00Z');
const isBlock = isEventOf(['workflow.block']);

/** The newest stored id, as /healthz says it (to a token's holder, when the server has tokens). */
async function headOf(url: string, token?: string): Promise<string | null> {
  const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` };
  const health = healthSchema.parse(await (await fetch(`${url}/healthz`, { headers })).json());
  return 'headEventId' in health ? health.headEventId : 'no head without a token';
}

/** google.rpc.Status, as an OTLP receiver's protobuf error body carries it. */
const status = new protobuf.Type('Status')
  .add(new protobuf.Field('code', 1, 'int32'))
  .add(new protobuf.Field('message', 2, 'string'));
new protobuf.Root().define('google.rpc').add(status);

describe('OTLP/HTTP', () => {
  it('stores a retried request once, over JSON and gzip, and answers an empty export response', async () => {
    await using server = await startTestServer();
    const body = claudeCodeLogs('sess-retry', claudeCodeTurn(), start);
    const first = await postOtlp(server.url, 'logs', body);
    expect([first.status, first.contentType, first.json()]).toEqual([200, 'application/json', {}]);
    const head = await headOf(server.url);
    expect(head).toBe('10');
    // The exporter's retry, and the same records again compressed: nothing new.
    expect((await postOtlp(server.url, 'logs', body)).status).toBe(200);
    expect((await postOtlp(server.url, 'logs', body, { gzip: true })).status).toBe(200);
    expect(await headOf(server.url)).toBe(head);
    await using client = connect(server.url);
    expect((await client.usage.query()).total.requests).toBe(2);
  });

  it('shows a session that sends hooks and telemetry at once as one agent and one workflow', async () => {
    await using server = await startTestServer();
    const session = 'b9c5a4e2-7d1f-4c8e-9a3b-2f6d0e1c5a7b';
    const hook = (event: Record<string, unknown>) =>
      fetch(`${server.url}/ingest/claude-code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ session_id: session, cwd: '/home/dev/app', ...event }),
      });
    const tool = { tool_name: 'Bash', tool_input: { command: 'npm test' }, tool_use_id: 'toolu_01ABC' };
    for (const event of [
      { hook_event_name: 'SessionStart', source: 'startup', model: 'claude-sonnet-4-6' },
      { hook_event_name: 'UserPromptSubmit', prompt: 'Write a function to calculate the factorial of a number' },
      { hook_event_name: 'PreToolUse', ...tool },
      { hook_event_name: 'PostToolUse', ...tool, tool_response: { stdout: 'ok' } },
    ]) {
      expect((await hook(event)).status).toBe(200);
    }
    expect((await postOtlp(server.url, 'logs', claudeCodeLogs(session, claudeCodeTurn(), start))).status).toBe(200);
    expect((await hook({ hook_event_name: 'Stop' })).status).toBe(200);

    await using client = connect(server.url);
    const agents = await client.agents.query();
    expect(agents.map((a) => [a.data.agentId, a.data.agentType, a.data.status])).toEqual([
      [session, 'claude-code', 'idle'],
    ]);
    const workflows = await client.workflows.query();
    expect(workflows.map((w) => [w.workflowId, w.workflowType, w.status])).toEqual([
      [session, 'claude-code', 'running'],
    ]);
    const usage = await client.usage.query();
    expect(usage.agents.map((a) => [a.id, a.usage.costUsd, a.usage.requests])).toEqual([[session, 0.013, 2]]);
    expect(usage.workflows.map((w) => w.id)).toEqual([session]);
    // The hook's call and the telemetry's report of it name the same call.
    const { events } = await client.history.query({ topics: [`workflow:${session}`], limit: 100 });
    const bash = events
      .filter(isBlock)
      .filter((e) => e.data.blockType === 'tool_use' && e.data.payload.toolName === 'Bash');
    expect(bash.map((e) => (e.data.blockType === 'tool_use' ? e.data.payload.callId : ''))).toEqual([
      'toolu_01ABC',
      'toolu_01ABC',
      'toolu_01ABC',
    ]);
  });

  it('maps a Codex session: its start, prompt, calls, decisions, tokens (each event once) and failures', async () => {
    await using server = await startTestServer();
    const at = (s: number) => new Date(start.getTime() + s * 1000);
    const completed = {
      'event.kind': 'response.completed',
      input_token_count: '1000',
      output_token_count: '50',
      cached_token_count: 400,
      reasoning_token_count: 20,
      tool_token_count: '0',
    };
    const records = [
      codexRecord(
        'conv-1',
        'codex.conversation_starts',
        { provider_name: 'openai', approval_policy: 'on-request', sandbox_policy: 'read-only' },
        at(0),
      ),
      codexRecord('conv-1', 'codex.user_prompt', { prompt_length: '21', prompt: '[REDACTED]' }, at(1)),
      codexRecord(
        'conv-1',
        'codex.tool_decision',
        { tool_name: 'shell', call_id: 'call_1', decision: 'approved', source: 'user' },
        at(2),
      ),
      codexRecord(
        'conv-1',
        'codex.tool_result',
        {
          tool_name: 'shell',
          call_id: 'call_1',
          arguments: '{"command":["ls"]}',
          duration_ms: '85',
          success: 'true',
          output: 'README.md',
        },
        at(3),
      ),
      codexRecord(
        'conv-1',
        'codex.tool_decision',
        { tool_name: 'shell', call_id: 'call_2', decision: 'denied', source: 'user' },
        at(4),
      ),
      // Codex writes each event to two log targets; the copies differ but for who and what they carry.
      codexRecord('conv-1', 'codex.sse_event', completed, at(5)),
      codexRecord('conv-1', 'codex.sse_event', { ...completed, 'user.email': 'dev@example.com' }, at(5)),
      codexRecord('conv-1', 'codex.sse_event', { 'event.kind': 'response.output_text.delta', duration_ms: '3' }, at(6)),
      codexRecord(
        'conv-1',
        'codex.api_request',
        {
          endpoint: '/responses',
          duration_ms: '120',
          'http.response.status_code': 500,
          'error.message': 'server error',
          attempt: 1,
        },
        at(7),
      ),
    ];
    expect((await postOtlp(server.url, 'logs', codexLogs(records))).status).toBe(200);

    await using client = connect(server.url);
    expect(await client.workflow.query({ workflowId: 'conv-1' })).toMatchObject({
      workflowType: 'codex',
      status: 'running',
      currentStepId: 'main',
    });
    const [agent] = await client.agents.query({ agentIds: ['conv-1'] });
    expect(agent?.data).toMatchObject({ agentType: 'codex', status: 'busy' });
    const { events } = await client.history.query({ topics: ['workflow:conv-1'], limit: 100 });
    const blocks = events.filter(isBlock).map((e) => e.data);
    expect(blocks.map((b) => b.summary)).toEqual([
      '(a prompt of 21 characters; Codex sends its text with log_user_prompt = true)',
      'shell done in 85 ms: {"command":["ls"]}',
      'shell denied (user)',
    ]);
    expect(blocks[1]).toMatchObject({
      payload: { callId: 'call_1', output: 'README.md', isError: false, durationMs: 85 },
    });
    expect((await client.usage.query()).agents.map((a) => [a.id, a.usage])).toEqual([
      [
        'conv-1',
        { inputTokens: 600, outputTokens: 50, cacheReadTokens: 400, cacheCreationTokens: 0, costUsd: 0, requests: 1 },
      ],
    ]);
    const alerts = await client.history.query({ types: ['system.alert'] });
    expect(alerts.events.map((e) => e.data)).toEqual([
      expect.objectContaining({ title: 'Codex API error (codex.api_request)', message: 'server error (HTTP 500)' }),
    ]);
    const kept = await client.history.query({ types: ['otel.record'] });
    expect(kept.events.map((e) => e.data)).toEqual([
      expect.objectContaining({ signal: 'log', name: 'codex.sse_event', service: 'codex_cli_rs', agentId: 'conv-1' }),
    ]);
  });

  it('refuses records the contract refuses one by one, in a partial success, and stores the rest', async () => {
    await using server = await startTestServer();
    const body = claudeCodeLogs('s'.repeat(200), claudeCodeTurn().slice(0, 2), start);
    const good = claudeCodeLogs('sess-ok', claudeCodeTurn().slice(0, 2), start);
    body.resourceLogs[0]?.scopeLogs[0]?.logRecords.push(...(good.resourceLogs[0]?.scopeLogs[0]?.logRecords ?? []));
    const answer = await postOtlp(server.url, 'logs', body);
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({
      partialSuccess: {
        rejectedLogRecords: '2',
        errorMessage: expect.stringMatching(
          /^2 records refused; the first: log claude_code\.user_prompt: data\.agentId: Too big: expected string to have <=128 characters/,
        ) as unknown,
      },
    });
    await using client = connect(server.url);
    expect((await client.agents.query()).map((a) => a.data.agentId)).toEqual(['sess-ok']);
  });

  it('answers a bad payload 400, other media types and encodings 415, oversize bodies 413, and stores nothing', async () => {
    await using server = await startTestServer();
    const valid = claudeCodeLogs('sess-x', claudeCodeTurn(), start);
    const refusals: [string, Awaited<ReturnType<typeof postOtlp>>][] = [
      ['not JSON', await postOtlp(server.url, 'logs', '{"resourceLogs": [')],
      [
        'not a request',
        await postOtlp(server.url, 'traces', { resourceSpans: [{ scopeSpans: [{ spans: [{ name: 1 }] }] }] }),
      ],
      [
        'bad ids',
        await postOtlp(server.url, 'traces', {
          resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x', traceId: 'zz', spanId: '00' }] }] }],
        }),
      ],
      ['not gzip', await postOtlp(server.url, 'logs', valid, { contentEncoding: 'gzip' })],
      ['text/plain', await postOtlp(server.url, 'logs', valid, { contentType: 'text/plain' })],
      ['form', await postOtlp(server.url, 'metrics', 'a=1', { contentType: 'application/x-www-form-urlencoded' })],
      ['brotli', await postOtlp(server.url, 'logs', valid, { contentEncoding: 'br' })],
      ['too large', await postOtlp(server.url, 'logs', { resourceLogs: [], pad: 'x'.repeat(5 * 1024 * 1024) })],
      [
        'a gzip bomb',
        await postOtlp(server.url, 'logs', gzipSync(Buffer.alloc(6 * 1024 * 1024, 32)), { contentEncoding: 'gzip' }),
      ],
      ['GET', await postOtlp(server.url, 'logs', '', { method: 'GET' })],
    ];
    expect(refusals.map(([what, r]) => [what, r.status, r.contentType])).toEqual([
      ['not JSON', 400, 'application/json'],
      ['not a request', 400, 'application/json'],
      ['bad ids', 400, 'application/json'],
      ['not gzip', 400, 'application/json'],
      ['text/plain', 415, 'application/json'],
      ['form', 415, 'application/json'],
      ['brotli', 415, 'application/json'],
      ['too large', 413, 'application/json'],
      ['a gzip bomb', 413, 'application/json'],
      ['GET', 405, 'application/json'],
    ]);
    const messages = Object.fromEntries(refusals.map(([what, r]) => [what, r.json()]));
    expect(messages['not JSON']).toEqual({
      code: 3,
      message: expect.stringMatching(/^the body is not JSON/) as unknown,
    });
    expect(messages['not a request']).toEqual({
      code: 3,
      message: expect.stringMatching(
        /^not an OTLP traces export request: .*resourceSpans\.0\.scopeSpans\.0\.spans\.0\.name: Invalid input/,
      ) as unknown,
    });
    expect(messages['text/plain']).toEqual({
      code: 3,
      message: 'content-type "text/plain" is not accepted here; send application/x-protobuf or application/json',
    });
    expect(messages.brotli).toMatchObject({ message: 'content-encoding "br" is not accepted here; send gzip or none' });
    expect(messages['too large']).toMatchObject({
      code: 8,
      message: expect.stringMatching(/the limit is 4194304 bytes per request \(export smaller batches/) as unknown,
    });
    expect(messages['a gzip bomb']).toMatchObject({
      code: 8,
      message: expect.stringMatching(/^the body inflates to more than 4194304 bytes/) as unknown,
    });

    // A protobuf request gets its error as a protobuf google.rpc.Status.
    const garbage = await postOtlp(server.url, 'logs', Buffer.from([0x0a, 0xff, 0xff, 0x01]), {
      contentType: 'application/x-protobuf',
    });
    expect([garbage.status, garbage.contentType]).toEqual([400, 'application/x-protobuf']);
    expect(status.toObject(status.decode(garbage.body))).toEqual({
      code: 3,
      message: expect.stringMatching(/^the body is not a protobuf ExportLogsServiceRequest/) as unknown,
    });
    expect(await headOf(server.url)).toBe('0');
  });

  it('checks tokens, roles, publish scopes and the publish rate as /ingest does', async () => {
    const made = otlpTokens('otlp');
    const tokens = { ...made.tokens, scopedViewer: 'otlp-scoped-viewer-0123' };
    await using server = await startTestServer({
      ...oneEventASecond,
      tokens: [
        ...made.entries,
        { role: 'viewer', token: tokens.scopedViewer, scopes: { read: ['agent:sess-c', 'workflow:sess-c'] } },
      ],
    });
    const turn = claudeCodeLogs('sess-a', claudeCodeTurn(), start);
    const none = await postOtlp(server.url, 'logs', turn, { contentType: 'application/x-protobuf' });
    expect([none.status, status.toObject(status.decode(none.body))]).toEqual([
      401,
      { code: 16, message: 'missing or unknown token: send Authorization: Bearer <token>' },
    ]);
    expect((await postOtlp(server.url, 'logs', turn, { token: tokens.viewer })).status).toBe(403);
    // A session this token may not publish: nothing of it may be stored, so the request is refused whole.
    const elsewhere = await postOtlp(server.url, 'logs', claudeCodeLogs('sess-z', claudeCodeTurn(), start), {
      token: tokens.scoped,
    });
    expect([elsewhere.status, elsewhere.json()]).toEqual([
      403,
      { code: 7, message: expect.stringMatching(/topic agent:sess-z .*; nothing was stored$/) as unknown },
    ]);
    expect(await headOf(server.url, tokens.viewer)).toBe('0');
    // Its own session: the turn's API error is an alert on `system`, outside the scopes; that record alone is
    // refused, and the answer says which and why.
    const scoped = await postOtlp(server.url, 'logs', turn, { token: tokens.scoped });
    expect([scoped.status, scoped.json()]).toEqual([
      200,
      {
        partialSuccess: {
          rejectedLogRecords: '1',
          // The record's refusal: the rest of the request was stored.
          errorMessage:
            '1 records refused; the first: log claude_code.api_error: token "publisher-3" may not publish to topic system (its publish scopes: agent:sess-a, workflow:sess-a)',
        },
      },
    ]);
    // Stored: every other record's events, as the mapping makes them.
    const request = parseOtlp('logs', turn);
    if (!request.success) throw request.error;
    const expected = mapOtlp('logs', request.data)
      .filter((record) => record.what !== 'log claude_code.api_error')
      .flatMap((record) => record.events.map((e) => e.type));
    expect(expected).not.toContain('system.alert');
    const { events: storedTurn } = await (async () => {
      await using reader = createSwitchboardClient({ url: server.url, WebSocket, token: tokens.viewer });
      return await reader.history.query({ limit: 100 });
    })();
    expect(storedTurn.map((e) => e.type)).toEqual(expected);

    // A burst of a thousand: a request of 1,010 events is more than any wait admits, so it is not asked to retry.
    const many = claudeCodeLogs('sess-b', Array.from({ length: 101 }, () => claudeCodeTurn()).flat(), start);
    const limited = await postOtlp(server.url, 'logs', many, { token: tokens.publisher });
    expect([limited.status, limited.retryAfter, limited.json()]).toEqual([
      413,
      null,
      {
        code: 8,
        message:
          '1010 events in one call, more than the publish burst (1000 events per publisher, SWITCHBOARD_PUBLISH_BURST) ever admits: send at most 1000 per call, or raise the burst; the 808 records of this request are 1010 events (a record may be several): export smaller batches: lower the batch size of the exporter',
      },
    ]);
    await using client = createSwitchboardClient({ url: server.url, WebSocket, token: tokens.viewer });
    expect((await client.agents.query()).map((a) => a.data.agentId)).toEqual(['sess-a']);

    // A reader with read scopes gets the usage of what it may read, and totals over that alone.
    const other = claudeCodeLogs('sess-c', claudeCodeTurn().slice(0, 2), start);
    expect((await postOtlp(server.url, 'logs', other, { token: tokens.publisher })).status).toBe(200);
    // sess-a's turn (two API requests) and sess-c's first request.
    expect((await client.usage.query()).total.requests).toBe(3);
    await using reader = createSwitchboardClient({ url: server.url, WebSocket, token: tokens.scopedViewer });
    const seen = await reader.usage.query();
    expect([seen.agents.map((a) => a.id), seen.workflows.map((w) => w.id), seen.models, seen.total.requests]).toEqual([
      ['sess-c'],
      ['sess-c'],
      [],
      1,
    ]);
  });

  it('answers a request past the publish rate 429 with Retry-After saying when it would be admitted', async () => {
    const token = 'otlp-rate-publisher-0123';
    await using server = await startTestServer({
      ...oneEventASecond,
      tokens: [{ role: 'publisher', token }],
    });
    // 990 events of the burst of a thousand taken, at one event a second.
    const turns = (n: number) =>
      claudeCodeLogs('sess-r', Array.from({ length: n }, () => claudeCodeTurn()).flat(), start);
    expect((await postOtlp(server.url, 'logs', turns(99), { token })).status).toBe(200);
    const stored = Number(await headOf(server.url, token));
    expect(stored).toBe(990);
    // A thousand more: admitted once the 990 have come back, up to 990 seconds from now.
    const limited = await postOtlp(server.url, 'logs', turns(100), { token });
    expect(limited.status).toBe(429);
    const waitMs = statedWaitMs((limited.json() as { message: string }).message);
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(stored * 1000);
    expect(limited.retryAfter).toBe(String(Math.ceil(waitMs / 1000)));
    expect(await headOf(server.url, token)).toBe(String(stored));
  });

  it('keeps unknown records generically, with bounded previews', async () => {
    await using server = await startTestServer();
    const record = {
      timeUnixNano: `${start.getTime()}000000`,
      severityText: 'INFO',
      severityNumber: 9,
      body: { stringValue: 'x'.repeat(10_000) },
      attributes: keyValues({ 'http.route': '/users/:id', big: 'y'.repeat(2_000) }),
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
    };
    const body = {
      resourceLogs: [
        { resource: { attributes: keyValues({ 'service.name': 'my shop' }) }, scopeLogs: [{ logRecords: [record] }] },
      ],
    };
    expect((await postOtlp(server.url, 'logs', body)).status).toBe(200);
    await using client = connect(server.url);
    const [kept] = (await client.history.query({ topics: ['otel:my_shop'] })).events;
    expect(kept?.type).toBe('otel.record');
    expect(kept?.data).toMatchObject({
      signal: 'log',
      name: 'INFO',
      service: 'my_shop',
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
      truncated: true,
      attributes: { severity: 'INFO', severityNumber: 9, 'http.route': '/users/:id', big: `${'y'.repeat(500)}…` },
    });
    expect(kept?.correlationId).toBe('5b8efff798038103d269b633813fc60c');
    expect(JSON.stringify(kept?.data).length).toBeLessThan(6_000);
  });
});

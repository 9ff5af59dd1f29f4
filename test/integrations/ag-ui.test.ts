/**
 * `GET /ag-ui/<workflowId>`: every emitted event is valid against `@ag-ui/core`'s schemas, the mapping follows
 * docs/ag-ui.md, and a reader resuming from any id it received (mid-group or not) gets exactly the rest.
 */
import { EventType } from '@ag-ui/core';
import { EventSchema } from '@ag-ui/core/schemas';
import { describe, expect, it } from 'vitest';
import type { PublishInput } from '@switchboard/shared';
import { workflowStarted } from '../fixtures.js';
import { connect, startTestServer, waitUntil } from '../harness.js';
import { claudeCodeLogs, claudeCodeTurn, postOtlp } from '../otlp-fixtures.js';
import { readSse, type SseMessage } from '../sse-reader.js';
import { verified } from '../ag-ui-verify.js';

const block = (stepId: string, data: object): PublishInput =>
  ({ type: 'workflow.block', data: { workflowId: 'wf-1', stepId, summary: 'a block', ...data } }) as PublishInput;

const run: PublishInput[] = [
  workflowStarted('wf-1'),
  {
    type: 'workflow.step_started',
    data: { workflowId: 'wf-1', stepId: 'plan', stepType: 'agent', agentId: 'coder-1' },
  },
  block('plan', { blockType: 'thinking', payload: { text: 'how to split the parser' } }),
  block('plan', { blockType: 'text', agentId: 'coder-1', payload: { text: 'I will split it in two.' } }),
  workflowStarted('wf-other'),
  block('plan', {
    blockType: 'tool_use',
    payload: { toolName: 'bash', inputPreview: 'npm test', output: { exitCode: 0 }, isError: false },
  }),
  block('plan', { blockType: 'tool_use', payload: { toolName: 'read_file' } }),
  {
    type: 'workflow.step_completed',
    data: { workflowId: 'wf-1', stepId: 'plan', stepType: 'agent', duration: 1200, nextStep: 'build' },
  },
];
const finish: PublishInput = { type: 'workflow.completed', data: { workflowId: 'wf-1', result: { ok: true } } };

/** Every message must be an AG-UI event; returns them parsed. */
function validated(messages: readonly SseMessage[]) {
  return messages.map((m) => {
    const parsed = EventSchema.safeParse(JSON.parse(m.data));
    if (!parsed.success) expect.fail(`${m.data} is not an AG-UI event: ${parsed.error.message}`);
    return { id: m.id, event: parsed.data };
  });
}

describe('AG-UI stream', () => {
  it('maps a workflow to valid AG-UI events, live, and resumes from any id', async () => {
    await using server = await startTestServer({ ssePingMs: 100 });
    await using publisher = connect(server.url);
    await publisher.publishBatch.mutate(run);
    const url = `${server.url}/ag-ui/wf-1`;

    await using stream = readSse(url);
    await stream.atLeast(20);
    // Pings are comments, so every message a reader dispatches is an AG-UI event.
    await waitUntil('a ping', () => stream.comments > 0);
    await publisher.publish.mutate(finish);
    await stream.atLeast(22);
    expect(stream.messages).toEqual(stream.data());
    const all = validated(stream.messages);
    await verified(all.map((e) => e.event));
    expect(all.map((e) => e.event.type)).toEqual([
      EventType.RUN_STARTED,
      EventType.STATE_SNAPSHOT,
      EventType.STEP_STARTED,
      EventType.STATE_SNAPSHOT,
      EventType.REASONING_START,
      EventType.REASONING_MESSAGE_START,
      EventType.REASONING_MESSAGE_CONTENT,
      EventType.REASONING_MESSAGE_END,
      EventType.REASONING_END,
      EventType.TEXT_MESSAGE_START,
      EventType.TEXT_MESSAGE_CONTENT,
      EventType.TEXT_MESSAGE_END,
      EventType.TOOL_CALL_START,
      EventType.TOOL_CALL_ARGS,
      EventType.TOOL_CALL_END,
      EventType.TOOL_CALL_RESULT,
      EventType.TOOL_CALL_START,
      EventType.TOOL_CALL_END,
      EventType.STEP_FINISHED,
      EventType.STATE_SNAPSHOT,
      EventType.STATE_SNAPSHOT,
      EventType.RUN_FINISHED,
    ]);
    expect(all[0]?.event).toMatchObject({ threadId: 'wf-1', runId: 'wf-1' });
    expect(all[10]?.event).toMatchObject({ delta: 'I will split it in two.' });
    expect(all[12]?.event).toMatchObject({ toolCallId: 'call-6', toolCallName: 'bash' });
    expect(all[15]?.event).toMatchObject({ toolCallId: 'call-6', content: '{"exitCode":0}' });
    expect(all[20]?.event).toMatchObject({ snapshot: { status: 'completed', completedSteps: ['plan'] } });
    // Ids: the event id on the last of each group, `<id>:<index>` before it, each with the log's epoch.
    const epoch = all[0]?.id?.split('@')[1] ?? '';
    expect(epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(all.slice(0, 4).map((e) => e.id)).toEqual(['1:0', '1', '2:0', '2'].map((id) => `${id}@${epoch}`));
    expect(all.at(-1)?.id).toBe(`9@${epoch}`);

    const raw = stream.data();
    for (const cut of [1, 5, 11, 17, raw.length - 1]) {
      const lastSeen = raw[cut - 1]?.id ?? '';
      await using resumed = readSse(url, { 'last-event-id': lastSeen });
      await resumed.atLeast(raw.length - cut);
      expect(resumed.data(), `resuming after ${lastSeen}`).toEqual(raw.slice(cut));
    }
    // An id kept from before ids carried the epoch resumes the same way.
    await using legacy = readSse(url, { 'last-event-id': '6:1' });
    await legacy.atLeast(raw.length - 14);
    expect(legacy.data()).toEqual(raw.slice(14));
  });

  it('answers a missing token, a bad cursor and a bad id with an HTTP error', async () => {
    const viewer = 'viewer-token-0123456789';
    const publisher = 'publisher-token-0123456789';
    await using server = await startTestServer({
      tokens: [
        { role: 'viewer', token: viewer },
        { role: 'publisher', token: publisher },
      ],
    });
    const unauthorized = await fetch(`${server.url}/ag-ui/wf-1`);
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    const auth = { authorization: `Bearer ${viewer}` };
    const badCursor = await fetch(`${server.url}/ag-ui/wf-1`, { headers: { ...auth, 'last-event-id': 'x' } });
    expect(badCursor.status).toBe(400);
    const badId = await fetch(`${server.url}/ag-ui/${encodeURIComponent('wf 1')}`, { headers: auth });
    expect(badId.status).toBe(400);

    // Authorized, an unknown workflow is a 404; once it has events, its stream opens.
    expect((await fetch(`${server.url}/ag-ui/wf-1`, { headers: auth })).status).toBe(404);
    const published = await fetch(`${server.url}/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${publisher}` },
      body: JSON.stringify(workflowStarted('wf-1')),
    });
    expect(published.status).toBe(200);
    await using stream = readSse(`${server.url}/ag-ui/wf-1`, auth);
    await waitUntil('the stream to open', () => stream.status === 200);
  });

  it('makes a Claude Code call one tool call with its result, a prompt a user message, and refuses what it cannot serve', async () => {
    await using server = await startTestServer();
    const common = { session_id: 'sess-1', cwd: '/p', transcript_path: '/t.jsonl' };
    const edit = { tool_name: 'Edit', tool_input: { file_path: '/p/a.ts' }, tool_use_id: 'toolu_1' };
    const hooks = [
      { ...common, hook_event_name: 'SessionStart', source: 'startup' },
      { ...common, hook_event_name: 'UserPromptSubmit', prompt: 'Fix the test' },
      { ...common, ...edit, hook_event_name: 'PreToolUse' },
      { ...common, ...edit, hook_event_name: 'PostToolUse', tool_response: { success: true } },
    ];
    for (const hook of hooks) {
      const res = await fetch(`${server.url}/ingest/claude-code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(hook),
      });
      expect(res.status).toBe(200);
    }
    await using stream = readSse(`${server.url}/ag-ui/sess-1`);
    await stream.atLeast(11);
    const all = validated(stream.messages).map((e) => e.event);
    await verified(all);
    const calls = all.filter((e) => e.type.startsWith('TOOL_CALL_'));
    expect(calls.map((e) => e.type)).toEqual([
      EventType.TOOL_CALL_START,
      EventType.TOOL_CALL_ARGS,
      EventType.TOOL_CALL_END,
      EventType.TOOL_CALL_RESULT,
    ]);
    const ids = new Set(calls.map((e) => ('toolCallId' in e ? e.toolCallId : undefined)));
    expect(ids.size).toBe(1);
    expect(calls[3]).toMatchObject({ content: '{"success":true}', metadata: { switchboard: { isError: false } } });
    const result = calls[3];
    const metadata = result?.type === EventType.TOOL_CALL_RESULT ? result.metadata : undefined;
    expect(metadata).toMatchObject({ switchboard: { callId: 'toolu_1' } });
    // Timed by the two blocks' timestamps.
    expect(JSON.stringify(metadata)).toMatch(/"durationMs":\d+[,}]/);
    expect(all.find((e) => e.type === EventType.TEXT_MESSAGE_START)).toMatchObject({ role: 'user' });

    // An id past the newest event is an error answer, as on every stream; an unknown workflow is a 404.
    const epoch = stream.messages[0]?.id?.split('@')[1] ?? '';
    for (const ahead of [`999@${epoch}`, '999', '999:1']) {
      const res = await fetch(`${server.url}/ag-ui/sess-1`, { headers: { 'last-event-id': ahead } });
      expect(res.status, ahead).toBe(400);
      expect(await res.json()).toMatchObject({
        code: 'BAD_REQUEST',
        error: expect.stringContaining('ahead') as string,
      });
    }
    const unknown = await fetch(`${server.url}/ag-ui/no-such-workflow`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('makes a call that hooks and telemetry both report one tool call, the telemetry after the hooks or between them', async () => {
    await using server = await startTestServer();
    const common = { session_id: 'sess-2', cwd: '/p', transcript_path: '/t.jsonl' };
    const hook = async (body: object) => {
      const res = await fetch(`${server.url}/ingest/claude-code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...common, ...body }),
      });
      expect(res.status).toBe(200);
    };
    /** Claude Code's telemetry for a finished call, as its OTLP log exporter sends it. */
    const telemetry = async (toolUseId: string, sequence: number) => {
      const logs = claudeCodeLogs(
        'sess-2',
        [
          {
            name: 'tool_result',
            attributes: { tool_name: 'Bash', tool_use_id: toolUseId, success: 'true', duration_ms: '840' },
          },
        ],
        new Date(),
        sequence,
      );
      expect((await postOtlp(server.url, 'logs', logs)).status).toBe(200);
    };
    const bash = (id: string) => ({ tool_name: 'Bash', tool_input: { command: 'npm test' }, tool_use_id: id });
    await hook({ hook_event_name: 'SessionStart', source: 'startup' });
    // Hooks first, then telemetry (its exporter sends in batches, after the call).
    await hook({ ...bash('toolu_a'), hook_event_name: 'PreToolUse' });
    await hook({ ...bash('toolu_a'), hook_event_name: 'PostToolUse', tool_response: { exitCode: 0 } });
    await telemetry('toolu_a', 1);
    // Telemetry between the two hooks.
    await hook({ ...bash('toolu_b'), hook_event_name: 'PreToolUse' });
    await telemetry('toolu_b', 2);
    await hook({ ...bash('toolu_b'), hook_event_name: 'PostToolUse', tool_response: { exitCode: 1 } });
    // Telemetry alone: a whole call.
    await telemetry('toolu_c', 3);

    const { headEventId } = (await (await fetch(`${server.url}/healthz`)).json()) as { headEventId: string };
    await using stream = readSse(`${server.url}/ag-ui/sess-2`);
    await waitUntil('the newest event', () => stream.messages.some((m) => m.id?.startsWith(`${headEventId}@`)));
    const all = validated(stream.messages).map((e) => e.event);
    const starts = all.flatMap((e) => (e.type === EventType.TOOL_CALL_START ? [e.toolCallId] : []));
    const results = all.flatMap((e) => (e.type === EventType.TOOL_CALL_RESULT ? [e.toolCallId] : []));
    expect(starts).toHaveLength(3);
    expect(new Set(starts).size).toBe(3);
    const [a, b] = starts;
    // One result each, under its own id: the telemetry's whole call too, which says only that it succeeded.
    expect(results).toEqual(starts);
    // The two reports that came after a call's result point at that call.
    const reports = all.flatMap((e) => (e.type === EventType.CUSTOM && e.name === 'tool_call_reported' ? [e] : []));
    expect(reports.map((e) => (e.value as { toolCallId: string }).toolCallId)).toEqual([a, b]);
    expect(reports[0]?.value).toMatchObject({ block: { payload: { callId: 'toolu_a', durationMs: 840 } } });
    expect(reports[1]?.value).toMatchObject({ block: { payload: { callId: 'toolu_b', output: { exitCode: 1 } } } });
  });

  it("streams a Claude Code session seen only through its telemetry as AG-UI's client accepts it", async () => {
    await using server = await startTestServer();
    const logs = claudeCodeLogs('sess-otel', [...claudeCodeTurn(), ...claudeCodeTurn()], new Date());
    expect((await postOtlp(server.url, 'logs', logs)).status).toBe(200);
    // The session's last workflow event (its API errors are alerts on `system`, not in the stream).
    await using client = connect(server.url);
    const newest = (await client.history.query({ topics: ['workflow:sess-otel'], order: 'desc', limit: 1 })).events[0];
    if (newest === undefined) throw new Error('nothing stored for the session');
    await using stream = readSse(`${server.url}/ag-ui/sess-otel`);
    await waitUntil('the newest event', () => stream.messages.some((m) => m.id?.startsWith(`${newest.id}@`)));
    const all = await verified(validated(stream.messages).map((e) => e.event));
    // One run, opened first; `main` started at each prompt, the first finished before the second.
    expect(all[0]).toMatchObject({ type: EventType.RUN_STARTED, threadId: 'sess-otel', runId: 'sess-otel' });
    const steps = all.flatMap((e) =>
      e.type === EventType.STEP_STARTED || e.type === EventType.STEP_FINISHED ? [e.type] : [],
    );
    expect(steps).toEqual([EventType.STEP_STARTED, EventType.STEP_FINISHED, EventType.STEP_STARTED]);
    // Every call ended: each start has its result, a rejected one with the block's summary as its content.
    const starts = all.flatMap((e) => (e.type === EventType.TOOL_CALL_START ? [e.toolCallId] : []));
    const results = all.flatMap((e) => (e.type === EventType.TOOL_CALL_RESULT ? [e] : []));
    expect(results.map((e) => e.toolCallId)).toEqual(starts);
    expect(results.map((e) => e.content)).toContain('Write rejected (user_reject)');
  });
});

/**
 * `POST /ingest/claude-code`: hook events shaped as Claude Code's hook reference shows them, mapped to the
 * built-in families, stored once per tool call, bounded in size, and delivered to subscribers.
 */
import { describe, expect, it } from 'vitest';
import { limits } from '@switchboard/shared';
import { summarizeEvent } from '../../client/summary.js';
import { collect, connect, startTestServer } from '../harness.js';

const common = {
  session_id: 'abc123',
  transcript_path: '/home/user/.claude/projects/my-project/00893aaf-19fa-41d2-8238-13269b9b3ca0.jsonl',
  cwd: '/home/user/my-project',
  permission_mode: 'default',
};

/** One payload per mapped hook event, in the order a session sends them. */
const session = [
  { ...common, hook_event_name: 'SessionStart', source: 'startup', model: 'claude-sonnet-4-6' },
  { ...common, hook_event_name: 'UserPromptSubmit', prompt: 'Write a function to calculate the factorial of a number' },
  {
    ...common,
    hook_event_name: 'PreToolUse',
    tool_name: 'Bash',
    tool_input: { command: 'npm test', description: 'Run test suite', timeout: 120000, run_in_background: false },
    tool_use_id: 'toolu_01ABC123',
  },
  {
    ...common,
    hook_event_name: 'PostToolUseFailure',
    tool_name: 'Bash',
    tool_input: { command: 'npm test', description: 'Run test suite' },
    tool_use_id: 'toolu_01ABC123',
    error: 'Command exited with non-zero status code 1',
    is_interrupt: false,
  },
  {
    ...common,
    hook_event_name: 'PostToolUse',
    tool_name: 'Write',
    tool_input: { file_path: '/home/user/my-project/factorial.ts', content: 'export const f = (n) => n;' },
    tool_response: { filePath: '/home/user/my-project/factorial.ts', success: true },
    tool_use_id: 'toolu_01DEF456',
  },
  { ...common, hook_event_name: 'SubagentStart', agent_id: 'agent-def456', agent_type: 'Explore' },
  {
    ...common,
    hook_event_name: 'SubagentStop',
    stop_hook_active: false,
    agent_id: 'agent-def456',
    agent_type: 'Explore',
    agent_transcript_path: '/home/user/.claude/projects/my-project/abc123/subagents/agent-def456.jsonl',
    last_assistant_message: 'Analysis complete. Found 3 potential issues...',
  },
  {
    ...common,
    hook_event_name: 'Notification',
    message: 'Claude needs your permission to use Bash',
    title: 'Permission needed',
    notification_type: 'permission_prompt',
  },
  { ...common, hook_event_name: 'PreCompact', trigger: 'manual', custom_instructions: '' },
  { ...common, hook_event_name: 'Stop', stop_hook_active: false, last_assistant_message: 'Done.' },
  { ...common, hook_event_name: 'SessionEnd', reason: 'other' },
];

async function post(url: string, body: unknown, token?: string) {
  const res = await fetch(`${url}/ingest/claude-code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe('POST /ingest/claude-code', () => {
  it('maps a session to an agent and a workflow, tool calls to blocks, and answers {} at once', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    using workflow = collect(client.workflowEvents, { workflowId: 'abc123' });
    using agents = collect(client.agentStatus, {});
    await workflow.started();
    await agents.started();

    for (const payload of session) expect(await post(server.url, payload)).toEqual({ status: 200, body: {} });

    // Every hook is answered once its events are stored; their frames may still be on the way.
    await workflow.atLeast(11);
    const blocks = workflow.items.flatMap((i) => (i.data.type === 'workflow.block' ? [i.data.data] : []));
    expect(blocks.map((b) => [b.blockType, b.summary])).toEqual([
      ['text', 'Write a function to calculate the factorial of a number'],
      ['tool_use', 'Bash called: npm test'],
      ['tool_use', 'Bash failed: npm test'],
      ['tool_use', 'Write done: /home/user/my-project/factorial.ts'],
    ]);
    expect(blocks[2]).toMatchObject({
      stepId: 'main',
      agentId: 'abc123',
      payload: { toolName: 'Bash', isError: true, output: 'Command exited with non-zero status code 1' },
    });
    expect(blocks[3]?.payload).toMatchObject({
      isError: false,
      output: { filePath: '/home/user/my-project/factorial.ts', success: true },
    });
    expect(workflow.items.map((i) => i.data.type)).toEqual([
      'workflow.started',
      'workflow.step_started',
      'workflow.block',
      'workflow.block',
      'workflow.block',
      'workflow.block',
      'workflow.step_started',
      'workflow.step_completed',
      'workflow.step_completed',
      'workflow.step_completed',
      'workflow.completed',
    ]);
    expect(await client.workflow.query({ workflowId: 'abc123' })).toMatchObject({
      workflowType: 'claude-code',
      status: 'completed',
    });

    await agents.atLeast(8);
    const statuses = agents.items.flatMap((i) =>
      i.data.type === 'agent.status'
        ? [`${i.data.data.agentId} ${i.data.data.status} ${i.data.data.reason ?? ''}`]
        : [],
    );
    expect(statuses).toEqual([
      'abc123 idle session startup',
      'abc123 busy working on a prompt',
      'abc123 busy running Bash',
      'agent-def456 busy subagent of abc123',
      'agent-def456 offline subagent finished',
      'abc123 blocked Claude needs your permission to use Bash',
      'abc123 idle turn finished',
      'abc123 offline session ended (other)',
    ]);
    const log = await client.history.query({ types: ['agent.log'] });
    expect(log.events.map((e) => (e.type === 'agent.log' ? e.data.message : ''))).toEqual([
      'compacting the context (manual)',
    ]);
  });

  it('stores a retried tool event once, bounds large inputs and outputs, and keeps unmapped events', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    const write = session[4];
    expect((await post(server.url, write)).status).toBe(200);
    expect((await post(server.url, write)).status).toBe(200);
    expect((await client.history.query({})).events).toHaveLength(1);

    const content = 'x'.repeat(300_000);
    const big = {
      ...common,
      hook_event_name: 'PostToolUse',
      tool_name: 'Write',
      tool_input: { file_path: '/tmp/big.txt', content },
      tool_response: { filePath: '/tmp/big.txt', content },
      tool_use_id: 'toolu_big',
    };
    expect(await post(server.url, big)).toEqual({ status: 200, body: {} });
    const [stored] = (await client.history.query({ order: 'desc', limit: 1 })).events;
    expect(stored?.type).toBe('workflow.block');
    if (stored?.type !== 'workflow.block' || stored.data.blockType !== 'tool_use') throw new Error('not a tool block');
    expect(Buffer.byteLength(JSON.stringify(stored.data))).toBeLessThan(limits.dataBytes);
    expect(stored.data.payload.inputPreview).toMatch(/… \(300\d{3} bytes in all\)$/);
    expect(stored.data.payload.output).toMatchObject({
      truncated: true,
      bytes: Buffer.byteLength(JSON.stringify(big.tool_response)),
    });

    const unmapped = { ...common, hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: {} };
    expect((await post(server.url, unmapped)).status).toBe(200);
    const [last] = (await client.history.query({ order: 'desc', limit: 1 })).events;
    expect(last).toMatchObject({
      type: 'agent.log',
      topic: 'agent:abc123',
      data: { message: 'Claude Code PermissionRequest', context: { tool_name: 'Bash', cwd: common.cwd } },
    });

    expect((await post(server.url, '{"session_id":')).status).toBe(400);
    expect(await post(server.url, { hook_event_name: 'Stop' })).toMatchObject({ status: 400 });
  });

  it('follows a session as it goes: blocked ends with the next call, steps run and finish, calls pair up', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    const tool = (name: string, tool_name: string, tool_input: object, tool_use_id: string, extra: object = {}) => ({
      ...common,
      hook_event_name: name,
      tool_name,
      tool_input,
      tool_use_id,
      ...extra,
    });
    const turn = [
      session[0],
      session[1],
      {
        ...common,
        hook_event_name: 'Notification',
        message: 'Claude needs your permission to use Edit',
        notification_type: 'permission_prompt',
      },
      tool('PreToolUse', 'Edit', { file_path: '/p/a.ts', old_string: 'a', new_string: 'b' }, 'toolu_e'),
      tool('PostToolUse', 'Edit', { file_path: '/p/a.ts' }, 'toolu_e', { tool_response: { success: true } }),
      tool('PreToolUse', 'Grep', { pattern: 'TODO', path: 'src', output_mode: 'content' }, 'toolu_g'),
      tool('PreToolUse', 'Glob', { pattern: '**/*.ts' }, 'toolu_gl'),
      tool('PreToolUse', 'Read', { file_path: '/p/b.ts', limit: 10 }, 'toolu_r'),
      tool('PreToolUse', 'WebFetch', { url: 'https://example.com/x', prompt: 'sum it up' }, 'toolu_w'),
      tool(
        'PreToolUse',
        'Task',
        { description: 'Find callers', prompt: 'long...', subagent_type: 'Explore' },
        'toolu_t',
      ),
      { ...common, hook_event_name: 'SubagentStart', agent_id: 'agent-1', agent_type: 'Explore' },
      { ...common, hook_event_name: 'SubagentStop', agent_id: 'agent-1', agent_type: 'Explore' },
      { ...common, hook_event_name: 'Notification', message: 'Claude needs your permission to use Bash' },
      { ...common, hook_event_name: 'Stop', stop_hook_active: false },
    ];
    for (const payload of turn) expect(await post(server.url, payload)).toEqual({ status: 200, body: {} });

    const { events } = await client.history.query({});
    const statuses = events.flatMap((e) =>
      e.type === 'agent.status' && e.data.agentId === 'abc123' ? [e.data.status] : [],
    );
    // Blocked ends with the next tool call, and with the end of the turn.
    expect(statuses).toEqual(['idle', 'busy', 'blocked', ...Array<string>(6).fill('busy'), 'blocked', 'idle']);

    const blocks = events.flatMap((e) =>
      e.type === 'workflow.block' && e.data.blockType === 'tool_use' ? [e.data] : [],
    );
    expect(blocks.map((b) => b.summary)).toEqual([
      'Edit called: /p/a.ts',
      'Edit done: /p/a.ts',
      'Grep called: TODO in src',
      'Glob called: **/*.ts',
      'Read called: /p/b.ts',
      'WebFetch called: https://example.com/x',
      'Task called: Find callers',
    ]);
    // The call's start and its result carry the same call id, so a reader pairs them (and times the call).
    expect(blocks.slice(0, 2).map((b) => b.payload.callId)).toEqual(['toolu_e', 'toolu_e']);

    // Steps run while the session and the subagent run, and are done when they stop.
    const steps = events.flatMap((e) =>
      e.type === 'workflow.step_started' || e.type === 'workflow.step_completed' ? [`${e.type} ${e.data.stepId}`] : [],
    );
    expect(steps).toEqual([
      'workflow.step_started main',
      'workflow.step_started agent-1',
      'workflow.step_completed agent-1',
      'workflow.step_completed main',
    ]);
    // The hooks carry no times, so a step's end has no duration, and the one-line summary says none.
    const done = events.find((e) => e.type === 'workflow.step_completed');
    expect(done && summarizeEvent(done)).toBe('step agent-1 done');

    // The same tool call id in another session is another call: stored, not taken for a retry.
    const next = { ...turn[3], session_id: 'other-session' };
    expect(await post(server.url, next)).toEqual({ status: 200, body: {} });
    const again = await client.history.query({ types: ['workflow.block'], topics: ['workflow:other-session'] });
    expect(again.events).toHaveLength(1);

    // Ids at the limit still make a key (its digest), so a retry of such a call is stored once too.
    const long = { ...turn[3], session_id: 's'.repeat(limits.idLength), tool_use_id: 't'.repeat(limits.idLength) };
    for (const _ of [0, 1]) expect(await post(server.url, long)).toEqual({ status: 200, body: {} });
    const longs = await client.history.query({ topics: [`workflow:${long.session_id}`] });
    expect(longs.events).toHaveLength(1);
  });

  it('counts only a wait on the person as blocked: an idle prompt is idle, an auth notice a log line', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    const notice = (notification_type: string, message: string) => ({
      ...common,
      hook_event_name: 'Notification',
      notification_type,
      message,
    });
    for (const payload of [
      session[0],
      session[1],
      notice('permission_prompt', 'Claude needs your permission to use Bash'),
      session[2],
      { ...common, hook_event_name: 'Stop', stop_hook_active: false },
      notice('idle_prompt', 'Claude is waiting for your input'),
      notice('auth_success', 'Authenticated'),
      notice('elicitation_dialog', 'Claude has a question'),
    ]) {
      expect(await post(server.url, payload)).toEqual({ status: 200, body: {} });
    }
    const { events } = await client.history.query({ topics: ['agent:abc123'] });
    expect(
      events.map((e) =>
        e.type === 'agent.status' ? `${e.data.status} ${e.data.reason ?? ''}` : `${e.type} ${summarizeEvent(e)}`,
      ),
    ).toEqual([
      'idle session startup',
      'busy working on a prompt',
      'blocked Claude needs your permission to use Bash',
      'busy running Bash',
      'idle turn finished',
      'idle Claude is waiting for your input',
      'agent.log info Authenticated',
      'blocked Claude has a question',
    ]);
    expect((await client.agents.query({ agentIds: ['abc123'] }))[0]?.data).toMatchObject({ status: 'blocked' });
  });

  it('takes a publisher token from the hook headers and refuses others', async () => {
    await using server = await startTestServer({
      tokens: [
        { role: 'publisher', token: 'pub-token-123456' },
        { role: 'viewer', token: 'view-token-123456' },
      ],
    });
    expect((await post(server.url, session[0])).status).toBe(401);
    expect((await post(server.url, session[0], 'view-token-123456')).status).toBe(403);
    expect(await post(server.url, session[0], 'pub-token-123456')).toEqual({ status: 200, body: {} });
  });
});

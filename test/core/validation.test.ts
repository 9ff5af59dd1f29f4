/**
 * Bad input over a real WebSocket: each is a BAD_REQUEST naming every zod issue, nothing is stored, and the
 * same connection keeps working.
 */
import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { limits, type PublishInput } from '@switchboard/shared';
import { agentStatus } from '../fixtures.js';
import { collect, connect, startTestServer } from '../harness.js';

/** Sends what the types would refuse, as a buggy or foreign producer would. */
const untyped = (value: unknown) => value as PublishInput;

const badEvents: [string, unknown, string][] = [
  ['an unknown type', { type: 'agent.sleeping', data: { agentId: 'a' } }, 'type'],
  [
    'a wrong field type',
    { type: 'agent.status', data: { ...agentStatus('a').data, status: 'sleeping' } },
    'data.status',
  ],
  [
    'a progress over 100',
    { type: 'agent.status', data: { ...agentStatus('a').data, currentTask: { taskId: 't', progress: 150 } } },
    'data.currentTask.progress',
  ],
  ['a missing id', { type: 'agent.status', data: { agentType: 'coder', status: 'idle' } }, 'data.agentId'],
  [
    'an id with a wildcard',
    { type: 'agent.status', data: { ...agentStatus('a').data, agentId: 'a*' } },
    'data.agentId',
  ],
  [
    'an id over the limit',
    { type: 'agent.status', data: { ...agentStatus('a').data, agentId: 'a'.repeat(limits.idLength + 1) } },
    'data.agentId',
  ],
  [
    'a message over the limit',
    { type: 'agent.log', data: { agentId: 'a', level: 'info', message: 'm'.repeat(limits.textLength + 1) } },
    'data.message',
  ],
  [
    'data over the size limit',
    {
      type: 'agent.log',
      data: { agentId: 'a', level: 'info', message: 'big', context: { blob: 'x'.repeat(limits.dataBytes) } },
    },
    'data',
  ],
  ['an unknown field', { type: 'agent.status', data: { ...agentStatus('a').data, mood: 'happy' } }, 'data'],
  [
    'a multi-line summary',
    {
      type: 'workflow.block',
      data: { workflowId: 'w', stepId: 's', blockType: 'text', summary: 'a\nb', payload: { text: '' } },
    },
    'data.summary',
  ],
];

function expectBadRequest(error: unknown, path: string, reason = 'invalid_input') {
  expect(error).toBeInstanceOf(TRPCClientError);
  const data = (error as TRPCClientError<never>).data as unknown as {
    code: string;
    reason: string;
    issues?: { path: string }[];
  };
  expect(data.code).toBe('BAD_REQUEST');
  expect(data.reason).toBe(reason);
  // The message reads as one line per issue, each led by its path.
  if (reason === 'invalid_input') expect((error as Error).message).toContain(`${path || '(input)'}: `);
  return data.issues?.map((i) => i.path) ?? [];
}

describe('bad input', () => {
  it('rejects each invalid event with its issues, stores nothing, and keeps the connection usable', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    for (const [what, event, path] of badEvents) {
      const error: unknown = await client.publish.mutate(untyped(event)).catch((e: unknown) => e);
      const paths = expectBadRequest(error, path);
      expect(paths, what).toContain(path);
    }
    expect((await client.history.query({})).events).toEqual([]);
    const ok = await client.publish.mutate(agentStatus('a'));
    expect(ok.id).toBe('1');
  });

  it('rejects a whole batch when one event is invalid, and an oversized batch by name', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    const batch = [agentStatus('a'), untyped({ type: 'agent.status', data: { agentType: 'x', status: 'idle' } })];
    const error: unknown = await client.publishBatch.mutate(batch).catch((e: unknown) => e);
    expect(expectBadRequest(error, '1.data.agentId')).toContain('1.data.agentId');

    const tooMany = Array.from({ length: limits.batchSize + 1 }, (_, i) => agentStatus(`a-${i}`));
    const tooLarge: unknown = await client.publishBatch.mutate(tooMany).catch((e: unknown) => e);
    expectBadRequest(tooLarge, '', 'batch_too_large');
    expect((tooLarge as Error).message).toContain(`at most ${limits.batchSize} events`);

    expect((await client.history.query({})).events).toEqual([]);
    expect(await client.publishBatch.mutate(tooMany.slice(0, limits.batchSize))).toHaveLength(limits.batchSize);
  });

  it('refuses a malformed or unknown cursor instead of replaying from the start', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    await client.publish.mutate(agentStatus('a'));
    for (const lastEventId of ['abc', '-1', '1.5', '', '01', '１']) {
      using sub = collect(client.events, { lastEventId });
      await sub.failed();
      expectBadRequest(sub.errors[0], 'lastEventId', 'invalid_cursor');
      expect(sub.items).toEqual([]);
    }
    const historyError: unknown = await client.history.query({ after: 'x' }).catch((e: unknown) => e);
    expectBadRequest(historyError, 'after', 'invalid_cursor');

    using ahead = collect(client.events, { lastEventId: '999' });
    await ahead.failed();
    expectBadRequest(ahead.errors[0], 'lastEventId', 'invalid_cursor');
    expect((ahead.errors[0] as Error).message).toMatch(/ahead of the newest stored event 1/);

    // The connection still serves a good subscription.
    using good = collect(client.events, { lastEventId: '0' });
    await good.atLeast(1);
    expect(good.items.map((i) => i.data.id)).toEqual(['1']);
  });
});

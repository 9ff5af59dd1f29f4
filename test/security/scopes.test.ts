/**
 * Topic scopes on tokens: reads narrowed on the server (subscriptions, history, state queries) over WebSocket and
 * HTTP; a publish outside the scopes is FORBIDDEN, naming the topic, and stores nothing of its batch.
 */
import { TRPCClientError, createTRPCClient, httpLink } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSwitchboardClient } from '../../client/index.js';
import { loadConfig } from '../../server/ops/config.js';
import type { AppRouter } from '../../server/routers/_app.js';
import { intersects } from '../../server/security/scopes.js';
import fc from 'fast-check';
import { topicMatcher, transformer } from '@switchboard/shared';
import {
  agentStatus,
  systemNotification,
  tddPhaseChanged,
  workflowStarted,
  workflowStepCompleted,
} from '../fixtures.js';
import { collect, startTestServer } from '../harness.js';

const tokens = {
  admin: 'admin-0123456789abcdef',
  teamA: 'team-a-0123456789abcdef',
  teamAWriter: 'team-a-writer-0123456789',
};
const tokenConfig = [
  { role: 'admin' as const, token: tokens.admin },
  {
    role: 'viewer' as const,
    token: tokens.teamA,
    name: 'team-a',
    scopes: { read: ['workflow:team-a-*', 'agent:a-*', 'tdd:task-a*'] },
  },
  {
    role: 'publisher' as const,
    token: tokens.teamAWriter,
    name: 'team-a-writer',
    scopes: { publish: ['workflow:team-a-*', 'system'] },
  },
];

const client = (url: string, token: string) =>
  createSwitchboardClient({ url, WebSocket, token, reconnect: { initialMs: 20, maxMs: 20 } });
const failure = (error: unknown) =>
  error instanceof TRPCClientError ? { code: (error.data as { code: string }).code, message: error.message } : error;

const seed = [
  workflowStarted('team-a-1'),
  workflowStarted('team-b-1'),
  agentStatus('a-1'),
  agentStatus('b-1'),
  tddPhaseChanged('task-a1', 'red'),
  tddPhaseChanged('task-b1', 'red'),
  systemNotification('for admins'),
];

describe('topic scopes', () => {
  it('matches topics as the grammar says: equal literals, any run for each "*"', () => {
    // The reference: the grammar read as a regular expression (backtracking, so only for these short inputs).
    const reference = (pattern: string, topic: string) =>
      new RegExp(
        `^${pattern
          .split('*')
          .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
        's',
      ).test(topic);
    fc.assert(
      fc.property(fc.stringMatching(/^[ab:*]{0,8}$/), fc.stringMatching(/^[ab:]{0,10}$/), (pattern, topic) => {
        expect(topicMatcher(pattern)(topic)).toBe(reference(pattern, topic));
      }),
      { numRuns: 1_000 },
    );
  });

  it('decides whether two patterns share a topic, as a brute-force search over short topics does', () => {
    expect(intersects('workflow:*', 'workflow:team-a-*')).toBe(true);
    expect(intersects('agent:*', '*:team-a')).toBe(true);
    expect(intersects('agent:*', 'workflow:*')).toBe(false);
    expect(intersects('a*c*b', 'a*d')).toBe(false);
    // Every pair over a two-letter alphabet: a shared topic, if any, is no longer than both patterns together.
    const all: string[] = [''];
    for (let i = 0; all.length < 2 ** 11 - 1; i++) all.push(`${all[i] ?? ''}a`, `${all[i] ?? ''}b`);
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*]{0,5}$/), fc.stringMatching(/^[ab*]{0,5}$/), (a, b) => {
        const [ma, mb] = [topicMatcher(a), topicMatcher(b)];
        const witness = all.some((t) => t.length <= a.length + b.length && ma(t) && mb(t));
        expect(intersects(a, b)).toBe(witness);
      }),
      { numRuns: 300 },
    );
  });

  it('reads scopes from SWITCHBOARD_TOKENS and the tokens file', () => {
    const config = loadConfig([], {
      SWITCHBOARD_TOKENS: `viewer:${tokens.teamA} read=workflow:team-a-*|agent:a-*,publisher:${tokens.teamAWriter} publish=system`,
    });
    expect(config.tokens).toEqual([
      { role: 'viewer', token: tokens.teamA, scopes: { read: ['workflow:team-a-*', 'agent:a-*'] } },
      { role: 'publisher', token: tokens.teamAWriter, scopes: { publish: ['system'] } },
    ]);
    expect(() => loadConfig([], { SWITCHBOARD_TOKENS: `viewer:${tokens.teamA} write=x` })).toThrow(/token #1 .*scopes/);
  });

  it('narrows subscriptions, history and state queries over WebSocket', async () => {
    await using server = await startTestServer({ tokens: tokenConfig });
    await using admin = client(server.url, tokens.admin);
    await using viewer = client(server.url, tokens.teamA);
    await admin.publishBatch.mutate(seed);

    using firehose = collect(viewer.events, { lastEventId: '0' });
    using asked = collect(viewer.events, { lastEventId: '0', topics: ['workflow:*', 'system'] });
    using agents = collect(viewer.agentStatus, {});
    using workflows = collect(viewer.workflowEvents, {});
    using tdd = collect(viewer.tddPhase, {});
    await firehose.atLeast(3);
    await Promise.all([asked.atLeast(1), agents.atLeast(1), workflows.atLeast(1), tdd.atLeast(1)]);
    await admin.publishBatch.mutate([agentStatus('b-2'), agentStatus('a-2'), workflowStepCompleted('team-a-1', 's')]);
    await firehose.atLeast(5);
    await agents.atLeast(2);
    await workflows.atLeast(2);
    await asked.atLeast(2);
    expect(firehose.items.map((e) => e.data.topic)).toEqual([
      'workflow:team-a-1',
      'agent:a-1',
      'tdd:task-a1',
      'agent:a-2',
      'workflow:team-a-1',
    ]);
    expect(asked.items.map((e) => e.data.topic)).toEqual(['workflow:team-a-1', 'workflow:team-a-1']);
    expect(agents.items.map((e) => e.data.topic)).toEqual(['agent:a-1', 'agent:a-2']);
    expect(workflows.items.map((e) => e.data.topic)).toEqual(['workflow:team-a-1', 'workflow:team-a-1']);
    expect(tdd.items.map((e) => e.data.topic)).toEqual(['tdd:task-a1']);

    using outside = collect(viewer.events, { topics: ['system'] });
    await outside.failed();
    expect(failure(outside.errors[0])).toEqual({
      code: 'FORBIDDEN',
      message:
        'topics system are outside the read scopes of token "team-a" (workflow:team-a-*, agent:a-*, tdd:task-a*)',
    });

    const history = await viewer.history.query({});
    expect(history.events.map((e) => e.topic)).toEqual([
      'workflow:team-a-1',
      'agent:a-1',
      'tdd:task-a1',
      'agent:a-2',
      'workflow:team-a-1',
    ]);
    expect((await viewer.agents.query()).map((e) => e.topic)).toEqual(['agent:a-1', 'agent:a-2']);
    expect((await viewer.workflows.query()).map((w) => w.workflowId)).toEqual(['team-a-1']);
    expect((await viewer.workflow.query({ workflowId: 'team-a-1' })).workflowId).toBe('team-a-1');
    expect(failure(await viewer.workflow.query({ workflowId: 'team-b-1' }).catch((e: unknown) => e))).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect((await viewer.tddTasks.query()).map((e) => e.topic)).toEqual(['tdd:task-a1']);
    // The admin token has no scopes: it sees everything.
    expect((await admin.history.query({})).events).toHaveLength(10);
  });

  it('narrows reads over HTTP', async () => {
    await using server = await startTestServer({ tokens: tokenConfig });
    await using admin = client(server.url, tokens.admin);
    await admin.publishBatch.mutate(seed);
    const http = createTRPCClient<AppRouter>({
      links: [
        httpLink({ url: `${server.url}/trpc`, transformer, headers: { authorization: `Bearer ${tokens.teamA}` } }),
      ],
    });
    expect((await http.history.query({ topics: ['agent:*'] })).events.map((e) => e.topic)).toEqual(['agent:a-1']);
    expect((await http.agents.query()).map((e) => e.topic)).toEqual(['agent:a-1']);
  });

  it('refuses a publish outside the scopes, storing nothing of the batch, over WebSocket and /ingest', async () => {
    await using server = await startTestServer({ tokens: tokenConfig });
    await using admin = client(server.url, tokens.admin);
    await using writer = client(server.url, tokens.teamAWriter);
    expect((await writer.publish.mutate(workflowStarted('team-a-9'))).topic).toBe('workflow:team-a-9');
    const refused = await writer.publishBatch
      .mutate([systemNotification('ok'), workflowStarted('team-b-9')])
      .catch((e: unknown) => e);
    expect(failure(refused)).toEqual({
      code: 'FORBIDDEN',
      message:
        'token "team-a-writer" may not publish to topic workflow:team-b-9 (its publish scopes: workflow:team-a-*, system); nothing was stored',
    });
    expect(failure(await writer.publish.mutate(agentStatus('x')).catch((e: unknown) => e))).toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(
      failure(
        await writer.ingest.mutate({ events: [systemNotification('ok'), agentStatus('x')] }).catch((e: unknown) => e),
      ),
    ).toEqual({
      code: 'FORBIDDEN',
      message:
        'token "team-a-writer" may not publish to topic agent:x (its publish scopes: workflow:team-a-*, system); nothing was stored',
    });

    const ingest = await fetch(`${server.url}/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.teamAWriter}` },
      body: JSON.stringify([systemNotification('ok'), agentStatus('x')]),
    });
    expect(ingest.status).toBe(403);
    expect(await ingest.json()).toEqual({
      error:
        'token "team-a-writer" may not publish to topic agent:x (its publish scopes: workflow:team-a-*, system); nothing was stored',
    });
    expect((await admin.history.query({})).events.map((e) => e.topic)).toEqual(['workflow:team-a-9']);
  });
});

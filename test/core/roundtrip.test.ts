/**
 * Typed round trip over a real server and real WebSocket clients: each family arrives on the matching
 * subscription, typed by inference, and never on a subscription whose filter it does not match.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { EnvelopeOf, EventEnvelope, StreamItem, StreamReset } from '@switchboard/shared';
import {
  agentLog,
  agentStatus,
  systemNotification,
  tddPhaseChanged,
  workflowBlock,
  workflowStarted,
} from '../fixtures.js';
import { collect, connect, startTestServer, waitUntil } from '../harness.js';

const typesOf = (items: readonly { data: StreamItem }[]) => items.map((i) => `${i.data.type}@${i.data.topic}`);

describe('typed round trip', () => {
  it('delivers each family to matching subscriptions only, with inferred types', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);

    using agent1 = collect(client.agentStatus, { agentIds: ['coder-001'] });
    using agentOther = collect(client.agentStatus, { agentIds: ['other-agent'] });
    using wf1 = collect(client.workflowEvents, { workflowId: 'wf-1' });
    using wf2 = collect(client.workflowEvents, { workflowId: 'wf-2' });
    using task1 = collect(client.tddPhase, { taskId: 'task-1' });
    using nobody = collect(client.tddPhase, { agentId: 'nobody' });
    using system = collect(client.events, { topics: ['system'] });
    using logs = collect(client.events, { types: ['agent.log'] });
    using everything = collect(client.events, { topics: ['*'] });
    const all = [agent1, agentOther, wf1, wf2, task1, nobody, system, logs, everything];
    await Promise.all(all.map((s) => s.started()));

    await client.publish.mutate(agentStatus('coder-001'));
    await client.publish.mutate(agentLog('coder-001', 'compiling'));
    await client.publish.mutate(workflowStarted('wf-1'));
    await client.publish.mutate(workflowBlock('wf-1', 'build'));
    await client.publish.mutate(tddPhaseChanged('task-1', 'red'));
    await client.publish.mutate(systemNotification('deploy'));
    // Sentinels for the subscriptions that must not have matched anything above: once a sentinel arrives,
    // anything earlier would have arrived before it (each subscription delivers in id order).
    await client.publishBatch.mutate([
      agentStatus('other-agent'),
      workflowStarted('wf-2'),
      tddPhaseChanged('task-2', 'green', 'nobody'),
    ]);

    await Promise.all([agentOther, wf2, nobody].map((s) => s.atLeast(1)));
    await everything.atLeast(9);
    expect(typesOf(agent1.items)).toEqual(['agent.status@agent:coder-001']);
    expect(typesOf(agentOther.items)).toEqual(['agent.status@agent:other-agent']);
    expect(typesOf(wf1.items)).toEqual(['workflow.started@workflow:wf-1', 'workflow.block@workflow:wf-1']);
    expect(typesOf(wf2.items)).toEqual(['workflow.started@workflow:wf-2']);
    expect(typesOf(task1.items)).toEqual(['tdd.phase_changed@tdd:task-1']);
    expect(typesOf(nobody.items)).toEqual(['tdd.phase_changed@tdd:task-2']);
    expect(typesOf(system.items)).toEqual(['system.notification@system']);
    expect(typesOf(logs.items)).toEqual(['agent.log@agent:coder-001']);
    expect(everything.items.map((i) => i.data.id)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);

    // The tracked id is the envelope id with the log's epoch (the resume cursor); the payload round-trips with
    // its Date and nested data intact.
    const [status] = agent1.items;
    expect(status?.id).toMatch(new RegExp(`^${status?.data.id}@[0-9a-f]{12}$`));
    expect(status?.data.timestamp).toBeInstanceOf(Date);
    expect(status?.data.data).toMatchObject({ agentId: 'coder-001', status: 'busy', currentTask: { progress: 40 } });

    // Inferred end to end from AppRouter: no type written on the client side.
    expectTypeOf(agent1.items[0]).toEqualTypeOf<
      { id: string; data: EnvelopeOf<'agent.status'> | StreamReset } | undefined
    >();
    expectTypeOf<(typeof task1.items)[number]['data']['type']>().toEqualTypeOf<
      'tdd.phase_changed' | 'tdd.test_result' | 'tdd.coverage_update' | 'stream.reset'
    >();
    expectTypeOf<(typeof everything.items)[number]['data']>().toEqualTypeOf<StreamItem>();
    const published = await client.publish.mutate(workflowStarted('wf-3'));
    expectTypeOf(published).toEqualTypeOf<EventEnvelope>();
    expect(published).toMatchObject({ id: '10', type: 'workflow.started', topic: 'workflow:wf-3' });
  });
});

describe('snapshot on subscribe', () => {
  it('starts agentStatus and tddPhase with the current state in id order, then goes live', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    await client.publishBatch.mutate([
      agentStatus('a-1', 'idle'),
      agentStatus('a-2', 'busy'),
      agentStatus('a-1', 'busy'),
      agentStatus('a-3', 'idle'),
      tddPhaseChanged('task-1', 'red'),
      tddPhaseChanged('task-1', 'green'),
    ]);
    using agents = collect(client.agentStatus, { agentIds: ['a-1', 'a-2'] });
    using tdd = collect(client.tddPhase, {});
    await agents.atLeast(2);
    await tdd.atLeast(1);
    expect(
      agents.items.map((i) =>
        i.data.type === 'agent.status' ? [i.data.id, i.data.data.agentId, i.data.data.status] : i.data.type,
      ),
    ).toEqual([
      ['2', 'a-2', 'busy'],
      ['3', 'a-1', 'busy'],
    ]);
    expect(tdd.items.map((i) => i.data.id)).toEqual(['6']);

    await client.publish.mutate(agentStatus('a-3', 'error'));
    await client.publish.mutate(agentStatus('a-1', 'offline'));
    await client.publish.mutate(tddPhaseChanged('task-1', 'refactor'));
    await agents.atLeast(3);
    await tdd.atLeast(2);
    expect(agents.items.map((i) => i.data.id)).toEqual(['2', '3', '8']);
    expect(tdd.items.map((i) => i.data.id)).toEqual(['6', '9']);
  });
});

describe('client connection state', () => {
  it('reports open, then connecting while the socket is down, then open again', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    await client.agents.query();
    expect(client.connection.current.state).toBe('open');
    // A new listener hears the current state at once, then every change.
    const seen: string[] = [];
    const stop = client.connection.subscribe(({ state }) => {
      if (seen.at(-1) !== state) seen.push(state);
    });
    server.dropConnections();
    await waitUntil('the client to reconnect', () => seen.length >= 3);
    await client.agents.query();
    stop();
    expect(seen).toEqual(['open', 'connecting', 'open']);
  });

  it('starts workflowEvents with each workflow’s latest lifecycle event', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    await client.publishBatch.mutate([
      workflowStarted('wf-1'),
      workflowBlock('wf-1', 'plan'),
      workflowStarted('wf-2'),
      { type: 'workflow.completed', data: { workflowId: 'wf-1', duration: 5 } },
    ]);
    using workflows = collect(client.workflowEvents, {});
    await workflows.atLeast(2);
    expect(workflows.items.map((i) => [i.data.id, i.data.type])).toEqual([
      ['3', 'workflow.started'],
      ['4', 'workflow.completed'],
    ]);
  });
});

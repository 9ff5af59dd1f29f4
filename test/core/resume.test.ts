/**
 * Resume: while publishers write thousands of events, subscribers' sockets are cut and the server restarts
 * on the same database file. Every subscriber must end with each matching event exactly once, in id order.
 */
import { describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.js';
import type { PublishInput } from '@switchboard/shared';
import { collect, connect, startTestServer, tempDir } from '../harness.js';

const lanes = 4;
const perLane = 600;
const total = lanes * perLane;

/** Lane `l` writes agent status events for its own agent; every third one is a workflow block instead. */
function eventFor(lane: number, i: number): PublishInput {
  const key = `lane-${lane}-${i}`;
  if (i % 3 === 2) {
    return {
      type: 'workflow.block',
      key,
      data: {
        workflowId: `wf-${lane}`,
        stepId: 'build',
        blockType: 'text',
        summary: `line ${i}`,
        payload: { text: `${i}` },
      },
    };
  }
  return {
    type: 'agent.status',
    key,
    data: { agentId: `agent-${lane}`, agentType: 'coder', status: i % 2 ? 'busy' : 'idle' },
  };
}

function assertExactlyOnceInOrder(ids: readonly string[], expected: number) {
  const numbers = ids.map(Number);
  for (let i = 1; i < numbers.length; i++) {
    const [prev, cur] = [numbers[i - 1] ?? 0, numbers[i] ?? 0];
    if (cur <= prev) expect.fail(`id ${cur} arrived after ${prev} (position ${i})`);
  }
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.length).toBe(expected);
}

describe('resume across dropped sockets and a server restart', () => {
  it('delivers every event exactly once, in id order', { timeout: 60_000 }, async () => {
    using dir = tempDir();
    const db = dir.file('resume.db');
    let server: RunningServer = await startTestServer({ db });
    const { port } = server;
    try {
      await using subscriber = connect(server.url);
      await using publisher = connect(server.url);

      using firehose = collect(subscriber.events, {});
      using agent0 = collect(subscriber.agentStatus, { agentIds: ['agent-0'] });
      using workflows = collect(subscriber.workflowEvents, { steps: ['build'] });
      await Promise.all([firehose.started(), agent0.started(), workflows.started()]);

      let retries = 0;
      const publishLane = async (lane: number) => {
        for (let i = 0; i < perLane; i++) {
          // An ambiguous failure (the socket died with the request in flight) is retried with the same key:
          // the store returns the original event instead of writing a second one.
          for (let attempt = 0; ; attempt++) {
            try {
              await publisher.publish.mutate(eventFor(lane, i));
              break;
            } catch (error) {
              if (attempt >= 200) throw error;
              retries++;
            }
          }
        }
      };
      const publishing = Promise.all(Array.from({ length: lanes }, (_, lane) => publishLane(lane)));

      // Chaos, driven by progress rather than by time.
      await firehose.atLeast(300, 20_000);
      server.dropConnections();
      await firehose.atLeast(900, 20_000);
      server.dropConnections();
      await firehose.atLeast(1_300, 20_000);
      await server.close();
      server = await startTestServer({ db, port });
      await firehose.atLeast(1_800, 20_000);
      server.dropConnections();

      await publishing;
      await firehose.atLeast(total, 20_000);
      const agent0Total = Array.from({ length: perLane }, (_, i) => i).filter((i) => i % 3 !== 2).length;
      const workflowTotal = total - lanes * agent0Total;
      await agent0.atLeast(agent0Total, 20_000);
      await workflows.atLeast(workflowTotal, 20_000);

      assertExactlyOnceInOrder(
        firehose.items.map((i) => i.id),
        total,
      );
      expect(new Set(firehose.items.map((i) => (i.data.type === 'stream.reset' ? 'reset' : i.data.key)))).toEqual(
        new Set(
          Array.from({ length: lanes }, (_, l) => Array.from({ length: perLane }, (_, i) => `lane-${l}-${i}`)).flat(),
        ),
      );
      assertExactlyOnceInOrder(
        agent0.items.map((i) => i.id),
        agent0Total,
      );
      expect(agent0.items.every((i) => i.data.type === 'agent.status' && i.data.data.agentId === 'agent-0')).toBe(true);
      assertExactlyOnceInOrder(
        workflows.items.map((i) => i.id),
        workflowTotal,
      );
      // Each subscription was started once per connection: the first, three drops, and the restart.
      expect(firehose.starts).toBeGreaterThanOrEqual(4);
      expect(firehose.errors).toEqual([]);
      // The publishers really did hit the faults, and the keys kept retries from duplicating anything.
      expect(retries).toBeGreaterThan(0);
      const head = await publisher.history.query({ after: String(total - 1) });
      expect(head.events.map((e) => e.id)).toEqual([String(total)]);
    } finally {
      await server.close();
    }
  });
});

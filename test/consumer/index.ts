/**
 * A consumer of the built package: it imports only `switchboard/client` and `switchboard/shared` (resolved
 * through package.json `exports` to dist/), subscribes with inferred types and publishes. test/package.test.ts
 * type-checks it with its own tsconfig and runs it against the built server.
 */
import { createPublisher, createSwitchboardClient } from 'switchboard/client';
import { limits, type EnvelopeOf } from 'switchboard/shared';
import WebSocket from 'ws';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const url = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8765';
await using client = createSwitchboardClient({ url, WebSocket });

const received = new Promise<EnvelopeOf<'agent.status'>>((resolve) => {
  const subscription = client.agentStatus.subscribe(
    { agentIds: ['consumer-agent'] },
    {
      onData: ({ id, data }) => {
        if (data.type === 'stream.reset') return;
        // Inferred from the router through the built declarations: no `any` anywhere.
        const idIsString: Equals<typeof id, string> = true;
        const statusIsTyped: Equals<typeof data.data.status, 'idle' | 'busy' | 'blocked' | 'error' | 'offline'> = true;
        if (idIsString && statusIsTyped) resolve(data);
        subscription.unsubscribe();
      },
      onStarted: () => {
        void client.publish.mutate({
          type: 'agent.status',
          data: { agentId: 'consumer-agent', agentType: 'consumer', status: 'busy' },
        });
      },
    },
  );
});

if (process.argv.includes('--never-called')) {
  // @ts-expect-error: the data of agent.status needs agentType and a known status; the types must say so.
  await client.publish.mutate({ type: 'agent.status', data: { agentId: 'x', status: 'napping' } });
}

const event = await received;
await using publisher = createPublisher({ url, WebSocket });
publisher.publish({ type: 'system.notification', data: { level: 'info', title: 'consumer', message: 'done' } });
await publisher.flush(5_000);
console.log(
  `consumer got #${event.id} ${event.type} ${event.data.agentId} ${event.data.status}; batch limit ${limits.batchSize}`,
);

/**
 * A consumer of the published packages: test/packages/install.test.ts copies it into a fresh project where only
 * the packed `@switchboard/client` and `@switchboard/shared` are installed, type-checks it with `types: []` (no
 * `@types/node`) and `skipLibCheck: false`, builds it and runs `main` against the server installed from its
 * tarball. Node 20 has no global WebSocket, so the runner passes `ws`'s; the project itself never installs it.
 */
import {
  createPublisher,
  createSwitchboardClient,
  type SwitchboardClient,
  type WebSocketClass,
} from '@switchboard/client';
import { limits, type EnvelopeOf, type PublishInput } from '@switchboard/shared';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export async function main(url: string, WebSocket: WebSocketClass): Promise<string> {
  await using client = createSwitchboardClient({ url, WebSocket });

  const received = new Promise<EnvelopeOf<'agent.status'>>((resolve) => {
    const subscription = client.agentStatus.subscribe(
      { agentIds: ['consumer-agent'] },
      {
        onData: ({ id, data }) => {
          if (data.type === 'stream.reset') return;
          // Inferred from the router through the packages' declarations: the envelope is narrowed, no `any`.
          const idIsString: Equals<typeof id, string> = true;
          const statusIsTyped: Equals<typeof data.data.status, 'idle' | 'busy' | 'blocked' | 'error' | 'offline'> =
            true;
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
  const event = await received;

  await using publisher = createPublisher({ url, WebSocket });
  const notice: PublishInput = {
    type: 'system.notification',
    data: { level: 'info', title: 'consumer', message: 'done' },
  };
  publisher.publish(notice);
  await publisher.flush(5_000);
  return `consumer got #${event.id} ${event.type} ${event.data.agentId} ${event.data.status}; batch limit ${limits.batchSize}`;
}

/** Never called: each line must fail to type-check, or `tsc` reports the unused `@ts-expect-error`. */
export async function typeErrors(client: SwitchboardClient): Promise<void> {
  // @ts-expect-error: the data of agent.status needs agentType and a known status.
  await client.publish.mutate({ type: 'agent.status', data: { agentId: 'x', status: 'napping' } });
  const wrongField: PublishInput = {
    type: 'system.notification',
    // @ts-expect-error: the publish input is narrowed by its type; a notification has no agentId.
    data: { level: 'info', title: 't', message: 'm', agentId: 'x' },
  };
  void wrongField;
  client.events.subscribe(
    {},
    {
      onData: ({ data }) => {
        if (data.type === 'tdd.test_result') {
          // @ts-expect-error: a tdd.test_result envelope has no `coverage` in its data (tdd.phase_changed has).
          void data.data.coverage;
        }
      },
    },
  );
}

/**
 * A consumer with a catalogue of its own (events.ts), typed through `AppRouterFor` from `@switchboard/client`
 * alone: test/packages/install.test.ts type-checks it in the same fresh project as index.ts (only the packed
 * packages installed, `types: []`, `skipLibCheck: false`) and runs `main` against `switchboard serve --events
 * events.ts` installed from the server's tarball.
 */
import { createPublisher, createSwitchboardClient, type AppRouterFor, type WebSocketClass } from '@switchboard/client';
import catalogue from './events.js';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export async function main(url: string, WebSocket: WebSocketClass): Promise<string> {
  await using client = createSwitchboardClient<AppRouterFor<typeof catalogue>>({ url, WebSocket });

  const received = new Promise<string>((resolve) => {
    const subscription = client.events.subscribe(
      { types: ['gate.evaluated'] },
      {
        onData: ({ data: event }) => {
          if (event.type !== 'gate.evaluated') return;
          // Narrowed by `type` to the family's own data, as its zod schema says.
          const dataIsTyped: Equals<typeof event.data, { gateId: string; passed: boolean; score: number }> = true;
          if (dataIsTyped) resolve(`${event.type} ${event.topic} ${event.data.score}`);
          subscription.unsubscribe();
        },
        onStarted: () => {
          void client.publish.mutate({ type: 'gate.evaluated', data: { gateId: 'lint', passed: true, score: 0.9 } });
        },
      },
    );
  });
  const line = await received;

  await using publisher = createPublisher({ url, WebSocket, catalogue });
  publisher.publish({ type: 'gate.evaluated', data: { gateId: 'tests', passed: false, score: 0.4 } });
  await publisher.flush(5_000);
  const page = await client.history.query({ topics: ['gate:*'] });
  return `${line}; history ${page.events.map((e) => e.topic).join(' ')}`;
}

/** Never called: each line must fail to type-check, or `tsc` reports the unused `@ts-expect-error`. */
export async function typeErrors(url: string): Promise<void> {
  const client = createSwitchboardClient<AppRouterFor<typeof catalogue>>({ url });
  // @ts-expect-error: score is a number in gate.evaluated
  await client.publish.mutate({ type: 'gate.evaluated', data: { gateId: 'x', passed: true, score: 'high' } });
  // @ts-expect-error: the built-in types keep their own data
  await client.publish.mutate({ type: 'agent.status', data: { agentId: 'x', status: 'napping' } });
  // @ts-expect-error: a type no catalogue defines
  await client.publish.mutate({ type: 'gate.skipped', data: { gateId: 'x' } });
}

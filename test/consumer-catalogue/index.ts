/**
 * A consumer of the built package with a catalogue of its own: publish and subscribe are typed from it
 * (checked by tsc with expectTypeOf), and it runs against `dist/bin.js serve --events events.ts`.
 */
import { createPublisher, createSwitchboardClient } from '@switchboard/client';
import type { AppRouterFor } from '../../server/routers/_app.js';
import { expectTypeOf } from 'vitest';
import WebSocket from 'ws';
import catalogue from './events.js';

const url = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8765';
await using client = createSwitchboardClient<AppRouterFor<typeof catalogue>>({ url, WebSocket });

const received = new Promise<string>((resolve) => {
  const subscription = client.events.subscribe(
    { types: ['gate.evaluated'] },
    {
      onData: ({ data: event }) => {
        if (event.type !== 'gate.evaluated') return;
        expectTypeOf(event.data).toEqualTypeOf<{ gateId: string; passed: boolean; score: number }>();
        expectTypeOf(event.topic).toBeString();
        resolve(`${event.type} ${event.topic} ${event.data.score}`);
        subscription.unsubscribe();
      },
      onStarted: () => {
        void client.publish.mutate({ type: 'gate.evaluated', data: { gateId: 'lint', passed: true, score: 0.9 } });
      },
    },
  );
});

expectTypeOf(client.publish.mutate).parameter(0).extract<{ type: 'gate.evaluated' }>().toHaveProperty('data');
if (process.argv.includes('--never-called')) {
  // @ts-expect-error: score is a number in gate.evaluated
  await client.publish.mutate({ type: 'gate.evaluated', data: { gateId: 'x', passed: true, score: 'high' } });
  // @ts-expect-error: the built-in types keep their own data
  await client.publish.mutate({ type: 'agent.status', data: { agentId: 'x', status: 'napping' } });
}

const line = await received;
await using publisher = createPublisher({ url, WebSocket, catalogue });
publisher.publish({ type: 'gate.evaluated', data: { gateId: 'tests', passed: false, score: 0.4 } });
await publisher.flush(5_000);
const page = await client.history.query({ topics: ['gate:*'] });
console.log(`${line}; history ${page.events.map((e) => e.topic).join(' ')}`);

/**
 * The page test/page/browser-client.test.ts loads in Chromium: `@switchboard/client` bundled for the browser, with
 * the browser's own WebSocket (no `WebSocket` option) against the server that serves the page.
 */
import { createPublisher, createSwitchboardClient } from '@switchboard/client';
import type { PublishInput } from '@switchboard/shared';

declare global {
  interface Window {
    /** Publishes `count` logs and a last one through a Publisher; resolves with every message a subscriber got. */
    roundTrip: (count: number) => Promise<string[]>;
  }
}

window.roundTrip = async (count) => {
  const url = location.origin;
  await using client = createSwitchboardClient({ url });
  await using publisher = createPublisher({ url });
  const log = (message: string): PublishInput => ({
    type: 'agent.log',
    data: { agentId: 'browser', level: 'info', message },
  });
  const received: string[] = [];
  await new Promise<void>((resolve, reject) => {
    client.events.subscribe(
      { types: ['agent.log'] },
      {
        onStarted: () => {
          for (let i = 0; i < count; i++) publisher.publish(log(`event ${i}`));
          // Published after all the others: once it arrives, anything sent twice would have arrived before it.
          publisher.publish(log('last'));
        },
        onData: ({ data }) => {
          if (data.type !== 'agent.log') return;
          received.push(data.data.message);
          if (data.data.message === 'last') resolve();
        },
        onError: reject,
      },
    );
  });
  await publisher.flush(5_000);
  return received;
};

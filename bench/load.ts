/**
 * Ingest and resume load, in its own process: `publish` pipelined over one connection, `publishBatch`, and a
 * subscriber coming back 100,000 events behind. Prints one JSON line per measurement and exits.
 */
import WebSocket from 'ws';
import { createPublisher, createSwitchboardClient } from '../client/index.js';
import type { PublishInput } from '@switchboard/shared';
import { benchEvent } from './shared.js';

const [mode, portText, countText] = process.argv.slice(2) as [
  'publish' | 'batch' | 'publisher' | 'resume',
  string,
  string,
];
const count = Number(countText);
await using client = createSwitchboardClient({ url: `http://127.0.0.1:${portText}`, WebSocket });
const event = (i: number): PublishInput => benchEvent(i);
/** No wait here may exceed this. */
const waitLimitMs = 120_000;

const started = performance.now();
if (mode === 'publish') {
  // Pipelined: 64 calls in flight on one socket, each a separate durable append.
  let next = 0;
  const worker = async () => {
    while (next < count) await client.publish.mutate(event(next++));
  };
  await Promise.all(Array.from({ length: 64 }, worker));
} else if (mode === 'publisher') {
  // What an orchestrator does: `publish` one event at a time into the Publisher, which sends its outbox in
  // ordered publishBatch calls (its defaults: up to 1,000 events, 512 KiB); done when the last is acknowledged.
  await using publisher = createPublisher({ url: `http://127.0.0.1:${portText}`, client, outboxLimit: count });
  for (let i = 0; i < count; i++) publisher.publish(event(i));
  await publisher.flush(waitLimitMs);
  const { sent } = publisher.stats();
  if (sent !== count) throw new Error(`the publisher sent ${sent} of ${count}`);
} else if (mode === 'batch') {
  for (let i = 0; i < count; i += 1_000)
    await client.publishBatch.mutate(Array.from({ length: 1_000 }, (_, k) => event(i + k)));
} else {
  await new Promise<void>((resolve) => {
    let seen = 0;
    const sub = client.events.subscribe(
      { lastEventId: '0' },
      {
        onData: () => {
          if (++seen === count) {
            sub.unsubscribe();
            resolve();
          }
        },
      },
    );
  });
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ mode, count, seconds, perSecond: count / seconds })}\n`);

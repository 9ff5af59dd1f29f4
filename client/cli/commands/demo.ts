/**
 * `switchboard demo`: publishes the simulated orchestrator's traffic through the Publisher at a steady rate.
 */
import { createPublisher, type SwitchboardClient } from '@switchboard/client';
import { parse } from '../args.js';
import { connectWithin, serverUrl } from '../connect.js';
import { demoTraffic } from '../demo-traffic.js';
import { UsageError } from '../errors.js';
import { exitCodes, type Io } from '../io.js';

/** Time between two bursts of events: the rate is kept per tick. */
const tickMs = 100;

export async function demo(args: readonly string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    agents: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    seed: { type: 'string' },
  });
  const numbers = {
    agents: Number(values.agents ?? 4),
    rate: Number(values.rate ?? 20),
    duration: Number(values.duration ?? 0),
  };
  for (const [name, value] of Object.entries(numbers)) {
    if (!Number.isFinite(value) || value < 0) throw new UsageError(`--${name} takes a positive number`);
  }
  const agents = Math.max(1, Math.floor(numbers.agents));
  const rate = Math.max(1, numbers.rate);
  const durationMs = numbers.duration * 1000;
  const url = serverUrl(values, io);

  // The hub must answer within --connect-timeout once; after that the Publisher rides out restarts, saying so.
  const client = await connectWithin(values, io);
  const traffic = demoTraffic(agents, Number(values.seed ?? Date.now()));
  const publisher = createPublisher({
    url,
    // The demo publishes built-in events only, which every server's catalogue includes.
    client: client as unknown as SwitchboardClient,
    // Ctrl-C ends the simulated agents: they say so, rather than stay busy until the hub's presence TTL.
    goodbye: 'demo stopped',
    onRetry: (error, attempt) => {
      if (attempt === 1) io.complain(`cannot publish (${error.message}); retrying`);
    },
  });
  io.say(
    `demo: ${agents} agents publishing ~${rate} events/s to ${url}` +
      (durationMs > 0 ? ` for ${durationMs / 1000}s` : '; Ctrl-C to stop'),
  );
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const deadline = durationMs > 0 ? Date.now() + durationMs : Infinity;
  while (!io.signal?.aborted && Date.now() < deadline) {
    for (let i = 0; i < perTick; i++) publisher.publish(traffic.next().value);
    // Pacing the simulation, not waiting for a result: the demo's whole point is a steady rate.
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }
  // Draining is worth a wait only while the hub is there: a Ctrl-C during an outage ends the demo at once.
  const { unsent } = await publisher.close(client.connection.current.state === 'open' ? 5_000 : 0);
  await client.close();
  const stats = publisher.stats();
  io.say(`demo: published ${stats.sent} events (${stats.dropped} dropped, ${unsent} unsent)`);
  if (unsent === 0) io.say('demo: said goodbye: its agents are offline ("demo stopped")');
  return unsent === 0 ? exitCodes.ok : exitCodes.failed;
}

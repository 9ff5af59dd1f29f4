/**
 * The subscribers, in their own process: N connections of the variant's own client (`ws`, socket.io-client,
 * the tRPC client), each subscribed to every event. Counts deliveries and their end-to-end latency. Usage:
 * `client.ts variant port n [lastEventId]`: Switchboard subscribers start from that cursor when it is given. With
 * BENCH_SUBSCRIBERS=plain in the environment, Switchboard's N subscribers are plain `ws` sockets that send tRPC's
 * subscription message themselves and JSON.parse each frame, as raw ws's subscribers do (the same receiver, for
 * comparing the servers' CPU: a server's cost per write depends on how fast its peer reads).
 *
 * IPC: → { ready } once all N are subscribed; ← { cmd: 'expect', total, report } → { expecting } at once, then
 * { progress: received } every `report` deliveries (the closed loop's acknowledgements; none without `report`),
 * then { done: { received, seconds, first, last, p50, p99, cpuMicros } } (wall-clock ms; CPU time since `expect`).
 */
import { createTRPCUntypedClient, createWSClient, wsLink } from '@trpc/client';
import { io } from 'socket.io-client';
import superjson from 'superjson';
import WebSocket from 'ws';
import { createSwitchboardClient } from '../client/index.js';
import { percentile, sentAtOf, wallMs, type Variant } from './shared.js';

const [variant, portText, countText, from] = process.argv.slice(2) as [Variant, string, string, string | undefined];
const port = Number(portText);
const n = Number(countText);
/** BENCH_SUBSCRIBERS=plain: Switchboard's subscribers are plain sockets speaking tRPC's protocol, not its client. */
const plain = process.env.BENCH_SUBSCRIBERS === 'plain';

let expected = 0;
let report = 0;
let received = 0;
let first = 0;
let last = 0;
let latencies = new Float64Array(0);
let cpuStart = process.cpuUsage();

function deliver(payload: unknown): void {
  const now = wallMs();
  if (received === 0) first = now;
  if (received < latencies.length) latencies[received] = now - sentAtOf(payload);
  received++;
  last = now;
  if (report > 0 && received % report === 0) process.send?.({ progress: received });
  if (received === expected) {
    const cpu = process.cpuUsage(cpuStart);
    const sorted = latencies.slice(0, Math.min(received, latencies.length)).sort();
    // An event received before it was sent means the clocks disagree: no figure, rather than a wrong one.
    if ((sorted[0] ?? 0) < 0) sorted.fill(Number.NaN);
    process.send?.({
      done: {
        received,
        seconds: (last - first) / 1000,
        first,
        last,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        cpuMicros: cpu.user + cpu.system,
      },
    });
  }
}

async function connectAll(): Promise<void> {
  const url = `ws://127.0.0.1:${port}`;
  const opened: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    if (variant === 'ws' || variant === 'ws-durable') {
      const ws = new WebSocket(url);
      ws.on('message', (data: Buffer) => {
        deliver(JSON.parse(data.toString()));
      });
      opened.push(
        new Promise((resolve) =>
          ws.once('open', () => {
            resolve();
          }),
        ),
      );
    } else if (variant === 'socketio') {
      const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
      socket.on('event', deliver);
      opened.push(
        new Promise((resolve) =>
          socket.once('connect', () => {
            resolve();
          }),
        ),
      );
    } else if (variant === 'trpc') {
      const client = createTRPCUntypedClient({
        links: [wsLink({ client: createWSClient({ url, WebSocket: WebSocket as never }), transformer: superjson })],
      });
      opened.push(
        new Promise((resolve) =>
          client.subscription('events', undefined, {
            onStarted: () => {
              resolve();
            },
            onData: (d) => {
              deliver({ data: d });
            },
          }),
        ),
      );
    } else if (plain) {
      // Switchboard's frames read the way raw ws's subscribers read theirs: a `ws` socket, JSON.parse per frame.
      const ws = new WebSocket(`${url}/trpc`);
      opened.push(
        new Promise((resolve) => {
          ws.on('message', (data: Buffer) => {
            const m = JSON.parse(data.toString()) as { result?: { type?: string; data?: { json?: unknown } } };
            if (m.result?.type === 'started') resolve();
            else if (m.result?.type === 'data') deliver({ data: m.result.data?.json });
          });
          ws.once('open', () => {
            ws.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'events', input: { json: {} } } }));
          });
        }),
      );
    } else {
      const client = createSwitchboardClient({ url: `http://127.0.0.1:${port}`, WebSocket });
      opened.push(
        new Promise((resolve) =>
          client.events.subscribe(from === undefined ? {} : { lastEventId: from }, {
            onStarted: () => {
              resolve();
            },
            onData: deliver,
          }),
        ),
      );
    }
  }
  await Promise.all(opened);
}

process.on('message', (m: { cmd: string; total: number; report?: number }) => {
  if (m.cmd === 'expect') {
    expected = m.total;
    report = m.report ?? 0;
    received = 0;
    latencies = new Float64Array(Math.min(m.total, 2_000_000));
    cpuStart = process.cpuUsage();
    // The parent emits only after this: a delivery counted before the reset above would never be reached.
    process.send?.({ expecting: m.total });
  }
});
await connectAll();
process.send?.({ ready: true });
// Exit normally when the parent stops the subscribers, so that `--cpu-prof` (bench --profile) writes its profile.
process.on('SIGTERM', () => process.exit(0));

/**
 * Fan-out and latency: one server process, N subscribers in one subscriber process (bench/client.ts), and for
 * Switchboard a publisher process sending events through the API (bench/publisher.ts), stored durably before they
 * go out. Raw `ws`, Socket.IO and naive tRPC emit in their own process and store nothing.
 *
 * - Saturation (`fanout`): a closed loop that keeps at most 10,000 deliveries in flight (10,000 / N events), the
 *   subscriber process acknowledging every 1,000 deliveries; 200,000 deliveries per run. Each process's CPU is
 *   read before and after, so the table says which one was busy and which waited.
 * - Latency (`latency`): a fixed load of 10,000 deliveries a second for 3 s; p50 and p99 from the event's send
 *   time to its arrival, over every delivery. For Switchboard a second, traced run gives the breakdown of where
 *   an event's time goes inside the server (bench/trace.ts). Its floor (`ws-durable`, `ws-durable-trpc`): raw
 *   `ws` fed by the same kind of publisher process and storing each event durably before it sends it, to raw
 *   subscribers and to Switchboard's own client; the latter at saturation too, where its server CPU per delivery
 *   is the least any server spends on Switchboard's path (a write costs more when its reader is slower).
 */
import type { ChildProcess } from 'node:child_process';
import { next, start, waitLimitMs } from './ipc.js';
import type { Variant } from './shared.js';
import type { TraceSample } from './trace.js';

/** Deliveries in flight at most in the closed loop, and deliveries per saturation run. */
export const inFlight = 10_000;
const saturationDeliveries = 200_000;
/** The fixed load of the latency runs: deliveries a second, for this long. */
export const fixedLoad = 10_000;
const fixedSeconds = 3;

export interface FanOutResult {
  /** Delivered messages a second, one per repeat. */
  rate: number[];
  /** CPU µs per delivered message: the server, the subscriber process, the publisher process (Switchboard). */
  serverCpu: number[];
  subscriberCpu: number[];
  publisherCpu: number[];
  /** Share of one core each process was busy during the run (1 = a whole core). */
  serverBusy: number[];
  subscriberBusy: number[];
  publisherBusy: number[];
  p50: number[];
  p99: number[];
  /**
   * RSS per idle subscribed connection, bytes, one sample per repeat (N=1000 and the subscribers' own client
   * only: a hundred move RSS less than its noise); empty when not measured.
   */
  rssPerConnection: number[];
  /** The JavaScript heap in use per idle subscribed connection, bytes, as `rssPerConnection` is sampled. */
  heapPerConnection: number[];
  /** The traced latency run's samples (Switchboard). */
  trace: TraceSample[];
}

interface Done {
  received: number;
  seconds: number;
  p50: number;
  p99: number;
  cpuMicros: number;
}

export interface FanOutOptions {
  repeats: number;
  saturation: boolean;
  latency: boolean;
  durability: 'full' | 'normal';
  /** The traced run of Switchboard's latency case (default: yes). */
  trace?: boolean;
  /** Switchboard's fixed-rate publisher: the typed client (default), or tRPC's protocol on a plain socket. */
  publisher?: 'client' | 'plain';
  /** Switchboard's subscribers: its typed client (default), or plain sockets as raw ws's (bench/client.ts). */
  subscribers?: 'client' | 'plain';
}

/** Waits until the server counts no open connection (the warm-up client's are gone). */
async function untilNoConnections(server: ChildProcess): Promise<void> {
  const since = performance.now();
  for (;;) {
    server.send({ cmd: 'connections' });
    if ((await next<number>(server, 'connections')) === 0) return;
    if (performance.now() - since > waitLimitMs) throw new Error('warm-up connections did not close');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const cpuOf = async (child: ChildProcess | undefined): Promise<number> => {
  if (!child) return 0;
  child.send({ cmd: 'stats' });
  return next<number>(child, 'cpuMicros');
};

const startServer = (variant: Variant, options: FanOutOptions) =>
  start('./servers.ts', [variant], { BENCH_DURABILITY: options.durability, BENCH_LIMITS: 'fanout' });

/** A server's memory after a full GC: its RSS, and its JavaScript heap in use (plus memory held for it outside). */
interface Memory {
  rss: number;
  heap: number;
}

/** Memory per idle connection is measured at N=1000 with the subscribers' own client (a hundred move RSS less than its noise). */
const measuresMemory = (n: number, options: FanOutOptions) =>
  n >= 1000 && options.saturation && options.subscribers !== 'plain';

/**
 * Connects the N subscribers to a fresh server, and with `measure` measures the server's memory per connection on
 * the way: what N more idle subscribers add once the N are connected, each reading after a GC. The first N are not
 * the measure: what a process pays once (code compiled on first use, the heap's first growth) comes with them, and
 * so can the allocator handing back pages it kept since startup, which has made RSS fall while the first thousand
 * connected (a negative figure per connection on one machine). The second N meet a process past all that. A
 * measured server is only measured (`idleMemorySamples`): the fan-out runs on one that never took the second N.
 */
async function connectMeasured(
  server: ChildProcess,
  variant: Variant,
  n: number,
  options: FanOutOptions,
  measure: boolean,
) {
  const port = String(await next<number>(server, 'port'));
  const env: Record<string, string> = options.subscribers === 'plain' ? { BENCH_SUBSCRIBERS: 'plain' } : {};
  const warm = start('./client.ts', [variant, port, '20'], env);
  try {
    await next(warm, 'ready');
  } finally {
    warm.kill();
  }
  await untilNoConnections(server);
  const subscribers = start('./client.ts', [variant, port, String(n)], env);
  try {
    await next(subscribers, 'ready');
    if (!measure) return { port, subscribers, perConnection: undefined };
    server.send({ cmd: 'gc' });
    const before = await next<Memory>(server, 'memory');
    const after = await withMoreSubscribers(server, variant, port, n, env);
    return {
      port,
      subscribers,
      perConnection: { rss: (after.rss - before.rss) / n, heap: (after.heap - before.heap) / n },
    };
  } catch (error) {
    // Its clients would reconnect for ever once the server is gone.
    subscribers.kill();
    throw error;
  }
}

/** The server's memory with N more subscribers connected, read after a GC. */
async function withMoreSubscribers(
  server: ChildProcess,
  variant: Variant,
  port: string,
  n: number,
  env: Record<string, string>,
): Promise<Memory> {
  const more = start('./client.ts', [variant, port, String(n)], env);
  try {
    await next(more, 'ready');
    server.send({ cmd: 'gc' });
    return await next<Memory>(server, 'memory');
  } finally {
    more.kill();
  }
}

/**
 * Memory per idle connection, one sample per repeat, each from a fresh server of its own (so the fan-out's server
 * never takes the measuring wave): a single reading of RSS moves by several KiB per connection with where the
 * heap's and the allocator's pages happen to stand; the heap in use moves far less.
 */
async function idleMemorySamples(variant: Variant, n: number, options: FanOutOptions): Promise<Memory[]> {
  const samples: Memory[] = [];
  for (let r = 0; r < options.repeats; r++) {
    const server = startServer(variant, options);
    let subscribers: ChildProcess | undefined;
    try {
      const measured = await connectMeasured(server, variant, n, options, true);
      subscribers = measured.subscribers;
      if (measured.perConnection) samples.push(measured.perConnection);
    } finally {
      subscribers?.kill();
      server.kill();
    }
  }
  return samples;
}

export async function fanOut(variant: Variant, n: number, options: FanOutOptions): Promise<FanOutResult> {
  const server = startServer(variant, options);
  const children: ChildProcess[] = [server];
  try {
    const { port, subscribers } = await connectMeasured(server, variant, n, options, false);
    children.push(subscribers);
    let publisher: ChildProcess | undefined;
    const floor = variant === 'ws-durable' || variant === 'ws-durable-trpc';
    if (variant === 'switchboard' || floor) {
      publisher = start('./publisher.ts', [port, floor ? 'raw' : (options.publisher ?? 'client')]);
      children.push(publisher);
      await next(publisher, 'ready');
    }
    const emitter = publisher ?? server;
    // The closed loop's acknowledgements: what every subscriber has received, in events.
    subscribers.on('message', (m: { progress?: number }) => {
      if (m.progress !== undefined) emitter.send({ credit: Math.floor(m.progress / n) });
    });

    const run = async (events: number, rate: number) => {
      subscribers.send({ cmd: 'expect', total: events * n, report: rate === 0 ? 1_000 : 0 });
      await next(subscribers, 'expecting');
      const done = next<Done>(subscribers, 'done');
      const emitted = next(emitter, 'emitted');
      const [server0, publisher0] = [await cpuOf(server), await cpuOf(publisher)];
      const started = performance.now();
      emitter.send({ cmd: 'emit', count: events, rate, window: Math.max(1, Math.floor(inFlight / n)) });
      const result = await done;
      const wall = (performance.now() - started) * 1000;
      await emitted;
      const [server1, publisher1] = [await cpuOf(server), await cpuOf(publisher)];
      const { received } = result;
      return {
        result,
        rate: received / result.seconds,
        serverCpu: (server1 - server0) / received,
        subscriberCpu: result.cpuMicros / received,
        publisherCpu: (publisher1 - publisher0) / received,
        serverBusy: (server1 - server0) / wall,
        subscriberBusy: result.cpuMicros / wall,
        publisherBusy: (publisher1 - publisher0) / wall,
      };
    };

    const out: FanOutResult = {
      rate: [],
      serverCpu: [],
      subscriberCpu: [],
      publisherCpu: [],
      serverBusy: [],
      subscriberBusy: [],
      publisherBusy: [],
      p50: [],
      p99: [],
      rssPerConnection: [],
      heapPerConnection: [],
      trace: [],
    };
    const saturation = Math.round(saturationDeliveries / n);
    await run(Math.round(saturation / 4), 0); // warm-up
    for (let r = 0; options.saturation && r < options.repeats; r++) {
      const s = await run(saturation, 0);
      out.rate.push(s.rate);
      out.serverCpu.push(s.serverCpu);
      out.subscriberCpu.push(s.subscriberCpu);
      out.publisherCpu.push(s.publisherCpu);
      out.serverBusy.push(s.serverBusy);
      out.subscriberBusy.push(s.subscriberBusy);
      out.publisherBusy.push(s.publisherBusy);
    }
    const perSecond = fixedLoad / n;
    const events = Math.round(perSecond * fixedSeconds);
    for (let r = 0; options.latency && r < options.repeats; r++) {
      const { result } = await run(events, perSecond);
      out.p50.push(result.p50);
      out.p99.push(result.p99);
    }
    if (options.latency && variant === 'switchboard' && options.trace !== false) {
      // Traced separately, so that the stamps cost nothing in the runs above.
      server.send({ cmd: 'trace', on: true });
      await next(server, 'traced');
      await run(events, perSecond);
      server.send({ cmd: 'trace', on: false });
      out.trace = await next<TraceSample[]>(server, 'traced');
    }
    for (const child of children) child.kill();
    if (measuresMemory(n, options)) {
      const samples = await idleMemorySamples(variant, n, options);
      out.rssPerConnection = samples.map((s) => s.rss);
      out.heapPerConnection = samples.map((s) => s.heap);
    }
    return out;
  } finally {
    for (const child of children) child.kill();
  }
}

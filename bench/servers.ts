/**
 * The servers under test, one per process (forked by the bench). Each listens on 127.0.0.1:0. Raw `ws`, Socket.IO
 * and tRPC as its docs show it emit events themselves on command: one pre-serialized string to every socket, a
 * room broadcast, an EventEmitter + async generator. Switchboard is the real server (`startServer`): its events
 * come in through its API from a publisher process (bench/publisher.ts), are validated, stored in SQLite and
 * fanned out to tracked, filtered subscriptions; `fill` stores a backlog through an in-process hub instead.
 * `ws-durable` (and `ws-durable-trpc`, the same server) is the latency floor: raw `ws` with a publisher process,
 * storing each event before it sends it.
 *
 * Environment: BENCH_DURABILITY (`full`, the server's default, or `normal`); BENCH_LIMITS (`fanout`: no
 * slow-consumer cut-off and no connection limit, as the baselines have none; otherwise the server's defaults).
 *
 * Protocol with the parent (IPC): → { port } once listening; ← { cmd: 'emit', count,
 * rate, window } → { emitted }: `rate` events a second, or with rate 0 a closed loop that keeps at most `window`
 * events unacknowledged, acknowledged by ← { credit: events } (what every subscriber has received);
 * ← { cmd: 'stats' } → { cpuMicros } (user + system since the process started); ← { cmd: 'gc' } → { memory: { rss, heap } }
 * (after a full GC; `heap`: the V8 heap in use plus memory held outside it for JavaScript objects);
 * ← { cmd: 'connections' } → { connections }; ← { cmd: 'fill', count } → { filled };
 * ← { cmd: 'trace', on } → { traced: samples } (Switchboard: the latency breakdown, bench/trace.ts).
 */
import { EventEmitter, on } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { initTRPC } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { Server as SocketIOServer } from 'socket.io';
import superjson from 'superjson';
import { WebSocketServer, type WebSocket } from 'ws';
import { encode } from '@switchboard/shared';
import { createMemoryBus } from '../server/bus/memory.js';
import { loadConfig } from '../server/ops/config.js';
import { createHub } from '../server/core/hub.js';
import { startServer } from '../server/server.js';
import { openDatabase } from '../server/store/sqlite-db.js';
import { createSqliteStore } from '../server/store/sqlite.js';
import { benchEvent, benchEnvelope, tempDir, type Variant } from './shared.js';
import { BenchTracer } from './trace.js';

type Emit = (i: number) => void;
interface Made {
  port: number;
  /** Emits event `i` in process (the baselines); Switchboard's events come from a publisher process. */
  emit?: Emit;
  /** Open connections, so the parent can wait for a warm-up client's to be gone. */
  connections: () => number | Promise<number>;
  /** Stores events without waiting on subscribers (Switchboard only: the replay case needs a backlog). */
  emitBatch?: (from: number, n: number) => Promise<void>;
  tracer?: BenchTracer;
}

async function rawWs(): Promise<Made> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    connections: () => wss.clients.size,
    emit: (i) => {
      const text = JSON.stringify(benchEnvelope(i));
      for (const ws of wss.clients) ws.send(text);
    },
  };
}

async function socketIo(): Promise<Made> {
  const http = createServer();
  const io = new SocketIOServer(http, { transports: ['websocket'] });
  io.on('connection', (socket) => void socket.join('events'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    connections: () => io.engine.clientsCount,
    emit: (i) => io.to('events').emit('event', benchEnvelope(i)),
  };
}

/** tRPC v11 the way its documentation shows subscriptions: an EventEmitter, `on()`, superjson. */
async function naiveTrpc(): Promise<Made> {
  const ee = new EventEmitter();
  ee.setMaxListeners(0);
  const t = initTRPC.create({ transformer: superjson });
  const router = t.router({
    events: t.procedure.subscription(async function* ({ signal }) {
      for await (const [data] of on(ee, 'event', { signal })) yield data as ReturnType<typeof benchEnvelope>;
    }),
  });
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  applyWSSHandler({ wss, router });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    connections: () => wss.clients.size,
    emit: (i) => ee.emit('event', benchEnvelope(i)),
  };
}

/**
 * The least any server can do that stores an event durably before it goes out and takes it from another process
 * (the latency case's floor): raw `ws`, each event arriving from the publisher process as JSON on a socket of its
 * own (`/publish`), inserted into this project's events table by better-sqlite3 with SQLite's own
 * `synchronous=FULL` (the WAL fsync'd inside COMMIT), then sent to every subscriber, then the publisher answered.
 * No validation, no state, no filter. A subscriber that asks for a tRPC subscription (Switchboard's own client,
 * variant `ws-durable-trpc`) gets `started` and then the very frame Switchboard would send it, built once per
 * event; any other gets one pre-serialized JSON string, as raw `ws` sends.
 */
async function rawWsDurable(): Promise<Made> {
  const dir = tempDir('switchboard-bench-floor-');
  const sqlite = openDatabase(join(dir, 'floor.db'), 'normal').$client;
  sqlite.pragma('synchronous = FULL');
  const insert = sqlite.prepare<[string, string, number, string, string, string, string, number]>(`
    INSERT INTO events (type, topic, timestamp, key_owner, source, correlation_id, agent_id, data, received_at)
    VALUES (?, ?, ?, '', ?, ?, ?, ?, ?)`);
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  /** Every subscriber, with the head of its subscription's replies (`{"id":…,`) when it asked for one. */
  const subscribers = new Map<WebSocket, string | undefined>();
  const subscribe = (socket: WebSocket, data: Buffer) => {
    const text = data.toString();
    if (text === 'PING') {
      socket.send('PONG');
      return;
    }
    const parsed = JSON.parse(text) as unknown;
    for (const message of (Array.isArray(parsed) ? parsed : [parsed]) as { id?: number; method?: string }[]) {
      if (message.method !== 'subscription' || message.id === undefined) continue;
      const head = `{"id":${JSON.stringify(message.id)},`;
      subscribers.set(socket, head);
      socket.send(`${head}"result":{"type":"started"}}`);
    }
  };
  wss.on('connection', (socket, request) => {
    if (request.url !== '/publish') {
      subscribers.set(socket, undefined);
      socket.on('message', (data: Buffer) => {
        subscribe(socket, data);
      });
      socket.once('close', () => subscribers.delete(socket));
      return;
    }
    socket.on('message', (data: Buffer) => {
      const event = JSON.parse(data.toString()) as ReturnType<typeof benchEvent>;
      const { agentId } = event.data as { agentId: string };
      const topic = `agent:${agentId}`;
      const at = Date.now();
      const { lastInsertRowid } = insert.run(
        event.type,
        topic,
        at,
        event.source ?? '',
        event.correlationId ?? '',
        agentId,
        JSON.stringify(event.data),
        at,
      );
      const id = String(lastInsertRowid);
      const envelope = { id, topic, timestamp: new Date(at), ...event };
      let plain: string | undefined;
      let typed: string | undefined;
      const frames = new Map<string, string>();
      for (const [subscriber, head] of subscribers) {
        if (head === undefined) {
          subscriber.send((plain ??= JSON.stringify(envelope)));
          continue;
        }
        let frame = frames.get(head);
        if (frame === undefined) {
          typed ??= JSON.stringify(encode({ id, data: envelope }));
          frame = `${head}"result":{"type":"data","id":${JSON.stringify(id)},"data":${typed}}}`;
          frames.set(head, frame);
        }
        subscriber.send(frame);
      }
      socket.send(id);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { port: (http.address() as AddressInfo).port, connections: () => subscribers.size };
}

/** The real server; a second hub on the same store and bus stores a backlog in process (`fill`). */
async function switchboard(): Promise<Made> {
  const dir = tempDir('switchboard-bench-');
  const durability = process.env.BENCH_DURABILITY === 'normal' ? 'normal' : 'full';
  // As the server opens it (server/topology.ts); given to it so that a second hub can share it for `fill`.
  const store = createSqliteStore(openDatabase(join(dir, 'bench.db'), durability));
  const bus = createMemoryBus();
  const tracer = new BenchTracer();
  const lifted = process.env.BENCH_LIMITS === 'fanout';
  const server = await startServer({
    ...loadConfig([], {}),
    port: 0,
    db: join(dir, 'bench.db'),
    durability,
    logLevel: 'error',
    // Saturation deliberately outruns the subscribers, and N=1000 is the default connection limit: the
    // baselines have neither cut-off, so the fan-out runs lift both. Every other case runs with the defaults.
    ...(lifted && { maxConnections: 100_000, slowConsumerBytes: 1024 ** 3 }),
    store,
    bus,
    trace: tracer,
  });
  const hub = createHub({ store, bus });
  return {
    port: server.port,
    connections: async () => {
      const health = (await (await fetch(`${server.url}/healthz`)).json()) as { connections: number };
      return health.connections;
    },
    emitBatch: async (from, n) => {
      await hub.append(Array.from({ length: n }, (_, k) => benchEvent(from + k)));
    },
    tracer,
  };
}

/** Emits `count` events with `emit`: `rate` a second, or (rate 0) keeping at most `window` unacknowledged. */
function emitAll(emit: Emit, count: number, rate: number, window: number, done: () => void): void {
  let i = 0;
  if (rate > 0) {
    const started = performance.now();
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
      for (; i < due; i++) emit(i);
      if (i < count) setTimeout(tick, 1);
      else done();
    };
    tick();
    return;
  }
  // Closed loop: emit up to the window, then yield to the event loop (sockets flush, credit arrives).
  const slice = () => {
    const end = Math.min(count, acknowledged + window, i + 50);
    for (; i < end; i++) emit(i);
    if (i >= count) done();
    else if (i < acknowledged + window) setImmediate(slice);
    else waiting = slice;
  };
  acknowledged = 0;
  slice();
}
let acknowledged = 0;
let waiting: (() => void) | undefined;

const variant = process.argv[2] as Variant;
const made: Made = await {
  ws: rawWs,
  socketio: socketIo,
  trpc: naiveTrpc,
  switchboard,
  'ws-durable': rawWsDurable,
  'ws-durable-trpc': rawWsDurable,
}[variant]();

interface Command {
  cmd?: string;
  count?: number;
  rate?: number;
  window?: number;
  credit?: number;
  on?: boolean;
}

process.on('message', (raw: Command) => {
  const send = (m: unknown) => process.send?.(m);
  if (raw.credit !== undefined) {
    acknowledged = Math.max(acknowledged, raw.credit);
    const resume = waiting;
    waiting = undefined;
    resume?.();
  } else if (raw.cmd === 'emit' && made.emit) {
    emitAll(made.emit, raw.count ?? 0, raw.rate ?? 0, raw.window ?? Infinity, () => send({ emitted: raw.count }));
  } else if (raw.cmd === 'fill' && made.emitBatch) {
    const total = raw.count ?? 0;
    const emitBatch = made.emitBatch;
    void (async () => {
      for (let i = 0; i < total; i += 1_000) await emitBatch(i, Math.min(1_000, total - i));
      send({ filled: total });
    })();
  } else if (raw.cmd === 'trace' && made.tracer) {
    send({ traced: made.tracer.collect(raw.on === true) });
  } else if (raw.cmd === 'stats') {
    const cpu = process.cpuUsage();
    send({ cpuMicros: cpu.user + cpu.system });
  } else if (raw.cmd === 'connections') {
    void Promise.resolve(made.connections()).then((connections) => send({ connections }));
  } else if (raw.cmd === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed, external } = process.memoryUsage();
    send({ memory: { rss, heap: heapUsed + external } });
  }
});
process.send?.({ port: made.port });
// Exit normally when the parent stops this server, so that `--cpu-prof` (bench --profile) writes its profile.
process.on('SIGTERM', () => process.exit(0));

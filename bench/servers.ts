/**
 * The servers under test, one per process (forked by bench/run.ts). Each listens on 127.0.0.1:0 and, on
 * command, emits events to every subscriber: as one pre-serialized string over raw `ws`, as a Socket.IO room
 * broadcast, through tRPC as its docs show it (EventEmitter + async generator), or through Switchboard's full
 * path (validated, stored in SQLite, fanned out to tracked, filtered subscriptions).
 *
 * Protocol with the parent (IPC): → { port } once listening; ← { cmd: 'emit', count, rate } → { emitted };
 * ← { cmd: 'stats' } → { cpuMicros, rss }; ← { cmd: 'gc' } → { rss }; ← { cmd: 'connections' } → { connections }.
 */
import { EventEmitter, on } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initTRPC } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { Server as SocketIOServer } from 'socket.io';
import superjson from 'superjson';
import { WebSocketServer } from 'ws';
import { createMemoryBus } from '../server/bus/memory.js';
import { loadConfig } from '../server/ops/config.js';
import { openDatabase } from '../server/store/sqlite-db.js';
import { createHub } from '../server/core/hub.js';
import { startServer } from '../server/server.js';
import { createSqliteStore } from '../server/store/sqlite.js';
import { benchEvent, benchEnvelope, type Variant } from './shared.js';

type Emit = (i: number) => void;
interface Made {
  port: number;
  emit: Emit;
  /** Open connections, so the parent can wait for a warm-up client's to be gone. */
  connections: () => number | Promise<number>;
  /** Stores events without waiting on subscribers (Switchboard only: the resume case needs a backlog). */
  emitBatch?: (from: number, n: number) => Promise<void>;
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

/** The real server, with a second hub on the same store and bus acting as the in-process publisher. */
async function switchboard(): Promise<Made> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  const durability = process.env.BENCH_DURABILITY === 'full' ? 'full' : 'normal';
  const store = createSqliteStore(openDatabase(join(dir, 'bench.db'), durability));
  const bus = createMemoryBus();
  const server = await startServer({
    ...loadConfig([], {}),
    port: 0,
    db: join(dir, 'bench.db'),
    durability,
    logLevel: 'error',
    maxConnections: 100_000,
    publishRate: 10_000_000,
    // Saturation deliberately outruns the subscribers; the baselines have no cut-off, so neither does this run.
    slowConsumerBytes: 1024 ** 3,
    store,
    bus,
  });
  const hub = createHub({ store, bus });
  return {
    port: server.port,
    connections: async () => {
      const health = (await (await fetch(`${server.url}/healthz`)).json()) as { connections: number };
      return health.connections;
    },
    emit: (i) => void hub.append([benchEvent(i)]),
    emitBatch: async (from, n) => {
      await hub.append(Array.from({ length: n }, (_, k) => benchEvent(from + k)));
    },
  };
}

const variant = process.argv[2] as Variant;
const made: Made = await { ws: rawWs, socketio: socketIo, trpc: naiveTrpc, switchboard }[variant]();
let cpuStart = process.cpuUsage();

process.on('message', (raw: { cmd: string; count?: number; rate?: number }) => {
  const send = (m: unknown) => process.send?.(m);
  if (raw.cmd === 'emit') {
    const count = raw.count ?? 0;
    const rate = raw.rate ?? 0;
    cpuStart = process.cpuUsage();
    let i = 0;
    if (rate === 0) {
      // Saturation: emit in slices, yielding to the event loop so sockets keep flushing.
      const slice = () => {
        const end = Math.min(count, i + 50);
        for (; i < end; i++) made.emit(i);
        if (i < count) setImmediate(slice);
        else send({ emitted: count });
      };
      slice();
    } else {
      const started = performance.now();
      const tick = () => {
        const due = Math.min(count, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
        for (; i < due; i++) made.emit(i);
        if (i < count) setTimeout(tick, 1);
        else send({ emitted: count });
      };
      tick();
    }
  } else if (raw.cmd === 'fill' && made.emitBatch) {
    const total = raw.count ?? 0;
    const emitBatch = made.emitBatch;
    void (async () => {
      for (let i = 0; i < total; i += 1_000) await emitBatch(i, Math.min(1_000, total - i));
      send({ filled: total });
    })();
  } else if (raw.cmd === 'stats') {
    const cpu = process.cpuUsage(cpuStart);
    send({ cpuMicros: cpu.user + cpu.system, rss: process.memoryUsage().rss });
  } else if (raw.cmd === 'connections') {
    void Promise.resolve(made.connections()).then((connections) => send({ connections }));
  } else if (raw.cmd === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    send({ rss: process.memoryUsage().rss });
  }
});
process.send?.({ port: made.port });
// Exit normally when the parent stops this server, so that `--cpu-prof` (bench --profile) writes its profile.
process.on('SIGTERM', () => process.exit(0));

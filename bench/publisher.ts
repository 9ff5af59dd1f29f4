/**
 * Switchboard's events for the fan-out and latency cases, sent through its API from a process of their own, as an
 * orchestrator sends them: `publishBatch` in a closed loop at saturation, one `publish` per event at a fixed rate.
 * Usage: `publisher.ts port`.
 *
 * IPC: → { ready } once connected; ← { cmd: 'emit', count, rate, window } → { emitted } once every call is
 * answered: `rate` events a second, one `publish` each, or with rate 0 a closed loop that keeps at most `window`
 * events unacknowledged (acknowledged by ← { credit: events }, what every subscriber has received), sending what
 * the window allows as one `publishBatch` (at most 1,000); ← { cmd: 'stats' } → { cpuMicros } (since start).
 *
 * `publisher.ts port plain`: the fixed rate's `publish` calls go out as tRPC's protocol on a plain `ws` socket,
 * each frame sent when its event is due (docs/protocol.md), where `@trpc/client` sends what it queued after a
 * `setTimeout(0)` (at least 1 ms in Node). The closed loop is the typed client's either way.
 *
 * `publisher.ts port raw`: for the latency floor (servers.ts `ws-durable`), each event as plain JSON on a socket to
 * `/publish`, answered with its id (the closed loop, a warm-up there, sends them one by one too).
 */
import WebSocket from 'ws';
import { encode, limits } from '@switchboard/shared';
import { createSwitchboardClient } from '../client/index.js';
import { benchEvent } from './shared.js';

const port = process.argv[2] ?? '';
const mode = process.argv[3];
const plain = mode === 'plain';
const raw = mode === 'raw';
// Not for the floor server: it would take the client's socket for a subscriber.
const client = raw ? undefined : createSwitchboardClient({ url: `http://127.0.0.1:${port}`, WebSocket });
const typed = () => {
  if (!client) throw new Error('the raw publisher has no typed client');
  return client;
};

/** The plain socket's calls awaiting their answer, by request id. */
const answers = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
const socket = plain
  ? new WebSocket(`ws://127.0.0.1:${port}/trpc`)
  : raw
    ? new WebSocket(`ws://127.0.0.1:${port}/publish`)
    : undefined;
/** The raw socket's events awaiting their id, in the order they were sent (the floor server answers in order). */
const rawAnswers: (() => void)[] = [];
socket?.on('message', (data: Buffer) => {
  if (raw) {
    rawAnswers.shift()?.();
    return;
  }
  const reply = JSON.parse(data.toString()) as { id?: number; error?: { json?: { message?: string } } };
  const waiting = reply.id === undefined ? undefined : answers.get(reply.id);
  if (waiting === undefined || reply.id === undefined) return;
  answers.delete(reply.id);
  if (reply.error) waiting.reject(new Error(reply.error.json?.message ?? 'the publish was refused'));
  else waiting.resolve();
});
let nextId = 0;

/** One `publish` as a frame of its own on the plain socket, answered when the server replies. */
function plainPublish(i: number): Promise<void> {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    answers.set(id, { resolve, reject });
    socket?.send(JSON.stringify({ id, method: 'mutation', params: { path: 'publish', input: encode(benchEvent(i)) } }));
  });
}

/** One event as plain JSON on the raw socket, answered with its id once stored. */
function rawPublish(i: number): Promise<void> {
  return new Promise((resolve) => {
    rawAnswers.push(resolve);
    socket?.send(JSON.stringify(benchEvent(i)));
  });
}

let acknowledged = 0;
let wake: (() => void) | undefined;

/** Every call of a run, so the run ends when all are answered; a refused call fails the whole bench. */
const calls: Promise<unknown>[] = [];
const fail = (error: unknown) => {
  console.error(`bench publisher: a call failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
};

async function closedLoop(count: number, window: number): Promise<void> {
  acknowledged = 0;
  let sent = 0;
  while (sent < count) {
    const room = Math.min(count - sent, acknowledged + window - sent, limits.batchSize);
    if (room <= 0) {
      await new Promise<void>((resolve) => (wake = resolve));
      continue;
    }
    const from = sent;
    sent += room;
    if (raw) for (let k = 0; k < room; k++) calls.push(rawPublish(from + k));
    else
      calls.push(
        typed()
          .publishBatch.mutate(Array.from({ length: room }, (_, k) => benchEvent(from + k)))
          .catch(fail),
      );
    // Let the call's frame go out and credit come in before the next batch is made.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function fixedRate(count: number, rate: number): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + (i / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    calls.push((raw ? rawPublish(i) : plain ? plainPublish(i) : typed().publish.mutate(benchEvent(i))).catch(fail));
  }
}

process.on('message', (m: { cmd?: string; count?: number; rate?: number; window?: number; credit?: number }) => {
  if (m.credit !== undefined) {
    acknowledged = Math.max(acknowledged, m.credit);
    const w = wake;
    wake = undefined;
    w?.();
  } else if (m.cmd === 'emit') {
    const count = m.count ?? 0;
    const run = (m.rate ?? 0) > 0 ? fixedRate(count, m.rate ?? 0) : closedLoop(count, m.window ?? Infinity);
    void run.then(async () => {
      await Promise.all(calls.splice(0));
      process.send?.({ emitted: count });
    }, fail);
  } else if (m.cmd === 'stats') {
    const cpu = process.cpuUsage();
    process.send?.({ cpuMicros: cpu.user + cpu.system });
  }
});
// The connection is open once a call has been answered (the floor server has no API to call).
await client?.agents.query();
if (socket && socket.readyState !== WebSocket.OPEN) {
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
}
process.send?.({ ready: true });
process.on('SIGTERM', () => process.exit(0));

/**
 * An experiment, not the server: would the SQLite store's writes on a thread of their own free the main thread
 * enough for `ingest` to reach its goal (docs/performance-history.md, "The stop of the thirteenth run")? In one
 * process, without a client or a socket: frames of 1,000 bench events are parsed and checked on the main thread as the
 * server does (`JSON.parse`, zod), then stored either there (`inline`: the hub and the SQLite store as the server
 * runs them) or by the same store on a worker thread (`thread`: the checked events handed over with
 * `v8.serialize`, the first id handed back, the envelopes built on the main thread), `synchronous=FULL`. The
 * thread mode has none of the failure handling, keys or ordering a real design needs.
 *
 * Usage: `tsx bench/writer-thread.ts inline|thread [batches = 300] [in flight = 2]`. Prints one JSON line: the
 * rate, the main thread's busy µs per event (event-loop utilisation) and the process's CPU µs per event.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import v8 from 'node:v8';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { limits, publishInputSchema, topicOf, type ValidEvent } from '@switchboard/shared';
import { createMemoryBus } from '../server/bus/memory.js';
import { envelopeOfEvent } from '../server/core/envelope.js';
import { createHub } from '../server/core/hub.js';
import { openDatabase } from '../server/store/sqlite-db.js';
import { createSqliteStore } from '../server/store/sqlite.js';
import { benchEvent, tempDir } from './shared.js';

/** Batches before the measured ones, to warm up the JIT and the database. */
const warmUp = 10;
const batchSize = 1_000;

interface Stored {
  seq: number;
  first: string | undefined;
}

async function writer(port: NonNullable<typeof parentPort>, path: string): Promise<void> {
  const store = createSqliteStore(openDatabase(path, 'full'));
  port.on('message', (message: { seq: number; events: Uint8Array }) => {
    const events = v8.deserialize(message.events) as ValidEvent[];
    void store.appendGroup([{ events, keyOwner: '' }]).then(([outcome]) => {
      const answer: Stored = { seq: message.seq, first: outcome?.ok ? outcome.result.stored[0]?.id : undefined };
      port.postMessage(answer);
    });
  });
  await new Promise<void>((resolve) => port.once('close', resolve));
}

async function measure(mode: 'inline' | 'thread', batches: number, inFlight: number): Promise<void> {
  const batch = z.array(publishInputSchema).min(1).max(limits.batchSize);
  const frames = Array.from({ length: batches + warmUp }, (_, b) =>
    JSON.stringify({
      id: b,
      method: 'mutation',
      params: {
        path: 'ingest',
        input: { json: { events: Array.from({ length: batchSize }, (_, k) => benchEvent(b * batchSize + k)) } },
      },
    }),
  );
  const path = join(tempDir('switchboard-writer-'), 'bench.db');
  // The schema, made before either mode opens it.
  const store = createSqliteStore(openDatabase(path, 'full'));
  let append: (events: ValidEvent[]) => Promise<unknown>;
  let worker: Worker | undefined;
  if (mode === 'inline') {
    const hub = createHub({ store, bus: createMemoryBus() });
    append = (events) => hub.append(events);
  } else {
    // The worker runs this file through tsx, as the bench runs everything.
    worker = new Worker(
      `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`,
      { eval: true, workerData: { path } },
    );
    const waiting = new Map<number, (first: string | undefined) => void>();
    worker.on('message', ({ seq, first }: Stored) => {
      waiting.get(seq)?.(first);
      waiting.delete(seq);
    });
    let seq = 0;
    const thread = worker;
    append = (events) =>
      new Promise((resolve) => {
        const own = seq++;
        waiting.set(own, (first) => {
          const now = new Date();
          resolve(events.map((e, i) => envelopeOfEvent(e, Number(first) + i, topicOf(e), now)));
        });
        const serialized = v8.serialize(events);
        thread.postMessage({ seq: own, events: serialized }, [serialized.buffer]);
      });
  }
  const handle = async (frame: string) => {
    const message = JSON.parse(frame) as { params: { input: { json: { events: unknown } } } };
    await append(batch.parse(message.params.input.json.events));
  };
  for (let i = 0; i < warmUp; i++) await handle(frames[i] ?? '');
  const loop = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = warmUp;
  // Each frame is handed in on a turn of its own, as a socket's would be.
  const lane = async () => {
    while (next < frames.length) {
      const frame = frames[next++] ?? '';
      await new Promise((resolve) => setImmediate(resolve));
      await handle(frame);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = (performance.now() - started) / 1000;
  const busy = performance.eventLoopUtilization(loop);
  const used = process.cpuUsage(cpu);
  const events = batches * batchSize;
  process.stdout.write(
    `${JSON.stringify({
      mode,
      inFlight,
      perSecond: events / seconds,
      mainBusyMicrosPerEvent: (busy.active * 1000) / events,
      processCpuMicrosPerEvent: (used.user + used.system) / events,
    })}\n`,
  );
  await worker?.terminate();
  await store.close();
}

if (isMainThread) {
  const mode = process.argv[2] === 'thread' ? 'thread' : 'inline';
  await measure(mode, Number(process.argv[3] ?? 300), Number(process.argv[4] ?? 2));
} else if (parentPort) {
  await writer(parentPort, (workerData as { path: string }).path);
}

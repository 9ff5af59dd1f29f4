/**
 * Ingest and replay load, in its own process. Prints one JSON line per measurement and exits: `{ mode, count,
 * seconds, perSecond, clientCpuPerEvent }`, or `{ mode, error }` when the server refused a call (a limit).
 *
 *   load.ts publish PORT COUNT      `publish` pipelined: 64 calls in flight on one connection
 *   load.ts batch PORT COUNT        `publishBatch` of 1,000, one call in flight
 *   load.ts batch2 PORT COUNT       `publishBatch` of 1,000, two calls in flight on the one connection
 *   load.ts ingest2 PORT COUNT      `ingest` (ids only) of 1,000, two calls in flight on the one connection
 *   load.ts publisher PORT COUNT    the Publisher's outbox: single events in (1,000 a turn), ordered batches out
 *   load.ts ndjson PORT COUNT       `POST /ingest` (node:http, keep-alive), 1,000 events per NDJSON body, one in flight
 *   load.ts ndjson2 PORT COUNT      the same with two requests in flight (two keep-alive connections)
 *   load.ts resume PORT COUNT       `events` from `lastEventId: "0"` over WebSocket, until COUNT have arrived
 *   load.ts resume-sse PORT COUNT   the same over SSE (tRPC's httpSubscriptionLink, the `eventsource` package)
 *   load.ts resume-sse-plain PORT COUNT   the same stream read as a plain EventSource consumer would: `fetch`,
 *                                   the SSE lines split by hand, each message's data JSON-parsed and decoded
 */
import { Agent, request } from 'node:http';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { createPublisher, createSwitchboardClient } from '../client/index.js';
import { transformer, type PublishInput } from '@switchboard/shared';
import { benchEvent } from './shared.js';

type Mode =
  | 'publish'
  | 'batch'
  | 'batch2'
  | 'ingest2'
  | 'publisher'
  | 'ndjson'
  | 'ndjson2'
  | 'resume'
  | 'resume-sse'
  | 'resume-sse-plain';
const [mode, portText, countText] = process.argv.slice(2) as [Mode, string, string];
const count = Number(countText);
const url = `http://127.0.0.1:${portText}`;
await using client = createSwitchboardClient(
  mode === 'resume-sse' ? { url, transport: 'sse', EventSource } : { url, WebSocket },
);
const event = (i: number): PublishInput => benchEvent(i);
/** No wait here may exceed this. */
const waitLimitMs = 120_000;
const batchSize = 1_000;
/** Events the Publisher case publishes in one turn of the event loop. */
const publisherTurn = 1_000;
const nextTurn = () =>
  new Promise<void>((resolve) => {
    setImmediate(resolve);
  });

/** Keep-alive connections for `/ingest`, one per request in flight. */
const agent = new Agent({ keepAlive: true, maxSockets: 2 });

/**
 * One NDJSON body to `POST /ingest` through `node:http`, as a Node producer would send it (`fetch` costs its
 * client about twice the CPU per event, which on two shared cores is taken from the server).
 */
function post(body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/ingest`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function run(): Promise<Record<string, unknown>> {
  if (mode === 'publish') {
    // Pipelined: 64 calls in flight on one socket, each a separate durable append.
    let next = 0;
    const worker = async () => {
      while (next < count) await client.publish.mutate(event(next++));
    };
    await Promise.all(Array.from({ length: 64 }, worker));
  } else if (mode === 'publisher') {
    // What an orchestrator does: `publish` one event at a time into the Publisher, which sends its outbox in
    // ordered ingest calls (its defaults: up to 1,000 events, 512 KiB, two in flight); done when the last is
    // acknowledged. The events come as an orchestrator's work runs, a turn of the event loop at a time (1,000 a
    // turn), not all in one synchronous loop: that one kept the sender from sending anything but the first event
    // until the last was queued, and held every event in the outbox at once.
    await using publisher = createPublisher({ url, client, outboxLimit: count });
    for (let i = 0; i < count; i++) {
      publisher.publish(event(i));
      if (i % publisherTurn === publisherTurn - 1) await nextTurn();
    }
    await publisher.flush(waitLimitMs);
    const { sent, retried } = publisher.stats();
    if (sent !== count) throw new Error(`the publisher sent ${sent} of ${count}`);
    // A retry means the server refused or dropped a batch: a limit, which the figure must not hide.
    if (retried > 0) return { retried };
  } else if (mode === 'batch' || mode === 'batch2' || mode === 'ingest2') {
    // Two in flight: the server stores one batch while the client encodes the next (and group commit may join
    // them into one transaction); one in flight, each waits for the other.
    let next = 0;
    const worker = async () => {
      for (let i = next; i < count; i = next) {
        next += batchSize;
        const events = Array.from({ length: batchSize }, (_, k) => event(i + k));
        await (mode === 'ingest2' ? client.ingest.mutate({ events }) : client.publishBatch.mutate(events));
      }
    };
    await Promise.all(Array.from({ length: mode === 'batch' ? 1 : 2 }, worker));
  } else if (mode === 'ndjson' || mode === 'ndjson2') {
    // One request in flight, each waits for the other; two, the server stores one body while the client builds
    // and sends the next (as `batch2` does over WebSocket).
    let next = 0;
    const worker = async () => {
      for (let i = next; i < count; i = next) {
        next += batchSize;
        const body = Array.from({ length: batchSize }, (_, k) => JSON.stringify(event(i + k))).join('\n');
        const { status, text } = await post(body);
        if (status !== 200) throw new Error(`POST /ingest answered ${status}: ${text}`);
      }
    };
    await Promise.all(Array.from({ length: mode === 'ndjson2' ? 2 : 1 }, worker));
  } else if (mode === 'resume-sse-plain') {
    await plainSseReplay();
  } else {
    await new Promise<void>((resolve, reject) => {
      let seen = 0;
      const timer = setTimeout(() => {
        reject(new Error(`${seen} of ${count} events replayed within ${waitLimitMs} ms`));
      }, waitLimitMs);
      const sub = client.events.subscribe(
        { lastEventId: '0' },
        {
          onData: () => {
            if (++seen === count) {
              clearTimeout(timer);
              sub.unsubscribe();
              resolve();
            }
          },
          onError: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        },
      );
    });
  }
  return {};
}

/**
 * `events` from "0" over SSE without tRPC's consumer: what a browser's EventSource plus `JSON.parse` does, and
 * the transformer's decode (every event's timestamp becomes a Date, as the typed client gets it).
 */
async function plainSseReplay(): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new Error(`the replay did not finish within ${waitLimitMs} ms`));
  }, waitLimitMs);
  try {
    const input = encodeURIComponent(JSON.stringify({ json: {} }));
    const response = await fetch(`${url}/trpc/events?input=${input}&lastEventId=0`, {
      headers: { accept: 'text/event-stream' },
      signal: controller.signal,
    });
    if (!response.ok || !response.body) throw new Error(`GET /trpc/events answered ${response.status}`);
    const decoder = new TextDecoder();
    let rest = '';
    let seen = 0;
    let lastId = '';
    for await (const chunk of response.body) {
      rest += decoder.decode(chunk, { stream: true });
      let end = rest.indexOf('\n\n');
      let from = 0;
      for (; end >= 0; from = end + 2, end = rest.indexOf('\n\n', from)) {
        const message = rest.slice(from, end);
        // The default event (no `event:` line) is an item: `id: <cursor>` then `data: <json>`.
        if (!message.startsWith('id: ')) continue;
        const newline = message.indexOf('\n');
        const data = message.slice(newline + 1);
        if (!data.startsWith('data: ')) throw new Error(`an item without data: ${message.slice(0, 80)}`);
        const envelope = transformer.output.deserialize(JSON.parse(data.slice(6)) as never) as { timestamp: unknown };
        if (!(envelope.timestamp instanceof Date)) throw new Error('an event decoded without its Date');
        lastId = message.slice(4, newline);
        if (++seen === count) break;
      }
      rest = rest.slice(from);
      if (seen === count) break;
    }
    if (seen !== count) throw new Error(`the stream ended after ${seen} of ${count} events (last ${lastId})`);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

const started = performance.now();
const cpu0 = process.cpuUsage();
try {
  const extra = await run();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const clientCpuPerEvent = (cpu.user + cpu.system) / count;
  process.stdout.write(
    `${JSON.stringify({ mode, count, seconds, perSecond: count / seconds, clientCpuPerEvent, ...extra })}\n`,
  );
} catch (error) {
  process.stdout.write(`${JSON.stringify({ mode, error: error instanceof Error ? error.message : String(error) })}\n`);
} finally {
  agent.destroy();
}

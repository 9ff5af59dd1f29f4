/**
 * What a server's thread spends on each event of an `ingest` call before the store sees it, measured alone in
 * this process: the frame's `JSON.parse`, the transformer's decode of the input (server side: its checks, then
 * the decode), and the `ingest` procedure's input check as the router runs it (the generated parse,
 * shared/fast-parse.ts), with zod's own parse of the same schema beside it. The frame is the one bench/load.ts
 * sends (1,000 bench events, superjson's wrapper), the same as bench/fresh-memory.ts's. Each step runs on a
 * fresh copy each time, as a server meets every frame once. Prints
 * `{ mode: 'decode-check', events, parseUs, decodeUs, checkUs, zodUs }`, µs per event.
 */
import type { AnyRouter } from '@trpc/server';
import { transformer } from '@switchboard/shared';
import { appRouter } from '../server/routers/_app.js';
import { benchEvent } from './shared.js';

const frames = Number(process.argv[2] ?? 300);
const events = 1_000;
const text = JSON.stringify({
  id: 1,
  method: 'mutation',
  params: {
    path: 'ingest',
    input: transformer.input.serialize({ events: Array.from({ length: events }, (_, i) => benchEvent(i)) }),
  },
});

interface InputParser {
  parse: (input: unknown) => unknown;
}
const ingest = (appRouter as AnyRouter)._def.procedures as Record<string, { _def: { inputs: InputParser[] } }>;
const [check] = ingest.ingest?._def.inputs ?? [];
if (check === undefined) throw new Error('the router has no ingest input to check');

/** The schema the router's input wraps (its prototype): zod's own parse of it. */
const zod = Object.getPrototypeOf(check) as InputParser;

const inputOf = (frame: unknown) => (frame as { params: { input: unknown } }).params.input;

/**
 * µs per event of `step`, over `frames` inputs each made by `make` just before it (not timed), after a warm-up:
 * each input is garbage once its step is done, as a frame is in a server.
 */
function measure<T>(make: () => T, step: (input: T) => unknown): number {
  for (let i = 0; i < 20; i++) step(make());
  let ms = 0;
  for (let i = 0; i < frames; i++) {
    const input = make();
    const started = performance.now();
    step(input);
    ms += performance.now() - started;
  }
  return (ms * 1000) / frames / events;
}

const parseUs = measure(
  () => text,
  (frame) => JSON.parse(frame) as unknown,
);
const decodeUs = measure(
  () => inputOf(JSON.parse(text)),
  (input) => transformer.input.deserialize(input),
);
const checkUs = measure(
  () => transformer.input.deserialize(inputOf(JSON.parse(text))),
  (input) => check.parse(input),
);
const zodUs = measure(
  () => transformer.input.deserialize(inputOf(JSON.parse(text))),
  (input) => zod.parse(input),
);
process.stdout.write(`${JSON.stringify({ mode: 'decode-check', events, parseUs, decodeUs, checkUs, zodUs })}\n`);

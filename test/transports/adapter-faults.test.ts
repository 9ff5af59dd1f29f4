/**
 * The WebSocket handler under faults of the router's own making and of the peer's: an error formatter or an
 * `onError` that fails, a socket that closes mid-call, a subscriber that stops reading, a malformed first
 * frame; and the stock adapter's `prefix` and `maxBatchSize` options. Every call is answered (or its socket
 * closed), and nothing rejects into nothing: the test workers run with `--unhandled-rejections=strict`
 * (vitest.config.ts), so a rejection no one handles fails the run.
 */
import { EventEmitter, once } from 'node:events';
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { transformer } from '@switchboard/shared';
import { serveWebSockets } from '../../server/transports/ws/handler.js';
import { rawSocket, serveRouter, type RawReply } from '../adapter-harness.js';
import { waitUntil } from '../harness.js';

/** What the procedures saw and did. */
function createRecorder() {
  return {
    calls: [] as string[],
    signals: [] as ('none' | 'open' | 'aborted')[],
    yielded: 0,
    finalized: 0,
  };
}
type Recorder = ReturnType<typeof createRecorder>;

function createRouter(recorder: Recorder, options: { formatterThrows?: boolean } = {}) {
  const t = initTRPC.create({
    transformer,
    errorFormatter: ({ shape }) => {
      if (options.formatterThrows === true) throw new Error('the formatter broke');
      return shape;
    },
  });
  return t.router({
    echo: t.procedure.input(z.string()).query(({ input }) => {
      recorder.calls.push(input);
      return input;
    }),
    refuse: t.procedure.query(() => {
      throw new TRPCError({ code: 'BAD_REQUEST', message: 'not today' });
    }),
    refuseStream: t.procedure.subscription(async function* () {
      await Promise.resolve();
      yield 1;
      throw new TRPCError({ code: 'CONFLICT', message: 'the stream broke' });
    }),
    /** Runs until its signal aborts, recording whether it had one. */
    wait: t.procedure.mutation(async ({ signal }) => {
      recorder.signals.push(signal === undefined ? 'none' : 'open');
      try {
        await once(new EventEmitter(), 'never', { signal });
      } finally {
        if (signal?.aborted === true) recorder.signals.push('aborted');
      }
    }),
    /** As fast as it is pulled: `count` strings of `bytes` each. */
    flood: t.procedure.input(z.object({ count: z.number(), bytes: z.number() })).subscription(async function* ({
      input,
    }) {
      try {
        for (let n = 0; n < input.count; n++) {
          await Promise.resolve();
          recorder.yielded++;
          yield 'x'.repeat(input.bytes);
        }
      } finally {
        recorder.finalized++;
      }
    }),
  });
}

const request = (id: number, path: string, input?: unknown, method = 'query') => ({
  id,
  method,
  params: { path, ...(input !== undefined && { input: superjson.serialize(input) }) },
});

/** The error of the reply to `id`, deserialized as the client would. */
function errorOf(replies: RawReply[], id: number | null): unknown {
  const reply = replies.find((r) => r.id === id && r.error !== undefined);
  return reply === undefined ? undefined : superjson.deserialize(reply.error as never);
}

const quiet = { pingMs: 30_000, pongWaitMs: 10_000 };

const fallback = { message: 'Internal server error', code: -32603, data: { code: 'INTERNAL_SERVER_ERROR' } };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the WebSocket handler under faults', () => {
  it('answers with a fallback error when the errorFormatter throws, and reports the formatter', async () => {
    const recorder = createRecorder();
    const reported: string[] = [];
    await using server = await serveRouter({
      router: createRouter(recorder, { formatterThrows: true }),
      createContext: () => ({}),
      onError: ({ error }) => reported.push(`${error.code}: ${error.message}`),
    });
    using ws = await rawSocket(server.url);
    ws.send([request(1, 'refuse'), request(2, 'refuseStream', undefined, 'subscription')]);
    await waitUntil('both errors', () => ws.replies().filter((r) => r.error !== undefined).length === 2, 5_000);
    expect(errorOf(ws.replies(), 1)).toMatchObject(fallback);
    expect(errorOf(ws.replies(), 2)).toMatchObject(fallback);
    await waitUntil('the stream to stop', () => ws.replies().some((r) => r.id === 2 && r.result?.type === 'stopped'));
    expect(reported).toEqual(
      expect.arrayContaining([
        'BAD_REQUEST: not today',
        'CONFLICT: the stream broke',
        'INTERNAL_SERVER_ERROR: the errorFormatter threw: the formatter broke',
      ]),
    );
  });

  it('answers a result the transformer cannot encode with the error, and closes (1011) when nothing encodes', async () => {
    // The project's transformer, failing on a top-level `poison` key, and on everything once `broken`.
    const state = { broken: false };
    const fragile = {
      serialize: (value: unknown) => {
        if (state.broken || (typeof value === 'object' && value !== null && 'poison' in value)) {
          throw new Error('cannot encode this');
        }
        return transformer.output.serialize(value);
      },
      deserialize: transformer.input.deserialize,
    };
    const t = initTRPC.create({ transformer: fragile });
    const router = t.router({
      poison: t.procedure.query(() => ({ poison: true })),
      breakAll: t.procedure.mutation(() => {
        state.broken = true;
        return 'broken';
      }),
    });
    const reported: string[] = [];
    await using server = await serveRouter({
      router,
      createContext: () => ({}),
      onError: ({ error }) => reported.push(error.message),
    });
    using ws = await rawSocket(server.url);
    ws.send(request(1, 'poison'));
    await waitUntil('the answer', () => ws.replies().some((r) => r.id === 1), 5_000);
    expect(errorOf(ws.replies(), 1)).toMatchObject({
      message: 'cannot encode this',
      data: { code: 'INTERNAL_SERVER_ERROR' },
    });
    ws.send(request(2, 'breakAll', undefined, 'mutation'));
    await waitUntil('the close', () => ws.closed.code !== undefined, 5_000);
    expect(ws.closed).toEqual({ code: 1011, reason: 'the server could not encode a reply' });
    expect(reported).toContain('not even the fallback error could be encoded: cannot encode this');
  });

  it('answers every call when onError throws or rejects, and logs the failure', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const recorder = createRecorder();
    let calls = 0;
    await using server = await serveRouter({
      router: createRouter(recorder),
      createContext: () => ({}),
      onError: () => {
        calls++;
        if (calls === 1) throw new Error('onError threw');
        return Promise.reject(new Error('onError rejected'));
      },
    });
    using ws = await rawSocket(server.url);
    ws.send(request(1, 'refuse'));
    await waitUntil('the first answer', () => ws.replies().some((r) => r.id === 1), 5_000);
    ws.send(request(2, 'refuse'));
    await waitUntil('the second answer', () => ws.replies().some((r) => r.id === 2), 5_000);
    for (const id of [1, 2]) expect(errorOf(ws.replies(), id)).toMatchObject({ message: 'not today' });
    await waitUntil('both failures logged', () => logged.mock.calls.length === 2, 5_000);
    const causes = logged.mock.calls.map((args) => (args.at(-1) as Error).message);
    expect(causes).toEqual(['onError threw', 'onError rejected']);
  });

  it('passes queries and mutations a signal, aborted when the socket closes', async () => {
    const recorder = createRecorder();
    await using server = await serveRouter({ router: createRouter(recorder), createContext: () => ({}) });
    using ws = await rawSocket(server.url);
    ws.send(request(1, 'wait', undefined, 'mutation'));
    await waitUntil('the mutation to run', () => recorder.signals.length === 1, 5_000);
    expect(recorder.signals).toEqual(['open']);
    ws.socket.terminate();
    await waitUntil('the signal to abort', () => recorder.signals.includes('aborted'), 5_000);
  });

  it('cuts a subscriber that stops reading a pulled subscription (4008), and stops the generator', async () => {
    const recorder = createRecorder();
    const limit = 256 * 1024;
    const bytes = 16 * 1024;
    const count = 2_000;
    await using server = await serveRouter({
      router: createRouter(recorder),
      createContext: () => ({}),
      slowConsumerBytes: limit,
    });
    using ws = await rawSocket(server.url);
    ws.socket.pause();
    ws.send(request(1, 'flood', { count, bytes }, 'subscription'));
    await waitUntil('the generator to be stopped', () => recorder.finalized === 1, 10_000);
    // Cut once its unsent bytes passed the limit, not pulled to its end (32 MB) into the server's memory. What
    // the server holds for the socket is at most the limit plus the item that crossed it and the close frame;
    // the kernel's socket buffers, a few MB on loopback, took what the generator yielded before.
    expect(recorder.yielded).toBeLessThan(count);
    const [held] = [...server.wss.clients].map((socket) => socket.bufferedAmount);
    expect(held).toBeLessThan(limit + bytes + 256);
    ws.socket.resume();
    await waitUntil('the close', () => ws.closed.code !== undefined, 10_000);
    expect(ws.closed).toEqual({
      code: 4008,
      reason: `slow consumer: over ${limit} bytes unsent; reconnect and resume from your last id`,
    });
  });

  it.each([
    ['a frame that is not JSON', 'hello'],
    ['a binary frame', Buffer.from('{"method":"connectionParams","data":{}}')],
  ])('refuses a connection whose params frame is %s: an error, then the close', async (_what, frame) => {
    await using server = await serveRouter({ router: createRouter(createRecorder()), createContext: () => ({}) });
    using ws = await rawSocket(`${server.url}?connectionParams=1`);
    ws.socket.send(frame);
    await waitUntil('the close', () => ws.closed.code !== undefined, 5_000);
    expect(errorOf(ws.replies(), null)).toMatchObject({ code: -32700, data: { code: 'PARSE_ERROR' } });
  });
});

describe("the stock adapter's options", () => {
  it('maxBatchSize: a larger batch is answered with an error naming the limit, and none of it runs', async () => {
    const recorder = createRecorder();
    await using server = await serveRouter({
      router: createRouter(recorder),
      createContext: () => ({}),
      maxBatchSize: 2,
    });
    using ws = await rawSocket(server.url);
    ws.send([request(1, 'echo', 'a'), request(2, 'echo', 'b'), request(3, 'echo', 'c')]);
    await waitUntil('three answers', () => ws.replies().length === 3, 5_000);
    for (const id of [1, 2, 3]) {
      expect(errorOf(ws.replies(), id)).toMatchObject({
        message: 'a batch of 3 requests is over the limit of 2 (maxBatchSize); send fewer requests per frame',
        data: { code: 'BAD_REQUEST' },
      });
    }
    expect(recorder.calls).toEqual([]);
    ws.send([request(4, 'echo', 'd'), request(5, 'echo', 'e')]);
    await waitUntil('two more answers', () => ws.replies().length === 5, 5_000);
    expect(recorder.calls).toEqual(['d', 'e']);
  });

  it('refuses options that break their rule, naming the option and the rule', () => {
    const wss = new WebSocketServer({ noServer: true });
    const base = { wss, router: createRouter(createRecorder()), createContext: () => ({}), keepAlive: quiet };
    expect(() => serveWebSockets({ ...base, maxBatchSize: 0 })).toThrow(
      'serveWebSockets: maxBatchSize: must be a whole number, at least 1',
    );
    expect(() => serveWebSockets({ ...base, prefix: 'trpc' })).toThrow(
      'serveWebSockets: prefix: must start with "/", as a request URL does',
    );
    expect(() => serveWebSockets({ ...base, slowConsumerBytes: 1.5 })).toThrow(
      'serveWebSockets: slowConsumerBytes: must be a whole number of bytes, at least 1',
    );
  });

  it('prefix: each handler serves only the connections whose URL starts with its prefix', async () => {
    const t = initTRPC.create({ transformer });
    const router = (name: string) => t.router({ name: t.procedure.query(() => name) });
    await using server = await serveRouter({ router: router('a'), createContext: () => ({}), prefix: '/a' });
    // A second handler on the same server, as the stock adapter's `prefix` is meant for.
    const b = serveWebSockets({
      wss: server.wss,
      router: router('b'),
      createContext: () => ({}),
      keepAlive: quiet,
      prefix: '/b',
    });
    using onA = await rawSocket(`${server.url}/a`);
    using onB = await rawSocket(`${server.url}/b`);
    onA.send(request(1, 'name'));
    onB.send(request(1, 'name'));
    await waitUntil('both answers', () => onA.replies().length === 1 && onB.replies().length === 1, 5_000);
    const data = (replies: RawReply[]) => superjson.deserialize(replies[0]?.result?.data as never);
    expect([data(onA.replies()), data(onB.replies())]).toEqual(['a', 'b']);
    // A second answer to the same id would mean both handlers served the socket; PING is answered in order.
    onA.send('PING');
    await waitUntil('PONG', () => onA.frames.includes('PONG'), 5_000);
    expect(onA.replies()).toHaveLength(1);
    b.close();
  });
});

/**
 * The WebSocket handler as a tRPC adapter for any router: a router built only for these tests, written the way
 * tRPC's docs write procedures (async generators, observables, `tracked`), served by `serveWebSockets` on a
 * real port, and called through the unmodified `@trpc/client` over `ws`, or raw sockets where the wire is the
 * point. Nothing here knows about the project's own router or event streams.
 */
import { EventEmitter, getEventListeners, on, once } from 'node:events';
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import { initTRPC, tracked, TRPCError } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import superjson from 'superjson';
import { describe, expect, expectTypeOf, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { pushSource, type PushSink, type PushSource } from '../../server/core/push-source.js';
import type { CreateWebSocketContextOptions } from '../../server/transports/ws/handler.js';
import { transformer } from '@switchboard/shared';
import { legacy, serveRouter } from '../adapter-harness.js';
import { waitUntil } from '../harness.js';

interface Ctx {
  user: string | null;
}

/** What the test router's procedures saw and did, for the tests to check. */
function createRecorder() {
  const feed = new EventEmitter();
  return {
    /** The feed's items; an item's id is its position, from 1. */
    log: [] as string[],
    feed,
    append(...items: string[]) {
      this.log.push(...items);
      feed.emit('append');
    },
    feedInputs: [] as { lastEventId?: string | undefined }[],
    finalized: 0,
    tornDown: 0,
    pushes: [] as PushSink<Item>[],
    stoppedPushes: 0,
    /** Mutations waiting on their signal, and how many of them saw it abort. */
    waiting: 0,
    aborted: 0,
  };
}
type Recorder = ReturnType<typeof createRecorder>;

interface Item {
  id: string;
  n: number;
}

/** A push source of the simplest kind: the test pushes through the sink it was opened with. */
class TestPush implements PushSource<Item> {
  readonly [pushSource] = true as const;
  constructor(private readonly recorder: Recorder) {}
  open(sink: PushSink<Item>) {
    this.recorder.pushes.push(sink);
    // Nothing to look up before its first item: it starts where it is opened.
    sink.started();
    return {
      stop: () => {
        this.recorder.stoppedPushes++;
      },
      resume: () => {
        // Nothing to read back: this source skips nothing, it pushes only what a test hands it.
      },
    };
  }
  trackedId(item: Item): string {
    return item.id;
  }
  /** The pulled form: the same items as tracked envelopes; here, one. */
  async *[Symbol.asyncIterator]() {
    await Promise.resolve();
    const item: Item = { id: '1', n: 1 };
    yield tracked(this.trackedId(item), item);
  }
}

function createTestRouter(recorder: Recorder) {
  const t = initTRPC.context<Ctx>().create({ transformer });
  return t.router({
    whoami: t.procedure.query(({ ctx }) => ctx.user),
    add: t.procedure.input(z.object({ a: z.number(), b: z.number() })).mutation(({ input }) => {
      if (input.a < 0) throw new TRPCError({ code: 'BAD_REQUEST', message: 'a must not be negative' });
      return input.a + input.b;
    }),
    /** Waits until its signal aborts (the socket closed). */
    untilAborted: t.procedure.mutation(async ({ signal }) => {
      recorder.waiting++;
      await once(new EventEmitter(), 'never', { signal }).catch(() => {
        recorder.aborted++;
      });
      return 'aborted';
    }),
    /** The abort listeners on this call's signal: none may pile up over a connection's calls. */
    abortListeners: t.procedure.query(({ signal }) => (signal ? getEventListeners(signal, 'abort').length : -1)),
    nextDay: t.procedure.input(z.date()).query(({ input }) => new Date(input.getTime() + 86_400_000)),
    countdown: t.procedure.input(z.object({ from: z.number() })).subscription(async function* ({ input }) {
      for (let n = input.from; n > 0; n--) {
        // A turn of the event loop between items, as a real source has.
        await Promise.resolve();
        yield n;
      }
    }),
    /** Yields 1 to `after`, then throws: `after: 0` throws before the first yield. */
    fails: t.procedure.input(z.object({ after: z.number() })).subscription(async function* ({ input }) {
      for (let n = 1; n <= input.after; n++) yield n;
      await Promise.resolve();
      throw new TRPCError({ code: 'CONFLICT', message: `the source failed after ${input.after}` });
    }),
    failsInResolver: t.procedure.subscription((): AsyncGenerator<number> => {
      throw new TRPCError({ code: 'NOT_IMPLEMENTED', message: 'no stream here' });
    }),
    forever: t.procedure.subscription(async function* ({ signal }) {
      try {
        yield 'first';
        // Waits until stopped: the abort rejects the wait, ending the generator.
        await once(new EventEmitter(), 'never', { signal });
      } finally {
        recorder.finalized++;
      }
    }),
    ticks: t.procedure.input(z.array(z.number())).subscription(({ input }) =>
      legacy(
        observable<number>((emit) => {
          for (const n of input) emit.next(n);
          emit.complete();
          return () => {
            recorder.tornDown++;
          };
        }),
      ),
    ),
    ticksFail: t.procedure.subscription(() =>
      legacy(
        observable<number>((emit) => {
          emit.next(1);
          emit.error(new TRPCError({ code: 'TIMEOUT', message: 'ticks stopped' }));
        }),
      ),
    ),
    ticksForever: t.procedure.subscription(() =>
      legacy(
        observable<number>((emit) => {
          emit.next(1);
          return () => {
            recorder.tornDown++;
          };
        }),
      ),
    ),
    /** Every item after the cursor, then each one appended, as `tracked(position, item)`. */
    feed: t.procedure.input(z.object({ lastEventId: z.string().optional() }).optional()).subscription(async function* ({
      input,
      signal,
    }) {
      recorder.feedInputs.push({ lastEventId: input?.lastEventId });
      let next = Number(input?.lastEventId ?? 0) + 1;
      // Listening before reading the log: nothing appended in between is missed.
      const appended = on(recorder.feed, 'append', { signal });
      try {
        for (;;) {
          for (; next <= recorder.log.length; next++) yield tracked(String(next), recorder.log[next - 1] ?? '');
          await appended.next();
        }
      } finally {
        recorder.finalized++;
      }
    }),
    pushed: t.procedure.subscription(() => new TestPush(recorder)),
    // A procedure-level error formatter makes tRPC wrap the result in a generator of its own, hiding the brand.
    pushedWrapped: t.procedure.errors(({ shape }) => shape).subscription(() => new TestPush(recorder)),
  });
}
type TestRouter = ReturnType<typeof createTestRouter>;

/** The test router behind the project's handler on 127.0.0.1, port 0. */
async function serve(createContext: (opts: CreateWebSocketContextOptions) => Ctx | Promise<Ctx>) {
  const recorder = createRecorder();
  const server = await serveRouter({ router: createTestRouter(recorder), createContext });
  return Object.assign(server, { recorder });
}

/** The unmodified tRPC client over `ws`, reconnecting at once. */
function client(url: string, connectionParams?: Record<string, string>) {
  const wsClient = createWSClient({
    url,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 10,
    ...(connectionParams && { connectionParams }),
  });
  const trpc = createTRPCClient<TestRouter>({ links: [wsLink({ client: wsClient, transformer })] });
  return { trpc, [Symbol.asyncDispose]: () => wsClient.close() };
}

interface Handlers<T> {
  onStarted(): void;
  onData(item: T): void;
  onError(error: unknown): void;
  onComplete(): void;
}

interface Watched<T> {
  items: T[];
  errors: TRPCClientError<TestRouter>[];
  starts: number;
  completed: boolean;
  unsubscribe(): void;
}

/** Subscribes through the client's callbacks and records everything. */
function watch<T>(subscribe: (handlers: Handlers<T>) => { unsubscribe(): void }): Watched<T> {
  const watched: Watched<T> = {
    items: [],
    errors: [],
    starts: 0,
    completed: false,
    unsubscribe: () => {
      subscription.unsubscribe();
    },
  };
  const subscription = subscribe({
    onStarted: () => watched.starts++,
    onData: (item) => watched.items.push(item),
    onError: (error) => {
      if (!(error instanceof TRPCClientError)) throw new Error('expected a TRPCClientError', { cause: error });
      watched.errors.push(error as TRPCClientError<TestRouter>);
    },
    onComplete: () => (watched.completed = true),
  });
  return watched;
}

const anonymous = () => ({ user: null });

describe('the WebSocket handler as a tRPC adapter', () => {
  it('answers queries and mutations, errors included, through the transformer', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    expect(await trpc.add.mutate({ a: 2, b: 3 })).toBe(5);
    const day = await trpc.nextDay.query(new Date('2026-01-01T00:00:00Z'));
    expectTypeOf(day).toEqualTypeOf<Date>();
    expect(day.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    const refused = await trpc.add.mutate({ a: -1, b: 3 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TRPCClientError);
    expect(refused).toMatchObject({ message: 'a must not be negative', data: { code: 'BAD_REQUEST' } });
  });

  it('aborts the queries and mutations running when the socket closes, and keeps no listener per call', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    for (let i = 0; i < 50; i++) expect(await trpc.add.mutate({ a: i, b: 1 })).toBe(i + 1);
    expect(await trpc.abortListeners.query()).toBe(0);
    // Two calls left running on a socket of its own, which then drops.
    const ws = new WebSocket(server.url);
    await once(ws, 'open');
    ws.send(JSON.stringify([1, 2].map((id) => ({ id, method: 'mutation', params: { path: 'untilAborted' } }))));
    await waitUntil('both waiting', () => server.recorder.waiting === 2);
    ws.terminate();
    await waitUntil('both aborted', () => server.recorder.aborted === 2);
  });

  it('awaits an async createContext with the connection params before running any call', async () => {
    const gate = new EventEmitter();
    let created = 0;
    await using server = await serve(async ({ connectionParams }) => {
      created++;
      await once(gate, 'open');
      return { user: connectionParams?.token ?? null };
    });
    await using connection = client(server.url, { token: 'alice' });
    const { trpc } = connection;
    let answered = false;
    const who = trpc.whoami.query().finally(() => (answered = true));
    await waitUntil('createContext to be called', () => created === 1);
    expect(answered).toBe(false);
    gate.emit('open');
    expect(await who).toBe('alice');
    expect(await trpc.add.mutate({ a: 1, b: 1 })).toBe(2);
    expect(created).toBe(1);
  });

  it('answers a rejected createContext with { id: null, error }, then each waiting call, and closes', async () => {
    const gate = new EventEmitter();
    await using server = await serve(async ({ connectionParams }) => {
      await once(gate, 'open');
      if (connectionParams?.token !== 'good') throw new TRPCError({ code: 'UNAUTHORIZED', message: 'bad token' });
      return { user: 'good' };
    });
    const ws = new WebSocket(`${server.url}?connectionParams=1`);
    const frames: string[] = [];
    ws.on('message', (data: Buffer) => frames.push(data.toString()));
    const closed = once(ws, 'close');
    await once(ws, 'open');
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: 'bad' } }));
    ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'whoami' } }));
    // PING is answered in order: once PONG is back, the query is waiting for the context.
    ws.send('PING');
    await waitUntil('PONG', () => frames.includes('PONG'));
    gate.emit('open');
    await closed;
    const replies = frames.filter((f) => f !== 'PONG').map((f) => JSON.parse(f) as { id: unknown; error: object });
    expect(replies.map((r) => r.id)).toEqual([null, 1]);
    for (const reply of replies) {
      expect(superjson.deserialize(reply.error as never)).toMatchObject({
        message: 'bad token',
        code: -32001,
        data: { code: 'UNAUTHORIZED' },
      });
    }
  });

  it('streams an async generator, then completes', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    const countdown = watch<number>((h) => trpc.countdown.subscribe({ from: 3 }, h));
    await waitUntil('completion', () => countdown.completed);
    expect(countdown.items).toEqual([3, 2, 1]);
    expect(countdown.starts).toBe(1);
    expect(countdown.errors).toEqual([]);
  });

  it('streams an observable, then completes, and tears it down', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    const ticks = watch<number>((h) => trpc.ticks.subscribe([1, 2, 3], h));
    await waitUntil('completion', () => ticks.completed);
    expect(ticks.items).toEqual([1, 2, 3]);
    await waitUntil('teardown', () => server.recorder.tornDown === 1);
  });

  it('delivers errors thrown by the resolver, before the first yield, mid-stream, and by an observable', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    const resolver = watch<number>((h) => trpc.failsInResolver.subscribe(undefined, h));
    const before = watch<number>((h) => trpc.fails.subscribe({ after: 0 }, h));
    const mid = watch<number>((h) => trpc.fails.subscribe({ after: 2 }, h));
    const ticks = watch<number>((h) => trpc.ticksFail.subscribe(undefined, h));
    const all = [resolver, before, mid, ticks];
    await waitUntil('every error', () => all.every((s) => s.errors.length === 1));
    const seen = all.map((s) => [s.items, s.errors[0]?.data?.code, s.errors[0]?.message]);
    expect(seen).toEqual([
      [[], 'NOT_IMPLEMENTED', 'no stream here'],
      [[], 'CONFLICT', 'the source failed after 0'],
      [[1, 2], 'CONFLICT', 'the source failed after 2'],
      [[1], 'TIMEOUT', 'ticks stopped'],
    ]);
  });

  it('stops a generator and an observable on the server when the client unsubscribes', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    const forever = watch<string>((h) => trpc.forever.subscribe(undefined, h));
    const ticks = watch<number>((h) => trpc.ticksForever.subscribe(undefined, h));
    await waitUntil('first items', () => forever.items.length === 1 && ticks.items.length === 1);
    forever.unsubscribe();
    ticks.unsubscribe();
    await waitUntil('server cleanup', () => server.recorder.finalized === 1 && server.recorder.tornDown === 1);
  });

  it('answers started, tracked data, stopped and errors at the wire as tRPC does', async () => {
    await using server = await serve(anonymous);
    const ws = new WebSocket(server.url);
    const replies: { id: number; result?: { type: string; id?: string; data?: never }; error?: object }[] = [];
    ws.on('message', (data: Buffer) => replies.push(JSON.parse(data.toString()) as (typeof replies)[number]));
    await once(ws, 'open');
    server.recorder.append('a', 'b');
    const sub = (id: number, path: string, extra: object = {}) => ({
      id,
      method: 'subscription',
      params: { path, ...extra },
    });
    const fails = sub(1, 'fails', { input: superjson.serialize({ after: 2 }) });
    ws.send(JSON.stringify([fails, sub(2, 'feed', { lastEventId: '1' }), sub(3, 'forever')]));
    await waitUntil('replies', () => replies.filter((r) => r.id !== 3).length >= 6 && replies.some((r) => r.id === 3));
    ws.send(JSON.stringify({ id: 3, method: 'subscription.stop' }));
    await waitUntil('stopped', () => replies.some((r) => r.id === 3 && r.result?.type === 'stopped'));
    const of = (id: number) =>
      replies.filter((r) => r.id === id).map((r) => (r.error ? 'error' : [r.result?.type, r.result?.id].join(' ')));
    expect(of(1)).toEqual(['started ', 'data ', 'data ', 'error', 'stopped ']);
    expect(of(2)).toEqual(['started ', 'data 2']);
    expect(of(3)).toEqual(['started ', 'data ', 'stopped ']);
    const item = replies.find((r) => r.id === 2 && r.result?.type === 'data');
    expect(superjson.deserialize(item?.result?.data as never)).toEqual({ id: '2', data: 'b' });
    ws.terminate();
  });

  it('resumes a tracked generator from the last id after the server drops the socket', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    const { recorder } = server;
    recorder.append('one', 'two', 'three');
    const feed = watch<{ id: string; data: string }>((h) => trpc.feed.subscribe(undefined, h));
    await waitUntil('three items', () => feed.items.length === 3);
    for (const socket of server.wss.clients) socket.terminate();
    await waitUntil('the dropped generator to end', () => recorder.finalized === 1);
    recorder.append('four', 'five');
    await waitUntil('five items', () => feed.items.length === 5);
    recorder.append('six');
    await waitUntil('six items', () => feed.items.length === 6);
    expect(feed.items.map((i) => `${i.id}:${i.data}`)).toEqual([
      '1:one',
      '2:two',
      '3:three',
      '4:four',
      '5:five',
      '6:six',
    ]);
    expect(recorder.feedInputs).toEqual([{ lastEventId: undefined }, { lastEventId: '3' }]);
    expect(feed.starts).toBe(2);
    expect(feed.errors).toEqual([]);
  });

  it('opens a push source in push mode: the source writes each item, and stop reaches it', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    const pushed = watch<{ id: string; data: Item }>((h) => trpc.pushed.subscribe(undefined, h));
    await waitUntil('the source to be opened', () => server.recorder.pushes.length === 1 && pushed.starts === 1);
    const sink = server.recorder.pushes[0];
    const shared = { id: '7', n: 7 };
    expect(sink?.push(shared, true)).toBe(true);
    expect(sink?.push({ id: '8', n: 8 }, false)).toBe(true);
    await waitUntil('two items', () => pushed.items.length === 2);
    expect(pushed.items).toEqual([
      { id: '7', data: shared },
      { id: '8', data: { id: '8', n: 8 } },
    ]);
    pushed.unsubscribe();
    await waitUntil('the source to be stopped', () => server.recorder.stoppedPushes === 1);
  });

  it('falls back to pulling a push source that tRPC has wrapped', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    const pulled = watch<{ id: string; data: Item }>((h) => trpc.pushedWrapped.subscribe(undefined, h));
    await waitUntil('completion', () => pulled.completed);
    expect(pulled.items).toEqual([{ id: '1', data: { id: '1', n: 1 } }]);
    expect(server.recorder.pushes).toEqual([]);
  });

  it('moves subscriptions to a new socket on the reconnect notice, resuming each from its last id', async () => {
    await using server = await serve(anonymous);
    await using connection = client(server.url);
    const { trpc } = connection;
    const { recorder } = server;
    recorder.append('one', 'two');
    const feed = watch<{ id: string; data: string }>((h) => trpc.feed.subscribe(undefined, h));
    await waitUntil('two items', () => feed.items.length === 2);
    server.handler.reconnectAll();
    await waitUntil('the subscription to move', () => recorder.feedInputs.length === 2);
    recorder.append('three');
    // The old socket's copy is stopped once the new one has started: the generator there ends.
    await waitUntil(
      'three items and the old generator ended',
      () => feed.items.length === 3 && recorder.finalized === 1,
    );
    recorder.append('four');
    await waitUntil('four items', () => feed.items.length === 4);
    expect(feed.items.map((i) => i.id)).toEqual(['1', '2', '3', '4']);
    expect(recorder.feedInputs[1]).toEqual({ lastEventId: '2' });
    expect(feed.errors).toEqual([]);
  });
});

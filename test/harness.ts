/**
 * Test harness: real servers on port 0 over real SQLite (files or `:memory:`, real migrations), real tRPC
 * clients over `ws`. Everything is disposable with `await using`.
 */
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import WebSocket from 'ws';
import { createSwitchboardClient, type SwitchboardClient } from '../client/index.js';
import { limits, type EventEnvelope } from '@switchboard/shared';
import { createAuthenticator, type Principal } from '../server/security/auth.js';
import { createMemoryBus } from '../server/bus/memory.js';
import { loadConfig } from '../server/ops/config.js';
import { createContextFactory } from '../server/context.js';
import { createLogger } from '../server/ops/log.js';
import { createMetrics } from '../server/ops/metrics.js';
import { openDatabase } from '../server/store/sqlite-db.js';
import { createHub, type Hub } from '../server/core/hub.js';
import type { EventStore } from '../server/core/store.js';
import { appRouter } from '../server/routers/_app.js';
import { startServer, type RunningServer, type ServerOptions } from '../server/server.js';
import { createSqliteStore } from '../server/store/sqlite.js';

/** A folder removed on dispose, for database files that must outlive one server. */
export function tempDir(): { path: string; file: (name: string) => string } & Disposable {
  const path = mkdtempSync(join(tmpdir(), 'switchboard-test-'));
  return {
    path,
    file: (name) => join(path, name),
    [Symbol.dispose]: () => {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** The server with its real defaults, except: an ephemeral port, `:memory:`, and only errors logged. */
export function startTestServer(options: Partial<ServerOptions> = {}): Promise<RunningServer> {
  return startServer({
    ...loadConfig([], {}),
    port: 0,
    db: ':memory:',
    // Same semantics as `full` for a process that is not killed by the machine; much faster on CI disks.
    durability: 'normal',
    logLevel: 'error',
    ...options,
  });
}

/** A typed client as applications create it, reconnecting quickly so tests stay short. */
export function connect(url: string | readonly string[], retryDelayMs = 20): SwitchboardClient {
  return createSwitchboardClient({ url, WebSocket, reconnect: { initialMs: retryDelayMs, maxMs: retryDelayMs } });
}

/**
 * A hub over a fresh `:memory:` database with the real migrations (or over `store`, closed on dispose), and a
 * caller for fast router tests. `now` is the hub's clock (a test double for time).
 */
export function createTestHub(options: { store?: EventStore; now?: () => number } = {}): {
  hub: Hub;
  caller: ReturnType<typeof appRouter.createCaller>;
  /**
   * A caller acting as this principal (a scoped token, say; the open server's admin when undefined). Its
   * subscriptions end when `signal` aborts (tRPC hands it to every procedure the caller calls).
   */
  callerAs: (principal?: Principal | null, signal?: AbortSignal) => ReturnType<typeof appRouter.createCaller>;
} & AsyncDisposable {
  const store = options.store ?? createSqliteStore(openDatabase(':memory:'));
  const hub = createHub({ store, bus: createMemoryBus(), ...(options.now && { now: options.now }) });
  const auth = createAuthenticator([]);
  const metrics = createMetrics({ connections: () => 0, databaseBytes: () => store.sizeBytes() });
  const contexts = createContextFactory({
    hub,
    limits: loadConfig([], {}),
    metrics,
    log: createLogger({ logLevel: 'silent', logFormat: 'json' }),
  });
  const callerAs = (principal: Principal | null = auth.authenticate(undefined), signal?: AbortSignal) =>
    appRouter.createCaller(contexts.forCaller({ principal }), signal && { signal });
  return {
    hub,
    caller: callerAs(),
    callerAs,
    [Symbol.asyncDispose]: () => store.close(),
  };
}

/** Iterates an async iterable (a `createCaller` subscription) in the background and records what it yields. */
export function drain<T>(iterable: AsyncIterable<T>) {
  const items: T[] = [];
  const iterator = iterable[Symbol.asyncIterator]();
  const errors: unknown[] = [];
  const done = (async () => {
    try {
      for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) items.push(r.value);
    } catch (error) {
      errors.push(error);
    }
  })();
  return {
    items,
    errors,
    atLeast: (n: number, timeout = 15_000) => waitUntil(`${n} items`, () => items.length >= n, timeout),
    [Symbol.asyncDispose]: async () => {
      await iterator.return?.();
      await done;
    },
  };
}

/** One event a second past a burst of a thousand: the settings of the tests of refusals past the publish rate. */
export const oneEventASecond = { publishRate: 1, publishBurst: 1_000 } as const;

/** The wait a refusal past the publish rate states in its message ("retry in N ms or send less"): ms, NaN if none. */
export function statedWaitMs(message: string): number {
  return Number(/; retry in (\d+) ms or send less$/.exec(message)?.[1]);
}

/** Waits on a condition, polling; never a fixed sleep. */
export function waitUntil(what: string | (() => string), done: () => boolean, timeout = 15_000): Promise<void> {
  return vi.waitFor(
    () => {
      if (!done()) throw new Error(`still waiting for ${typeof what === 'string' ? what : what()}`);
    },
    { timeout, interval: 5 },
  );
}

/** Any typed client subscription procedure, e.g. `client.agentStatus`. */
interface Subscribable {
  subscribe(input: never, handlers: never): { unsubscribe(): void };
}
/** `subscribe` is overloaded (callbacks, or an async iterator without them); this reads the callback form. */
type CallbackForm<P extends Subscribable> = P['subscribe'] extends {
  (input: infer I, handlers: infer H): { unsubscribe(): void };
  (...args: never[]): unknown;
}
  ? { input: I; handlers: H }
  : never;
type InputOf<P extends Subscribable> = CallbackForm<P>['input'];
type Handlers<P extends Subscribable> = CallbackForm<P>['handlers'];
type DataOf<P extends Subscribable> = Handlers<P> extends { onData?: (data: infer T) => void } ? T : never;

/**
 * Subscribes through a typed client procedure and records what arrives: `collect(client.agentStatus, {})`.
 * The items keep the procedure's inferred output type.
 */
export function collect<P extends Subscribable>(procedure: P, input: InputOf<P>) {
  const items: DataOf<P>[] = [];
  const errors: unknown[] = [];
  let starts = 0;
  const handlers = {
    onData: (data: DataOf<P>) => items.push(data),
    onError: (error: unknown) => errors.push(error),
    onStarted: () => (starts += 1),
  };
  // The callback form's parameters are read off P itself, so this call matches the first overload.
  const callbackForm = procedure as unknown as {
    subscribe(input: InputOf<P>, handlers: Handlers<P>): { unsubscribe(): void };
  };
  const subscription = callbackForm.subscribe(input, handlers);
  // Lazy, so that a timeout reports the counts when it gave up, not when it started waiting.
  const count = (what: string) => () => `${what} (${items.length} items, ${starts} starts, ${errors.length} errors)`;
  return {
    items,
    errors,
    get starts() {
      return starts;
    },
    /** Waits until the server has acknowledged the subscription `n` times (once per (re)connect). */
    started: (n = 1, timeout = 15_000) => waitUntil(count(`start #${n}`), () => starts >= n, timeout),
    /** Waits until at least `n` items arrived. */
    atLeast: (n: number, timeout = 15_000) => waitUntil(count(`${n} items`), () => items.length >= n, timeout),
    /** Waits for the first error. */
    failed: (timeout = 15_000) => waitUntil(count('an error'), () => errors.length > 0, timeout),
    [Symbol.dispose]: () => {
      subscription.unsubscribe();
    },
  };
}

/**
 * The real entry point (`npm start`) in a child process, for tests that kill it. Resolves once it listens.
 */
export async function spawnServer(args: { db: string; port?: number; flags?: string[] }) {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    [
      // As the test workers run (vitest.config.ts): a rejection nothing handles ends the server, and the test.
      '--unhandled-rejections=strict',
      '--import',
      'tsx',
      'server/entry/main.ts',
      '--port',
      String(args.port ?? 0),
      '--db',
      args.db,
      '--durability',
      'normal',
      '--log-level',
      'warn',
      ...(args.flags ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { output, exited, kill, stop } = watchChild(child);
  const address = () => /listening on (http:\/\/\S+) /.exec(output.stdout)?.[1];
  try {
    await waitUntil(
      `the server to listen (${output.stderr})`,
      () => address() !== undefined || child.exitCode !== null,
      15_000,
    );
  } catch (error) {
    // A server that did not listen in time is stopped here: no one else holds it, and it would run on.
    await stop();
    throw error;
  }
  const url = address();
  if (url === undefined) throw new Error(`server did not start: ${output.stderr}`);
  return {
    url,
    port: Number(new URL(url).port),
    output,
    exited,
    /** Sends a signal (e.g. SIGHUP) to the server process. */
    signal: (name: NodeJS.Signals) => child.kill(name),
    /** SIGKILL: no shutdown, no flush; only what SQLite committed survives. */
    kill,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * The real entry point (`npm start`) in a child process with these arguments, for tests of how it starts or fails
 * to: resolves once it listens or exits, whichever comes first, within `timeoutMs` (else it is killed and the
 * promise rejects). A process still running is SIGKILLed on dispose.
 */
export async function startProcess(argv: readonly string[], timeoutMs = 15_000) {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/entry/main.ts', ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { output, exited, kill, stop } = watchChild(child);
  const started = Date.now();
  try {
    await waitUntil(
      () => `the server to listen or exit within ${timeoutMs} ms (stderr: ${output.stderr})`,
      () => output.stdout.includes('listening on') || child.exitCode !== null,
      timeoutMs,
    );
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  return {
    output,
    exited,
    /** The exit code, if it exited (null while it runs), and how long after its start it ended. */
    get code() {
      return child.exitCode;
    },
    elapsedMs: Date.now() - started,
    listening: () => output.stdout.includes('listening on'),
    kill,
    [Symbol.asyncDispose]: stop,
  };
}

/** Every stored event, oldest first, read page by page through `history`. */
export async function storedEvents(url: string): Promise<EventEnvelope[]> {
  await using client = connect(url);
  const all: EventEnvelope[] = [];
  let after = '0';
  for (let page = 0; page < 1_000; page++) {
    const res = await client.history.query({ after, limit: limits.historyPage });
    all.push(...res.events);
    after = res.nextCursor;
    if (!res.hasMore) break;
  }
  return all;
}

/** What a child process prints, kept as it arrives, and its exit code once it exits. */
function watchChild(child: ChildProcessByStdio<null, Readable, Readable>) {
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
    });
  });
  /** SIGKILL, and its exit. */
  const kill = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  /** Kills it unless it has ended already. */
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) await kill();
  };
  return { output, exited, kill, stop };
}

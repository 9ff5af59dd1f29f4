/**
 * Where the client commands connect, and how long they wait: no command waits in silence for a hub that is not
 * there. `connectWithin` gives up after `--connect-timeout` with the reason the last attempt failed, and every
 * wait ends at once when the run's signal (SIGINT, SIGTERM) fires.
 */
import { TRPCClientError } from '@trpc/client';
import WebSocket from 'ws';
import {
  createSwitchboardClient,
  describeConnectionError,
  hubUrl,
  type AppRouterFor,
  type SwitchboardClient,
} from '@switchboard/client';
import {
  describeIssues,
  healthAnswerSchema,
  summariesFrom,
  type AnyCatalogue,
  type AnyEnvelope,
  type HealthAnswer,
} from '@switchboard/shared';
import { loadCatalogue } from '../../server/ops/catalogue.js';
import { secondsFlag } from './args.js';
import { StoppedError, UnreachableError, UsageError } from './errors.js';
import type { Io } from './io.js';

/** Seconds a command waits for the hub by default: long enough for a server starting beside it, short for a hook. */
export const defaultConnectTimeoutSeconds = 5;

export interface ConnectionValues {
  url?: string | undefined;
  token?: string | undefined;
  'connect-timeout'?: string | undefined;
}

/** The hub's address from `--url`, else `SWITCHBOARD_URL`, else the default; `host:port` alone means http://. */
export function serverUrl(values: ConnectionValues, io: Io): string {
  const given = values.url ?? io.env.SWITCHBOARD_URL;
  if (given === undefined) return 'http://127.0.0.1:8765';
  try {
    return hubUrl(given).toString().replace(/\/$/, '');
  } catch (error) {
    const setting = values.url === undefined ? 'SWITCHBOARD_URL' : '--url';
    throw new UsageError(`${setting}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function tokenOf(values: ConnectionValues, io: Io): string | undefined {
  return values.token ?? io.env.SWITCHBOARD_TOKEN;
}

export function connectTimeoutMs(values: ConnectionValues): number {
  return secondsFlag('connect-timeout', values['connect-timeout'], defaultConnectTimeoutSeconds);
}

/** The signal's name, as the executable sets it for SIGINT and SIGTERM; "stop" for any other abort. */
export function signalName(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return typeof reason === 'string' ? reason : 'stop';
}

/** The typed client, connecting in the background (tRPC queues requests until the socket opens). */
/** A client of whatever catalogue the server was started with: the server checks the types it does not share. */
export type CliClient = SwitchboardClient<AppRouterFor<AnyCatalogue>>;

export function connect(values: ConnectionValues, io: Io): CliClient {
  const token = tokenOf(values, io);
  return createSwitchboardClient<AppRouterFor<AnyCatalogue>>({
    url: serverUrl(values, io),
    WebSocket,
    ...(token !== undefined && { token }),
  });
}

/**
 * `--events FILE` (or `SWITCHBOARD_EVENTS`, as for the server): the catalogue module the server loads. The
 * server lists its template summaries; a summary that is a function runs only where the module is loaded. A
 * module that cannot be loaded is a usage error, before anything connects.
 */
export async function localCatalogue(
  values: { events?: string | undefined },
  io: Io,
): Promise<AnyCatalogue | undefined> {
  const path = values.events ?? io.env.SWITCHBOARD_EVENTS;
  if (path === undefined) return undefined;
  return loadCatalogue(path).catch((error: unknown) => {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  });
}

/** The summaries of the server's own event families, to format their events: the local module's first. */
export async function customSummaries(
  client: CliClient,
  local: AnyCatalogue | undefined,
): Promise<(event: AnyEnvelope) => string | undefined> {
  const listed = await client.catalogue.query().then(summariesFrom, (error: unknown) => {
    if (local) return () => undefined; // a server too old to list its catalogue: the module says it all
    throw error;
  });
  return local ? (event) => local.summaryOf(event) ?? listed(event) : listed;
}

/** Resolves when the client's socket is open; rejects after `timeoutMs`, or when `signal` fires. */
export function opened(
  client: Pick<CliClient, 'connection'>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { url } = client.connection;
  return new Promise((resolve, reject) => {
    let reason: string | undefined;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // Deferred: the state subscription calls back synchronously, before `stop` below is assigned.
      queueMicrotask(() => {
        stop();
      });
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => {
      finish(new StoppedError(`stopped by ${signalName(signal)} while waiting for ${url}`, signalName(signal)));
    };
    const timer = setTimeout(() => {
      const why = reason ?? `no answer from ${url}`;
      finish(new UnreachableError(`${why}; gave up after ${timeoutMs / 1000} s (--connect-timeout)`));
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort);
    const stop = client.connection.subscribe((state) => {
      if (state.state === 'open') finish();
      else if (state.reason !== undefined) reason = state.reason;
    });
    if (signal?.aborted) onAbort();
  });
}

/** A connected client, or an `UnreachableError` after `--connect-timeout`. */
export async function connectWithin(values: ConnectionValues, io: Io): Promise<CliClient> {
  const timeoutMs = connectTimeoutMs(values);
  const client = connect(values, io);
  try {
    await opened(client, timeoutMs, io.signal);
    return client;
  } catch (error) {
    await client.close();
    throw error;
  }
}

/**
 * One request on a connected client, ended by the run's signal; a request the socket failed under (it closed
 * before the answer) is reported with the connection's reason rather than tRPC's "Unknown error".
 */
export async function request<T>(
  client: CliClient,
  io: Io,
  call: (signal: AbortSignal | undefined) => Promise<T>,
  whenStopped: string,
): Promise<T> {
  try {
    return await call(io.signal);
  } catch (error) {
    if (io.signal?.aborted)
      throw new StoppedError(`stopped by ${signalName(io.signal)} ${whenStopped}`, signalName(io.signal));
    if (error instanceof TRPCClientError && error.data === undefined)
      throw new UnreachableError(describeConnectionError(error, client.connection.url), { cause: error });
    throw error;
  }
}

/** The server's health endpoint: plain HTTP, open to all, beside /trpc. */
export function healthUrl(values: ConnectionValues, io: Io): URL {
  return new URL('/healthz', serverUrl(values, io).replace(/^ws/, 'http'));
}

/**
 * `GET /healthz`, within `timeoutMs` and ended by the run's signal. With `token`, a server that has tokens
 * answers the whole body; without, only its status.
 */
export async function fetchHealth(
  url: URL,
  timeoutMs: number,
  io: Io,
  token: string | undefined,
): Promise<HealthAnswer> {
  const timeout = new AbortController();
  const timer = setTimeout(() => {
    timeout.abort();
  }, timeoutMs);
  const signal = io.signal ? AbortSignal.any([io.signal, timeout.signal]) : timeout.signal;
  let body: unknown;
  try {
    const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` };
    const res = await fetch(url, { signal, headers });
    body = await res.json();
  } catch (error) {
    if (io.signal?.aborted)
      throw new StoppedError(
        `stopped by ${signalName(io.signal)} while waiting for ${url.origin}`,
        signalName(io.signal),
      );
    if (timeout.signal.aborted)
      throw new UnreachableError(`no answer from ${url.origin} within ${timeoutMs / 1000} s (--connect-timeout)`);
    throw new UnreachableError(describeConnectionError(error, url.origin), { cause: error });
  } finally {
    clearTimeout(timer);
  }
  const health = healthAnswerSchema.safeParse(body);
  if (!health.success)
    throw new UnreachableError(
      `${url.href} did not answer as a Switchboard server: ${describeIssues(health.error.issues)}`,
    );
  return health.data;
}

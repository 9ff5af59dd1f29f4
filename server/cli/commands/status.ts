/**
 * `switchboard status`: the server's `/healthz`, in one line.
 */
import { describeConnectionError } from '../../../client/connection-error.js';
import { parse } from '../args.js';
import { connectTimeoutMs, serverUrl, signalName } from '../connect.js';
import { StoppedError, UnreachableError } from '../errors.js';
import { exitCodes, type Io } from '../io.js';

interface Health {
  status: string;
  uptime: number;
  connections: number;
  subscriptions: number;
  headEventId: string;
}

async function fetchHealth(url: URL, timeoutMs: number, io: Io): Promise<Health> {
  const timeout = new AbortController();
  const timer = setTimeout(() => {
    timeout.abort();
  }, timeoutMs);
  const signal = io.signal ? AbortSignal.any([io.signal, timeout.signal]) : timeout.signal;
  try {
    const res = await fetch(url, { signal });
    return (await res.json()) as Health;
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
}

export async function status(args: readonly string[], io: Io): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const url = new URL('/healthz', serverUrl(values, io).replace(/^ws/, 'http'));
  const body = await fetchHealth(url, connectTimeoutMs(values), io);
  io.say(
    values.json
      ? JSON.stringify(body)
      : `${body.status} · ${url.origin} · head #${body.headEventId} · ${body.connections} connections · ${body.subscriptions} subscriptions · up ${body.uptime}s`,
  );
  return body.status === 'ok' ? exitCodes.ok : exitCodes.failed;
}

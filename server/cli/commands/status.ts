/**
 * `switchboard status`: the server's `/healthz`, in one line.
 */
import { parse } from '../args.js';
import { serverUrl } from '../connect.js';
import { exitCodes, type Io } from '../io.js';

export async function status(args: readonly string[], io: Io): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const url = new URL('/healthz', serverUrl(values, io).replace(/^ws/, 'http'));
  let body: { status: string; uptime: number; connections: number; subscriptions: number; headEventId: string };
  try {
    const res = await fetch(url);
    body = (await res.json()) as typeof body;
  } catch (error) {
    io.complain(
      `cannot reach ${url.origin}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
    );
    return exitCodes.failed;
  }
  io.say(
    values.json
      ? JSON.stringify(body)
      : `${body.status} · ${url.origin} · head #${body.headEventId} · ${body.connections} connections · ${body.subscriptions} subscriptions · up ${body.uptime}s`,
  );
  return body.status === 'ok' ? exitCodes.ok : exitCodes.failed;
}

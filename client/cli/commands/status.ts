/**
 * `switchboard status`: the server's `/healthz`, in one line. The epoch is the one every cursor of this log ends
 * with (a server from before it was in `/healthz` has none to show).
 */
import { parse } from '../args.js';
import { connectTimeoutMs, fetchHealth, healthUrl, tokenOf } from '../connect.js';
import { exitCodes, type Io } from '../io.js';

export async function status(args: readonly string[], io: Io): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const url = healthUrl(values, io);
  const body = await fetchHealth(url, connectTimeoutMs(values), io, tokenOf(values, io));
  io.say(
    values.json
      ? JSON.stringify(body)
      : 'headEventId' in body
        ? `${body.status} · ${url.origin} · head #${body.headEventId}${body.epoch === undefined ? '' : ` · epoch ${body.epoch}`} · ${body.connections} connections · ${body.subscriptions} subscriptions · up ${body.uptime}s`
        : `${body.status} · ${url.origin} · the server has tokens: pass --token or set SWITCHBOARD_TOKEN for the details`,
  );
  return body.status === 'ok' ? exitCodes.ok : exitCodes.failed;
}

/**
 * The PostgreSQL-only transport: LISTEN/NOTIFY as a doorbell. A node that commits sends `NOTIFY` with its newest
 * id; every node listening learns that events up to it are committed and the sequencer reads them from the
 * store. A notification sent while a listener is disconnected is lost; the sequencer's head check catches that,
 * and a check runs as soon as the listener is back.
 */
import pg from 'pg';
import { redactUrl } from '../ops/redact.js';
import { BusOpenError } from './errors.js';
import type { BusMessage, BusTransport, TransportState } from '../core/bus.js';
import { decodeHead, type OnMalformed } from './wire.js';

export interface NotifyTransportOptions {
  url: string;
  /** Channel name: nodes of one cluster share it; tests give each their own. */
  channel?: string | undefined;
  /** `application_name` of its connections (pg_stat_activity). */
  applicationName?: string | undefined;
  /** Told of each notification on the channel that is not what a node sends; it is dropped. */
  onMalformed?: OnMalformed | undefined;
}

const maxBackoffMs = 1_000;

export function createNotifyTransport({
  url,
  channel = 'switchboard_events',
  applicationName = 'switchboard',
  onMalformed,
}: NotifyTransportOptions): BusTransport {
  // Two connections: NOTIFY goes out on a small pool; LISTEN holds one connection of its own.
  const senders = new pg.Pool({
    connectionString: url,
    max: 2,
    connectionTimeoutMillis: 2_000,
    application_name: applicationName,
  });
  // A dead connection, idle or checked out, fails its next query; that is all (see postgres-open.ts).
  senders.on('error', () => undefined);
  senders.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  let listener: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  async function listen(onMessage: (message: BusMessage) => void, onState: (state: TransportState) => void) {
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: 2_000,
      application_name: applicationName,
    });
    const lost = () => {
      if (closed || listener !== client) return;
      listener = undefined;
      onState('down');
      client.end().catch(() => undefined);
      reconnect(onMessage, onState, 0);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      const decoded = decodeHead(n.payload);
      if (decoded.ok) onMessage(decoded.message);
      else onMalformed?.(decoded.problem);
    });
    listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (error) {
      listener = undefined;
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
    onState('up');
  }

  function reconnect(onMessage: (m: BusMessage) => void, onState: (s: TransportState) => void, attempt: number) {
    if (closed) return;
    retry = setTimeout(
      () => {
        listen(onMessage, onState).catch(() => {
          reconnect(onMessage, onState, attempt + 1);
        });
      },
      Math.min(50 * 2 ** attempt, maxBackoffMs),
    );
    retry.unref();
  }

  return {
    name: 'notify',
    publish(events) {
      const last = events.at(-1);
      if (!last) return;
      // A lost doorbell is the head check's to catch; it must not fail the append that preceded it.
      senders.query('SELECT pg_notify($1, $2)', [channel, last.id]).catch(() => undefined);
    },
    async start(onMessage, onState) {
      try {
        await listen(onMessage, onState);
      } catch (error) {
        await senders.end();
        throw new BusOpenError(
          `cannot LISTEN on PostgreSQL at ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await listener?.end().catch(() => undefined);
      await senders.end();
    },
  };
}

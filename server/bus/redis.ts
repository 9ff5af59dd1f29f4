/**
 * The Redis transport: each node publishes its commits' events on one pub/sub channel and subscribes to it.
 * Pub/sub is at most once (a message sent while a subscriber is disconnected is gone), which is fine: the
 * sequencer above reads anything missing from the store. node-redis reconnects on its own and subscribes
 * again; this file only reports up/down and never lets a Redis error reach a publisher.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createClient } from 'redis';
import { BusOpenError } from './errors.js';
import { redactUrl } from '../ops/redact.js';
import type { EventEnvelope } from '@switchboard/shared';
import type { BusMessage, BusTransport, TransportState } from '../core/bus.js';
import { decodeEvents, encodeMessages, type OnMalformed } from './wire.js';

export interface RedisTransportOptions {
  url: string;
  /** Channel prefix: nodes of one cluster share it; tests give each their own. */
  prefix?: string | undefined;
  /** Client name every connection of this node carries (`CLIENT LIST`), for operators and tests. */
  clientName?: string | undefined;
  /** Told of each message on the channel that is not what a node sends; it is dropped. */
  onMalformed?: OnMalformed | undefined;
  /**
   * The cluster's key (SWITCHBOARD_BUS_SECRET): every message is signed with it (HMAC-SHA256, `signed` below) and
   * one not signed with it is dropped as malformed. Without it, any well-formed message is taken.
   */
  secret?: string | undefined;
  /**
   * What a signature covers besides the message and the channel: the log's epoch. A signed message from another
   * log (another cluster with the same key, or this one's from before a restore and `switchboard new-epoch`)
   * does not check here.
   */
  scope?: string | undefined;
}

/** Hex digits of an HMAC-SHA256, which a signed message starts with. */
const macChars = 64;

/**
 * Signs and checks the channel's messages: a signed message is the HMAC-SHA256, under the key, of the channel,
 * the scope (the log's epoch) and its text, in hex, then the text. Only a node holding the key, on this channel
 * and this log, makes one that `open` takes.
 */
function signer(secret: string, channel: string, scope: string) {
  const covered = `${channel}\n${scope}\n`;
  const mac = (text: string) => createHmac('sha256', secret).update(covered).update(text).digest();
  return {
    sign: (text: string) => mac(text).toString('hex') + text,
    /** The text of a message signed with the key, or undefined. */
    open: (message: string): string | undefined => {
      if (message.length <= macChars) return undefined;
      const given = Buffer.from(message.slice(0, macChars), 'hex');
      const text = message.slice(macChars);
      // A hex digest of the wrong length (not hex at all) decodes shorter: timingSafeEqual needs equal lengths.
      return given.length === macChars / 2 && timingSafeEqual(given, mac(text)) ? text : undefined;
    },
  };
}

/**
 * This node's messages kept until the channel brings them back, at most this much text (the oldest go first:
 * one lost while the subscriber was away is never coming back).
 */
const ownInFlightChars = 8 * 1024 * 1024;

/** Back off up to a second between reconnect attempts: a restarted Redis is found again quickly. */
const backoff = (retries: number) => Math.min(50 * 2 ** retries, 1_000);

export function createRedisTransport({
  url,
  prefix = 'switchboard',
  clientName,
  onMalformed,
  secret,
  scope,
}: RedisTransportOptions): BusTransport {
  const channel = `${prefix}:events`;
  let signed: ReturnType<typeof signer> | undefined;
  if (secret !== undefined) {
    if (!scope) throw new Error("a signed Redis bus needs the scope its signatures cover (the log's epoch)");
    signed = signer(secret, channel, scope);
  }
  let connected = false;
  const options = {
    url,
    ...(clientName !== undefined && { name: clientName }),
    // A command while disconnected fails at once instead of queueing: the store has the events anyway.
    disableOfflineQueue: true,
    // Unreachable at start is a configuration problem, reported at once; once running, retry for ever.
    socket: {
      reconnectStrategy: (retries: number, cause: Error) => (connected ? backoff(retries) : cause),
      connectTimeout: 2_000,
    },
  };
  const publisher = createClient(options);
  const subscriber = createClient(options);
  let closed = false;
  /**
   * This node's own messages on their way through the channel, by their text. Redis sends every subscriber,
   * this node included, the very text published; when it comes back it holds nothing new (the sequencer took
   * this node's events when they were published), so it is dropped unparsed, as the transport contract allows.
   */
  const own = new Set<string>();
  let ownChars = 0;
  const forget = (text: string) => {
    if (own.delete(text)) ownChars -= text.length;
  };

  /**
   * Commits published in this turn of the event loop, sent at its end: their encoding would otherwise come
   * before the answers to the commits' writers, which the hub makes right after publishing. The sequencer has
   * delivered them to this node's own subscribers already; the other nodes get them a turn later.
   */
  let unsent: (readonly EventEnvelope[])[] = [];
  const sendUnsent = () => {
    const commits = unsent;
    unsent = [];
    for (const events of commits) send(events);
  };
  const send = (events: readonly EventEnvelope[]) => {
    if (!publisher.isReady) return;
    for (const message of encodeMessages(events)) {
      const text = signed ? signed.sign(message) : message;
      for (const oldest of own.keys()) {
        if (ownChars + text.length <= ownInFlightChars) break;
        forget(oldest);
      }
      if (!own.has(text)) {
        own.add(text);
        ownChars += text.length;
      }
      // A lost publish is the head check's to catch; an error here must not fail the append that preceded it.
      publisher.publish(channel, text).catch(() => {
        forget(text);
      });
    }
  };

  return {
    name: 'redis',
    publish(events) {
      if (unsent.length === 0) setImmediate(sendUnsent);
      unsent.push(events);
    },
    async start(onMessage: (message: BusMessage) => void, onState: (state: TransportState) => void) {
      const ready = () => {
        if (publisher.isReady && subscriber.isReady) onState('up');
      };
      for (const client of [publisher, subscriber]) {
        // Errors are reported as state; node-redis keeps reconnecting by itself.
        client.on('error', () => {
          if (!closed) onState('down');
        });
        client.on('ready', ready);
        client.on('end', () => {
          if (!closed) onState('down');
        });
      }
      try {
        await Promise.all([publisher.connect(), subscriber.connect()]);
      } catch (error) {
        closed = true;
        publisher.destroy();
        subscriber.destroy();
        throw new BusOpenError(`cannot connect to Redis at ${redactUrl(url)}: ${(error as Error).message}`);
      }
      connected = true;
      await subscriber.subscribe(channel, (text) => {
        // Nothing may throw here: node-redis would reset its reader, and the subscription would never be ready again.
        if (own.has(text)) {
          forget(text);
          return;
        }
        const body = signed ? signed.open(text) : text;
        if (body === undefined) {
          onMalformed?.("not signed with this cluster's SWITCHBOARD_BUS_SECRET");
          return;
        }
        const decoded = decodeEvents(body);
        if (decoded.ok) onMessage(decoded.message);
        else onMalformed?.(decoded.problem);
      });
      ready();
    },
    async close() {
      sendUnsent();
      closed = true;
      await Promise.allSettled([publisher.close(), subscriber.close()]);
    },
  };
}

/**
 * The orchestrator's sink. `publish()` never throws and never waits on the network: events go into a bounded
 * outbox and a single sender drains it in order, in batches, retrying with backoff while the server is away.
 * Each event gets an idempotency key when it is accepted, so a retry after an ambiguous failure (sent, then the
 * connection died before the answer) returns the stored event instead of storing it twice. Each is written as JSON
 * once, when it is accepted: that text is measured for the batch limit and, over WebSocket, sent as it is
 * (`JsonTexts`, client/frame-encoder.ts), which took the client about a quarter of its CPU per event
 * (docs/performance-history.md, "The stop of the thirtieth run"). One whose JSON would not say it whole is kept as
 * a shallow copy and encoded when it is sent.
 */
import { TRPCClientError } from '@trpc/client';
import type { z } from 'zod';
import {
  describeIssues,
  fastSafeParse,
  isPlainJson,
  JsonTexts,
  limits,
  publishInputSchema,
  utf8Bytes,
  type BuiltinDataSchemas,
  type Catalogue,
  type DataSchemas,
  type PublishInput,
  type PublishInputOf,
} from '@switchboard/shared';
import {
  backoff,
  createSwitchboardClient,
  type AppRouter,
  type RetryOptions,
  type SwitchboardClient,
  type SwitchboardClientOptions,
  writesJsonTexts,
} from './client.js';
import { describeConnectionError } from './connection-error.js';

/**
 * The prefix of the keys a new Publisher gives (`<prefix>:0`, `<prefix>:1`, …): `pub-` and 96 random bits as 16
 * characters of base64url, unique to the Publisher whatever else its token's owner publishes. Short, because every
 * key goes into the store's unique index: the raw loop with these stored a median 5 % more events a second than with
 * a UUID's 36 characters in their place (docs/performance-history.md, "The stop of the thirtieth run").
 */
export function newKeyPrefix(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(12));
  return `pub-${btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')}`;
}

/** `outboxLimit` when none is given. */
const defaultOutboxLimit = 1_000;
/** `inFlight` when none is given: the server stores one batch while the next is encoded and sent. */
const defaultInFlight = 2;
/** `maxBatchBytes` when none is given: half the server's default `--max-message-bytes` (1 MiB), well below it. */
const defaultMaxBatchBytes = 512 * 1024;

/** `E` is what `publish` takes: the built-in events, or a catalogue's (`createPublisher({ catalogue })`). */
export interface PublisherOptions<E = PublishInput> extends SwitchboardClientOptions {
  /** Events waiting to be sent, at most. A full outbox drops the newest event, counts it and reports it. */
  outboxLimit?: number;
  /** Events per `ingest` call (`publishBatch` answering ids only), at most. */
  batchSize?: number;
  /**
   * Batches sent before the first of them is answered, at most; each is stored only after the one ahead of it,
   * so order holds whatever fails. 1: each batch waits for the answer to the one before.
   */
  inFlight?: number;
  /**
   * Bytes of JSON per `ingest` call, at most (one larger event still goes, alone). Keep it below the
   * server's `--max-message-bytes` (1 MiB by default): a bigger frame is refused by closing the connection.
   */
  maxBatchBytes?: number;
  /**
   * Backoff between failed sends: doubling from `initialMs` to `maxMs`, with jitter; after a refusal past the
   * publish rate, at least the wait the server states (`data.retryAfterMs`).
   */
  retry?: RetryOptions;
  /** A send that has not been answered within this is abandoned and retried (same keys, so no duplicate). */
  requestTimeoutMs?: number;
  /** Called for every event that will never be sent, with why. */
  onDrop?: (event: E, reason: DropReason) => void;
  /** Called when a send fails and will be retried (the server is down or unreachable). */
  onRetry?: (error: Error, attempt: number) => void;
  /**
   * Say goodbye on `close()`: publish `agent.status` offline (with this reason, or "publisher closed" for
   * `true`) for every agent this Publisher published a status for and did not already turn offline, before
   * draining. Off by default: a Publisher often reports for agents that outlive it (a hook, a script), which
   * must not go offline when it ends. Without a goodbye an agent goes offline after the hub's presence TTL.
   */
  goodbye?: boolean | string;
}

export type DropReason = 'outbox_full' | 'invalid' | 'rejected_by_server' | 'closed';

export type PublishResult = { accepted: true; key: string } | { accepted: false; reason: DropReason; message: string };

export interface PublisherStats {
  /** Accepted, not yet acknowledged by the server. */
  queued: number;
  /** Acknowledged by the server (stored, or found stored under its key). */
  sent: number;
  /** Events re-sent after a failed or unanswered attempt. */
  retried: number;
  /** Refused by a full outbox or after close. */
  dropped: number;
  /** Invalid: refused by local validation or by the server; retrying cannot help. */
  rejected: number;
}

export interface Publisher<E = PublishInput> extends AsyncDisposable {
  publish(event: E): PublishResult;
  /** Resolves when every accepted event is acknowledged; rejects after `timeoutMs` saying how many are left. */
  flush(timeoutMs?: number): Promise<void>;
  /**
   * Stops accepting (after queueing the goodbye, with the `goodbye` option), tries to drain within `timeoutMs`,
   * closes the connection; says how many were left unsent.
   */
  close(timeoutMs?: number): Promise<{ unsent: number }>;
  stats(): PublisherStats;
}

/** tRPC's name for the error the server answered, if it answered one. */
const codeOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error as TRPCClientError<AppRouter>).data?.code : undefined;

/** The longest wait the Publisher takes from a server: a stated wait beyond it is taken as this. */
const maxStatedWaitMs = 3_600_000;

/** How long the server asked to wait before the next try (past the publish rate, `ErrorShape`), if it asked: ms. */
const retryAfterOf = (error: unknown) => {
  const ms = error instanceof TRPCClientError ? (error as TRPCClientError<AppRouter>).data?.retryAfterMs : undefined;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.min(ms, maxStatedWaitMs) : 0;
};

/**
 * The server refused these events as they are: invalid (BAD_REQUEST), not in the transformer's format as sent
 * (PARSE_ERROR: events of one batch sharing one object that is not plain JSON go through superjson with shared
 * references, which the server does not take), or not this token's to publish (FORBIDDEN: its role, or a topic
 * outside its publish scopes). Sending them again as they are cannot help; one at a time, most go.
 */
const isRefused = (error: unknown) => {
  const code = codeOf(error);
  return code === 'BAD_REQUEST' || code === 'PARSE_ERROR' || code === 'FORBIDDEN';
};

type SendOutcome = { ok: true } | { ok: false; error: unknown; timedOut: boolean };

/**
 * An accepted event, with its key: as the JSON text it goes as with that key, written once when it was taken, or,
 * for an event that text would not say whole, as a shallow copy taken then, encoded when it is sent.
 */
type Queued = { key: string; bytes: number } & (
  | { text: string; /** A `Date` timestamp, which the text holds as its ISO string. */ timestamp: Date | undefined }
  /** The event with its key: a shallow copy, as taken. */
  | { event: PublishInput }
);

/** A queued event as an event, with its key: one queued as text is read back from it (its `Date` a `Date` again). */
function eventOf(queued: Queued): PublishInput {
  if (!('text' in queued)) return queued.event;
  const event = JSON.parse(queued.text) as PublishInput;
  return queued.timestamp === undefined ? event : { ...event, timestamp: queued.timestamp };
}

/**
 * The event's JSON text with `key`, or undefined unless that text says all the server would read from the event:
 * plain JSON `data` (`isPlainJson`), and a timestamp that is a string or a `Date` of the years 0–9999, written as
 * `toISOString()` writes it (what the transformer sends, and the form the server's schema takes; not whatever a
 * `toJSON` of the application's would write).
 */
function jsonTextOf(event: PublishInput, key: string): string | undefined {
  if (Object.getPrototypeOf(event) !== Object.prototype || 'toJSON' in event || !isPlainJson(event.data))
    return undefined;
  const { timestamp } = event as { timestamp?: unknown };
  let json: string;
  if (timestamp instanceof Date) {
    const iso = Number.isNaN(timestamp.getTime()) ? '' : timestamp.toISOString();
    // An extended year (+010000, -000001) is a `Date` the server's schema takes only as one.
    if (iso === '' || iso.startsWith('+') || iso.startsWith('-')) return undefined;
    json = JSON.stringify({ ...event, timestamp: iso });
  } else if (timestamp === undefined || typeof timestamp === 'string') {
    json = JSON.stringify(event);
  } else {
    return undefined;
  }
  if (!json.startsWith('{') || !json.endsWith('}') || json === '{}') return undefined;
  // A key of its own is in the text already; otherwise it goes last, after the fields the text holds.
  return event.key === undefined ? `${json.slice(0, -1)},"key":${JSON.stringify(key)}}` : json;
}

/** Resolves after the timers due now, once what the client queued this turn has gone out. */
const nextTurn = () =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, 0);
  });

/** Waits `ms`, or less if `signal` aborts first. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/**
 * A Publisher for the built-in events, or with `catalogue` for a catalogue's: `publish` then takes its events,
 * narrowed by `type`, and validates them against its schemas before they are queued.
 */
export function createPublisher<M extends DataSchemas = BuiltinDataSchemas>(
  options: PublisherOptions<PublishInputOf<M>> & { client?: SwitchboardClient; catalogue?: Catalogue<M> },
): Publisher<PublishInputOf<M>> {
  // The outbox and the sender handle any catalogue's events alike: they read only the envelope fields, and the
  // server validates `data` again. Typed as the built-in events inside, as the catalogue's at the surface.
  const schema: z.ZodType = options.catalogue?.publishInputSchema ?? publishInputSchema;
  return openPublisher(
    options as unknown as PublisherOptions & { client?: SwitchboardClient },
    schema,
  ) as unknown as Publisher<PublishInputOf<M>>;
}

function openPublisher(options: PublisherOptions & { client?: SwitchboardClient }, schema: z.ZodType): Publisher {
  const outboxLimit = options.outboxLimit ?? defaultOutboxLimit;
  const batchSize = Math.min(options.batchSize ?? limits.batchSize, limits.batchSize);
  const maxBatchBytes = options.maxBatchBytes ?? defaultMaxBatchBytes;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const check = fastSafeParse(schema);
  const inFlight = Math.max(1, Math.floor(options.inFlight ?? defaultInFlight));
  // From 100 ms rather than the client's 1 s; the longest delay is backoff's own.
  const retryDelay = backoff({ ...options.retry, initialMs: options.retry?.initialMs ?? 100 });
  const client = options.client ?? createSwitchboardClient(options);
  const ownsClient = options.client === undefined;

  const keyPrefix = newKeyPrefix();
  let nextKey = 0;
  const outbox: Queued[] = [];
  const take = (count: number) => outbox.splice(0, count);
  /** The client sends a `JsonTexts` as its texts (client/frame-encoder.ts): the WebSocket transport's does. */
  const sendsTexts = (client as unknown as Record<symbol, unknown>)[writesJsonTexts] === true;
  /**
   * How many events the batch starting at `from` holds: up to `batchSize`, and up to `maxBatchBytes` unless it
   * is one event.
   */
  const nextBatch = (from: number, singles: boolean) => {
    if (singles) return Math.min(1, outbox.length - from);
    let count = 0;
    let bytes = 0;
    for (let i = from; i < outbox.length; i++) {
      const size = outbox[i]?.bytes ?? 0;
      if (count === batchSize || (count > 0 && bytes + size > maxBatchBytes)) break;
      bytes += size;
      count++;
    }
    return count;
  };
  /** A key this Publisher gave: unique to it, so stored only if the event it was given to is. */
  const ownKey = (key: string | undefined): key is string => key?.startsWith(`${keyPrefix}:`) === true;
  const stats = { sent: 0, retried: 0, dropped: 0, rejected: 0 };
  /** Each agent this Publisher gave a status, with its type and whether that status was offline. */
  const agents = new Map<string, { agentType: string; offline: boolean }>();
  let accepting = true;
  let sending = false;
  /** Aborted when close gives up: the sender stops at once. */
  const stop = new AbortController();
  // A function, not a property read, because it changes while the sender awaits.
  const stopped = () => stop.signal.aborted;
  /** Aborted and replaced to wake a sender that is waiting out a backoff (close wants it to try now). */
  let wake = new AbortController();
  let idleWaiters: (() => void)[] = [];

  /** Why a send failed, as the Error given to `onRetry`: the connection's own words when it is not open. */
  const sendFailure = (error: unknown, timedOut: boolean): Error => {
    const { state, reason } = client.connection.current;
    const { url } = client.connection;
    if (state !== 'open') return new Error(reason ?? `waiting for ${url}`, { cause: error });
    if (timedOut) return new Error(`no answer from ${url} within ${requestTimeoutMs} ms (requestTimeoutMs)`);
    // A TRPCClientError without data never reached the server's procedure: the socket failed under it.
    if (error instanceof TRPCClientError && error.data === undefined)
      return new Error(describeConnectionError(error, url), { cause: error });
    return error instanceof Error ? error : new Error(String(error));
  };

  const drop = (event: PublishInput, reason: DropReason, message: string): PublishResult => {
    if (reason === 'invalid' || reason === 'rejected_by_server') stats.rejected++;
    else stats.dropped++;
    options.onDrop?.(event, reason);
    return { accepted: false, reason, message };
  };

  /** Called by `enqueue` while the sender waits for an answer with room for another batch. */
  let onQueued: (() => void) | undefined;
  /** Which comes first: `outcome`, or an event queued. */
  async function answeredOrQueued(outcome: Promise<SendOutcome>): Promise<'answered' | 'queued'> {
    try {
      return await Promise.race([
        outcome.then(() => 'answered' as const),
        new Promise<'queued'>((resolve) => {
          onQueued = () => {
            resolve('queued');
          };
        }),
      ]);
    } finally {
      onQueued = undefined;
    }
  }

  /**
   * The events of a batch as the call takes them: their texts as written when they were taken, when the client
   * sends those and every event has one; otherwise each event with its key.
   */
  function eventsOf(batch: readonly Queued[]): PublishInput[] {
    const texts: string[] = [];
    for (const queued of batch) {
      if (!sendsTexts || !('text' in queued)) return batch.map(eventOf);
      texts.push(queued.text);
    }
    // Typed as the events it stands for: the frame encoder writes it as them.
    return new JsonTexts(texts) as unknown as PublishInput[];
  }

  /** One batch sent, answered with how it went; never rejects. */
  async function sendBatch(batch: readonly Queued[], after: string | undefined): Promise<SendOutcome> {
    // A timer of our own rather than AbortSignal.timeout(): a timeout signal that only a combined signal refers
    // to may be collected before it fires, and then a send to a server that never answers waits forever.
    const timeout = new AbortController();
    const timer = setTimeout(() => {
      timeout.abort();
    }, requestTimeoutMs);
    try {
      const signal = AbortSignal.any([stop.signal, timeout.signal]);
      const events = eventsOf(batch);
      await client.ingest.mutate(after === undefined ? { events } : { events, after }, { signal });
      return { ok: true };
    } catch (error) {
      return { ok: false, error, timedOut: timeout.signal.aborted };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Drains the outbox in order. Up to `inFlight` batches are sent before the first is answered, each after the
   * last key of the one ahead of it (`ingest`'s `after`): the server stores a batch only once the one ahead of
   * it is stored, so a failure anywhere stores nothing behind it. Events queued while a batch is out go at once
   * if there is room for another. After a failure, whatever was in flight is waited for and everything
   * unacknowledged goes again from the front, under the same keys.
   */
  async function send(): Promise<void> {
    if (sending) return;
    sending = true;
    let attempt = 0;
    // After the server refuses a batch, its events go one at a time (and one in flight) to find the bad ones.
    let singles = 0;
    // After a refusal past the publish rate, one batch in flight until one is stored: a batch sent behind the
    // refused one would be refused out of order after spending the rate the refused one waits for.
    let limited = false;
    /** Sent and not yet answered, oldest first: how many events from the outbox's front each holds. */
    const sent: { count: number; outcome: Promise<SendOutcome> }[] = [];
    try {
      while (!stopped()) {
        const from = sent.reduce((n, s) => n + s.count, 0);
        const room = singles > 0 || limited ? 1 : inFlight;
        const after = sent.length > 0 ? outbox[from - 1]?.key : undefined;
        // Behind a key this Publisher did not give (the caller's own), order cannot be asked for: it waits.
        if (sent.length < room && from < outbox.length && (sent.length === 0 || ownKey(after))) {
          const count = nextBatch(from, singles > 0);
          sent.push({ count, outcome: sendBatch(outbox.slice(from, from + count), after) });
          // The next one in a frame of its own: the server then answers this one while the next is on its way,
          // rather than both at once.
          if (sent.length < room && from + count < outbox.length) {
            await nextTurn();
            continue;
          }
        }
        const oldest = sent[0];
        if (oldest === undefined) break;
        // With room for another batch, events queued while this one is out go before it is answered.
        if (sent.length < room && (await answeredOrQueued(oldest.outcome)) === 'queued') continue;
        sent.shift();
        const outcome = await oldest.outcome;
        if (stopped()) break;
        if (outcome.ok) {
          take(oldest.count);
          stats.sent += oldest.count;
          attempt = 0;
          limited = false;
          if (singles > 0) singles--;
          continue;
        }
        // The batches behind it were refused (out of order) or stored after all (it was stored, unanswered):
        // either way they go again, after it.
        await Promise.all(sent.splice(0).map((s) => s.outcome));
        if (stopped()) break;
        // Taken by the server before the batch ahead of it (which was then answered): nothing ahead of it is out
        // now, so it goes again at once, without `after`.
        if (codeOf(outcome.error) === 'PRECONDITION_FAILED') continue;
        if (isRefused(outcome.error)) {
          if (oldest.count > 1) {
            singles = oldest.count;
          } else {
            const [bad] = take(1);
            if (bad) drop(eventOf(bad), 'rejected_by_server', (outcome.error as Error).message);
            if (singles > 0) singles--;
          }
          continue;
        }
        if (codeOf(outcome.error) === 'TOO_MANY_REQUESTS') limited = true;
        attempt++;
        stats.retried += oldest.count;
        options.onRetry?.(sendFailure(outcome.error, outcome.timedOut), attempt);
        // The backoff, and at least what the server asked (a publish past the rate says when it would be taken).
        const delay = Math.max(retryDelay(attempt), retryAfterOf(outcome.error));
        await pause(delay, AbortSignal.any([stop.signal, wake.signal]));
      }
    } finally {
      sending = false;
      if (outbox.length === 0 || stop.signal.aborted) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    }
  }

  function whenIdle(timeoutMs: number | undefined): Promise<void> {
    if (outbox.length === 0 && !sending) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              idleWaiters = idleWaiters.filter((w) => w !== settle);
              reject(new Error(`flush timed out after ${timeoutMs} ms with ${outbox.length} events still queued`));
            }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        resolve();
      };
      idleWaiters.push(settle);
    });
  }

  function enqueue(event: PublishInput): string {
    const key = event.key ?? `${keyPrefix}:${nextKey++}`;
    const text = jsonTextOf(event, key);
    if (text === undefined) {
      const queued = { ...event, key };
      outbox.push({ event: queued, key, bytes: utf8Bytes(JSON.stringify(queued)) });
    } else {
      const { timestamp } = event as { timestamp?: unknown };
      outbox.push({ text, key, bytes: utf8Bytes(text), timestamp: timestamp instanceof Date ? timestamp : undefined });
    }
    onQueued?.();
    void send();
    return key;
  }

  /** The goodbye: queued past the outbox limit, since it is the last thing this Publisher sends. */
  function sayGoodbye(): void {
    if (options.goodbye === undefined || options.goodbye === false) return;
    const reason = options.goodbye === true ? 'publisher closed' : options.goodbye;
    for (const [agentId, { agentType, offline }] of agents) {
      if (!offline) enqueue({ type: 'agent.status', data: { agentId, agentType, status: 'offline', reason } });
    }
    agents.clear();
  }

  const publisher: Publisher = {
    publish(event) {
      if (!accepting) return drop(event, 'closed', 'the publisher is closed');
      const valid = check(event);
      if (!valid.success) {
        return drop(event, 'invalid', describeIssues(valid.error.issues));
      }
      if (outbox.length >= outboxLimit) {
        return drop(event, 'outbox_full', `the outbox holds ${outboxLimit} events (outboxLimit); this one was dropped`);
      }
      if (event.type === 'agent.status') {
        const { agentId, agentType, status } = event.data;
        agents.set(agentId, { agentType, offline: status === 'offline' });
      }
      return { accepted: true, key: enqueue(event) };
    },
    flush: (timeoutMs) => whenIdle(timeoutMs),
    async close(timeoutMs = 5_000) {
      if (accepting) sayGoodbye();
      accepting = false;
      wake.abort();
      wake = new AbortController();
      try {
        await whenIdle(timeoutMs);
      } catch {
        // Timed out: what is left is reported as unsent below, which is this method's answer.
      }
      stop.abort();
      const unsent = outbox.length;
      if (ownsClient) await client.close();
      return { unsent };
    },
    stats: () => ({ queued: outbox.length, ...stats }),
    [Symbol.asyncDispose]: async () => {
      await publisher.close();
    },
  };
  return publisher;
}

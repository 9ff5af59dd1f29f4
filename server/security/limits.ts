/**
 * Limits: the publish rate (a token bucket per publisher, shared by all its connections and requests), open
 * subscriptions and unsent bytes (per connection: slow consumers). Each WebSocket connection has one
 * `ConnectionLimits`; HTTP callers share one per remote address and token (server/context.ts).
 */
import { TRPCError } from '@trpc/server';
import { errorReasons, type ErrorReason } from '@switchboard/shared';
import type { Config } from '../ops/config.js';
import { ReasonedError } from '../core/errors.js';
import type { Metrics } from '../ops/metrics.js';

/** Close code for a consumer too slow to keep up; it may reconnect and resume from its cursor. */
export const slowConsumerCloseCode = 4008;

/** The close reason that goes with 4008; a close reason holds at most 123 bytes. */
export function slowConsumerReason(limitBytes: number): string {
  return `slow consumer: over ${limitBytes} bytes unsent; reconnect and resume from your last id`;
}

/** Unsent bytes a replay may leave on a socket, at most: enough to keep a link busy (see `replayWindowBytes`). */
export const replayWindowCapBytes = 256 * 1024;

/** `rate` tokens a second, holding at most `burst`; `now` is injectable so tests control time. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /**
   * Takes `n` tokens and returns 0, or returns how many ms until `n` would be available (taking none): Infinity
   * when `n` is more than the bucket ever holds, which no wait makes possible.
   */
  take(n: number): number {
    this.refill();
    if (n <= this.tokens) {
      this.tokens -= n;
      return 0;
    }
    if (n > this.burst) return Infinity;
    return Math.ceil(((n - this.tokens) * 1000) / this.rate);
  }

  /** True when the bucket is as a new one would be: forgetting it changes nothing. */
  full(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
  }
}

export type LimitSettings = Pick<Config, 'publishRate' | 'publishBurst' | 'maxSubscriptions' | 'slowConsumerBytes'>;

/** Publishers whose buckets are kept at most; past it, full buckets (the same as new ones) are forgotten. */
const maxPublishers = 10_000;

/**
 * The publish rate, per publisher: `publishRate` events a second with bursts up to `publishBurst`, shared by
 * every connection and request of that publisher, so opening more connections buys no more. A publisher is its
 * token (`Principal.keyOwner`: a static token's name, a JWT's subject); without tokens, its remote address.
 */
export class PublishRates {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly settings: Pick<LimitSettings, 'publishRate' | 'publishBurst'>,
    private readonly now?: () => number,
  ) {}

  /** The bucket of `publisher` (a key owner, or `address:<ip>` without tokens). */
  bucketOf(publisher: string): TokenBucket {
    let bucket = this.buckets.get(publisher);
    if (!bucket) {
      if (this.buckets.size >= maxPublishers) this.forgetFull();
      bucket = new TokenBucket(this.settings.publishRate, this.settings.publishBurst, this.now);
      this.buckets.set(publisher, bucket);
    }
    return bucket;
  }

  /** Publishers with a bucket right now. */
  get size(): number {
    return this.buckets.size;
  }

  private forgetFull(): void {
    for (const [publisher, bucket] of this.buckets) if (bucket.full()) this.buckets.delete(publisher);
    // Ten thousand publishers all mid-burst: start over rather than grow without bound.
    if (this.buckets.size >= maxPublishers) this.buckets.clear();
  }
}

/**
 * A publish refused by the rate: past it for now (TOO_MANY_REQUESTS, `retryAfterMs` the wait until the call
 * would be admitted), or larger than a burst (PAYLOAD_TOO_LARGE, no `retryAfterMs`: retrying cannot help).
 */
export class PublishRateError extends TRPCError {
  constructor(
    code: 'TOO_MANY_REQUESTS' | 'PAYLOAD_TOO_LARGE',
    reason: ErrorReason,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super({ code, message, cause: new ReasonedError(reason, message) });
    this.name = 'PublishRateError';
  }

  /** The wait as HTTP's Retry-After and gRPC's RetryInfo say it: whole seconds, at least one. */
  get retryAfterSeconds(): number | undefined {
    return this.retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(this.retryAfterMs / 1000));
  }
}

/** Whose publish bucket a caller draws from: its token, or without tokens its remote address. */
export function publisherOf(keyOwner: string | undefined, remoteAddress: string | undefined): string {
  return keyOwner !== undefined && keyOwner !== '' ? keyOwner : `address:${remoteAddress ?? 'unknown'}`;
}

/** The part of a WebSocket the limits look at. */
export interface LimitedSocket {
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
}

export class ConnectionLimits {
  private subscriptions = 0;
  private cut = false;

  constructor(
    private readonly settings: LimitSettings,
    private readonly metrics: Metrics,
    private readonly socket: LimitedSocket | null,
    /** The publisher's bucket (`PublishRates.bucketOf`), shared with its other connections and requests. */
    private readonly bucket: TokenBucket,
  ) {}

  /**
   * Admits `events` events for publishing, or throws a `PublishRateError` naming the limit: TOO_MANY_REQUESTS
   * with the wait, or PAYLOAD_TOO_LARGE for more events in one call than a burst holds (no wait admits those).
   */
  admitPublish(events: number): void {
    const waitMs = this.bucket.take(events);
    if (waitMs === 0) return;
    const { publishRate, publishBurst } = this.settings;
    if (waitMs === Infinity) {
      this.metrics.rejected.inc({ reason: errorReasons.batchTooLarge });
      throw new PublishRateError(
        'PAYLOAD_TOO_LARGE',
        errorReasons.batchTooLarge,
        `${events} events in one call, more than the publish burst (${publishBurst} events per publisher, SWITCHBOARD_PUBLISH_BURST) ever admits: send at most ${publishBurst} per call, or raise the burst`,
      );
    }
    this.metrics.rejected.inc({ reason: errorReasons.rateLimited });
    throw new PublishRateError(
      'TOO_MANY_REQUESTS',
      errorReasons.rateLimited,
      `publish rate limit: ${publishRate} events/s per publisher, bursts of ${publishBurst} (SWITCHBOARD_PUBLISH_RATE, SWITCHBOARD_PUBLISH_BURST); retry in ${waitMs} ms or send less`,
      waitMs,
    );
  }

  /**
   * Unsent bytes a replay from the store may leave on the socket before it waits for the socket to drain:
   * enough to keep a link busy, and well inside the slow-consumer limit, so a long replay is never cut.
   */
  get replayWindowBytes(): number {
    return Math.min(replayWindowCapBytes, Math.floor(this.settings.slowConsumerBytes / 2));
  }

  /** Opens a subscription slot, released by disposing it; throws when the connection holds the maximum. */
  openSubscription(procedure: string): Disposable {
    if (this.subscriptions >= this.settings.maxSubscriptions) {
      this.metrics.rejected.inc({ reason: errorReasons.tooManySubscriptions });
      throw new TRPCError({
        code: 'TOO_MANY_REQUESTS',
        message: `subscription limit: ${this.settings.maxSubscriptions} per connection (SWITCHBOARD_MAX_SUBSCRIPTIONS); stop one or open another connection`,
        cause: new ReasonedError(errorReasons.tooManySubscriptions, 'too many subscriptions'),
      });
    }
    this.subscriptions++;
    this.metrics.subscriptions.inc({ procedure });
    let open = true;
    return {
      [Symbol.dispose]: () => {
        if (!open) return;
        open = false;
        this.subscriptions--;
        this.metrics.subscriptions.dec({ procedure });
      },
    };
  }

  /**
   * True while the socket keeps up. Past the unsent-bytes limit the connection is closed with 4008: its
   * subscriptions end, memory is released, and the client resumes from its cursor losing nothing.
   */
  keepsUp(): boolean {
    if (this.cut) return false;
    if (!this.socket) return true;
    const unsent = this.socket.bufferedAmount;
    this.metrics.noteUnsent(unsent);
    if (unsent <= this.settings.slowConsumerBytes) return true;
    this.cut = true;
    this.metrics.slowConsumers.inc();
    this.socket.close(slowConsumerCloseCode, slowConsumerReason(this.settings.slowConsumerBytes));
    return false;
  }
}

/**
 * Subscriptions over Server-Sent Events: `GET /trpc/<procedure>?input=…`, as tRPC's `httpSubscriptionLink`
 * (and any EventSource, `curl -N`, a Python loop over lines) reads it. Served by the project rather than tRPC's
 * HTTP adapter so that each stream is pushed from the hub's dispatcher like a WebSocket subscription, paced by
 * the socket, kept alive by pings and cut when its reader stalls.
 *
 * The call runs through tRPC's middlewares (`callProcedure`, ./procedure-call.ts): the same auth middleware, input
 * validation, limits and error shape as every other transport. The token comes from `Authorization: Bearer` or from the
 * link's `connectionParams` query parameter; the cursor from `Last-Event-ID` (what an EventSource sends when it
 * reconnects), else `lastEventId` in the input.
 *
 * Memory per reader is bounded: once more than the replay window (256 KiB) sits unsent in the response, the
 * stream pauses (live events are skipped, then read back from the store when the socket drains), so a reader
 * that stops reading holds at most that window and one message on the server, plus what the kernel buffers. A
 * reader that has not drained for `stallMs` is closed; it reconnects and resumes from its last id.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getErrorShape, getTRPCErrorFromUnknown, TRPCError, type inferRouterError } from '@trpc/server';
import { callProcedure } from './procedure-call.js';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { Gauge } from 'prom-client';
import { z } from 'zod';
import { errorReasons, type StreamItem } from '@switchboard/shared';
import { ReasonedError } from '../core/errors.js';
import { bearerToken } from '../security/auth.js';
import type { Authentication } from '../security/gate.js';
import type { Followed } from '../security/sessions.js';
import type { Context } from '../context.js';
import type { Metrics } from '../ops/metrics.js';
import type { ServedRouter } from '../routers/_app.js';
import { isPushSource, type PushSource, type TrackedItem } from '../core/push-source.js';
import { connectedFrame, errorFrame, ItemFrames, pingFrame, sseHeaders } from './sse-frames.js';
import { SseStream } from './sse-stream.js';
import { sendJson } from './json-response.js';

export interface SseOptions {
  router: ServedRouter;
  /** `/trpc`: a subscription is served at `<base>/<procedure>`. */
  basePath: string;
  /** Who a stream's token is (from the bearer header or the connection params). */
  authenticate(token: string | undefined): Promise<Authentication>;
  /** The context of one stream. */
  createContext(req: IncomingMessage, auth: Authentication): Context;
  /** Ends an open stream when its token expires, is revoked or changes. */
  follow(auth: Authentication, connection: Followed): void;
  onError(info: { error: TRPCError; path: string | undefined }): void;
  metrics: Metrics;
  /** A ping after this long without a message. */
  pingMs: number;
  /** A reader whose unsent data has not drained for this long is closed. */
  stallMs: number;
  /** Sent as the stream's `retry:`: how long an EventSource waits before reconnecting. */
  retryMs: number;
}

const connectionParams = z.record(z.string(), z.string());

/** An error as the router's error formatter shapes it (server/trpc.ts). */
export type ErrorShape = inferRouterError<ServedRouter>;

/** How a stream is written: tRPC's messages for `/trpc`, AG-UI events for `/ag-ui`. */
export interface StreamFormat {
  /** Written after the headers, once the subscription is accepted. */
  opening: string;
  /** Written after `pingMs` without a message. */
  ping: string;
  /** One item's message; `trackedId` gives its resume cursor (the source's, see `PushSource.trackedId`). */
  item(item: StreamItem, shared: boolean, trackedId: (item: StreamItem) => string): string;
  /** The call was refused or the stream failed: answer (headers may or may not have been sent) and end. */
  refuse(shape: ErrorShape, error: TRPCError): void;
}

/**
 * A refusal before a stream starts, as the plain HTTP endpoints answer: the status (400, 401, 403, 404, 429),
 * and JSON naming the problem (with zod's issues for bad input).
 */
export function sendRefusal(res: ServerResponse, error: TRPCError, shape?: ErrorShape): void {
  const body = shape
    ? { error: shape.message, code: shape.data.code, reason: shape.data.reason, issues: shape.data.issues }
    : { error: error.message, code: error.code };
  sendJson(res, getHTTPStatusCodeFromError(error), body);
}

export class SseTransport {
  private readonly streams = new Set<SseStream>();
  private readonly frames: ItemFrames;
  private readonly timer: NodeJS.Timeout;
  private readonly subscriptions: ReadonlySet<string>;

  constructor(private readonly options: SseOptions) {
    this.frames = new ItemFrames(options.router);
    const { procedures } = options.router._def;
    this.subscriptions = new Set(
      Object.entries(procedures)
        .filter(([, procedure]) => procedure._def.type === 'subscription')
        .map(([name]) => name),
    );
    // One sweep for every stream, four times per interval: a ping or a cut comes at most a quarter late.
    this.timer = setInterval(
      () => {
        this.sweep();
      },
      Math.max(5, Math.min(options.pingMs, options.stallMs) / 4),
    );
    this.timer.unref();
    const { streams } = this;
    new Gauge({
      name: 'switchboard_sse_unsent_bytes',
      help: 'Bytes written to event-stream responses and not yet taken by the socket, summed over all streams',
      registers: [options.metrics.registry],
      collect() {
        let total = 0;
        for (const stream of streams) total += stream.res.writableLength;
        this.set(total);
      },
    });
  }

  /** The subscription procedure a request path names (`/trpc/events` → `events`), if it names one. */
  procedureAt(path: string): string | undefined {
    const prefix = `${this.options.basePath}/`;
    if (!path.startsWith(prefix)) return undefined;
    const name = path.slice(prefix.length);
    return this.subscriptions.has(name) ? name : undefined;
  }

  /**
   * tRPC's format for `GET /trpc/<procedure>`. A refusal before the stream starts (a missing or refused token, a
   * bad input, too many subscriptions) is an HTTP status with JSON, as `/ag-ui` and every plain endpoint answer
   * it, except for tRPC's `httpSubscriptionLink`: an EventSource cannot read an error page, so the link gets
   * tRPC's error message in a 200 stream, which it ends the subscription with. The link is told apart by its
   * `connectionParams` query parameter, which the project's client always sends. Errors after the start are
   * messages of the stream for every reader.
   */
  serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const { router, retryMs, pingMs } = this.options;
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const opening = connectedFrame(retryMs, pingMs * 3);
    const speaksTrpc = query.has('connectionParams');
    const format: StreamFormat = {
      opening,
      ping: pingFrame,
      item: (item, shared, trackedId) => this.frames.frame(item, shared, trackedId),
      refuse: (shape, error) => {
        if (!res.headersSent && !speaksTrpc) {
          sendRefusal(res, error, shape);
          return;
        }
        if (!res.headersSent) res.writeHead(200, sseHeaders).write(opening);
        res.end(errorFrame(router, shape));
      },
    };
    return this.stream(req, res, format, path, () => {
      let input = parseInput(router, query.get('input'));
      // The standard header wins: it is the newest cursor an EventSource has, the URL's input the oldest.
      const lastEventId = req.headers['last-event-id'] ?? query.get('lastEventId') ?? query.get('Last-Event-Id');
      if (typeof lastEventId === 'string' && lastEventId !== '') {
        input = typeof input === 'object' && input !== null ? { ...input, lastEventId } : (input ?? { lastEventId });
      }
      const params = parseParams(query.get('connectionParams'));
      return { input, token: bearerToken(req.headers.authorization) ?? params?.token };
    });
  }

  /**
   * Runs the subscription `path` with what `prepare` returns (it may throw a TRPCError for bad input) and
   * streams its items to `res` in `format`, paced by the socket, with pings and the stall bound. `check` runs
   * once the call is accepted (auth and input passed) and before anything is written: a TRPCError it throws is
   * the answer, and the subscription, never opened, holds nothing.
   */
  async stream(
    req: IncomingMessage,
    res: ServerResponse,
    format: StreamFormat,
    path: string,
    prepare: () => { input: unknown; token: string | undefined },
    check?: (ctx: Context) => Promise<void>,
  ): Promise<void> {
    const { router } = this.options;
    const controller = new AbortController();
    const stream = new SseStream(res, controller);
    res.once('close', () => {
      this.streams.delete(stream);
      stream.end();
    });
    let input: unknown;
    let ctx: Context | undefined;
    try {
      const prepared = prepare();
      input = prepared.input;
      const auth = await this.options.authenticate(prepared.token);
      ctx = this.options.createContext(req, auth);
      const result: unknown = await callProcedure({
        router,
        path,
        getRawInput() {
          return Promise.resolve(prepared.input);
        },
        ctx,
        type: 'subscription',
        signal: controller.signal,
        batchIndex: 0,
      });
      if (controller.signal.aborted) return;
      // Only the project's event streams are served here: they are paced by the socket, which a pulled iterator is not.
      if (!isPushSource(result))
        throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `${path} did not return an event subscription` });
      await check?.(ctx);
      // The reader may have gone while the check read the store: then nothing is opened for it.
      if (stream.res.destroyed) return;
      res.writeHead(200, sseHeaders);
      stream.write(format.opening);
      this.streams.add(stream);
      this.open(stream, result, path, ctx, format);
      this.options.follow(auth, this.followed(stream, format, path, ctx));
    } catch (cause) {
      this.fail(stream, format, cause, path, input, ctx);
    }
  }

  private open(
    stream: SseStream,
    source: PushSource<TrackedItem>,
    path: string,
    ctx: Context,
    format: StreamFormat,
  ): void {
    stream.windowBytes = ctx.limits.replayWindowBytes;
    stream.ping = format.ping;
    const resume = () => {
      stream.open?.resume();
    };
    const trackedId = (item: StreamItem) => source.trackedId(item);
    stream.open = source.open({
      push: (item, shared) => {
        stream.write(format.item(item as StreamItem, shared, trackedId));
        // Full: the stream skips live events until `resume`, then reads them back from the store (a replay keeps
        // what it read of its page, up to `keptReplayBytes`, and sends that first).
        return stream.roomFor(resume);
      },
      fail: (error) => {
        this.fail(stream, format, error, path, undefined, ctx);
      },
      drainedBelow: (_bytes, wake) => stream.roomFor(wake),
      started: () => {
        // The stream's opening (`connected`) went out when it was accepted: an event stream has no later
        // acknowledgement for a reader to wait on, and its `id:` lines carry the resume point from the first item.
      },
    });
  }

  /** The stream as its token's connection: ended with a last error message naming why, like a WebSocket's close. */
  private followed(stream: SseStream, format: StreamFormat, path: string, ctx: Context): Followed {
    const { res } = stream;
    return {
      end: ({ kind, message }) => {
        stream.end();
        this.streams.delete(stream);
        const reason = kind === 'expired' ? errorReasons.tokenExpired : errorReasons.tokenRevoked;
        const cause = new ReasonedError(reason, message);
        this.fail(stream, format, new TRPCError({ code: 'UNAUTHORIZED', message, cause }), path, undefined, ctx);
      },
      onEnd: (listener) => res.once('close', listener),
      get ended() {
        return res.writableEnded || res.destroyed;
      },
    };
  }

  private fail(
    stream: SseStream,
    format: StreamFormat,
    cause: unknown,
    path: string,
    input: unknown,
    ctx: Context | undefined,
  ): void {
    const error = getTRPCErrorFromUnknown(cause);
    this.options.onError({ error, path });
    const { router } = this.options;
    const shape = getErrorShape({ config: router._def._config, error, type: 'subscription', path, input, ctx });
    // The messages written before the failure go first.
    stream.flush();
    if (!stream.res.writableEnded) format.refuse(shape, error);
  }

  private sweep(): void {
    const now = performance.now();
    for (const stream of this.streams) {
      if (stream.res.writableEnded) continue;
      if (stream.stalledSince !== undefined) {
        // The reader took nothing for `stallMs`: free its slot and buffers; it resumes from its cursor.
        if (now - stream.stalledSince >= this.options.stallMs) stream.res.destroy();
      } else if (now - stream.lastWrite >= this.options.pingMs) {
        stream.write(stream.ping);
      }
    }
  }

  /** Ends every stream (shutdown): each EventSource reconnects after `retry` and resumes from its cursor. */
  close(): void {
    clearInterval(this.timer);
    for (const stream of this.streams) {
      stream.end();
      stream.flush();
      stream.res.end();
    }
    this.streams.clear();
  }
}

function parseInput(router: ServedRouter, raw: string | null): unknown {
  if (raw === null) return undefined;
  try {
    return router._def._config.transformer.input.deserialize(JSON.parse(raw));
  } catch (cause) {
    throw new TRPCError({ code: 'PARSE_ERROR', message: 'the input query parameter is not superjson JSON', cause });
  }
}

function parseParams(raw: string | null): Record<string, string> | null {
  if (raw === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new TRPCError({ code: 'PARSE_ERROR', message: 'connectionParams is not JSON', cause });
  }
  const result = connectionParams.safeParse(parsed);
  if (!result.success)
    throw new TRPCError({ code: 'PARSE_ERROR', message: 'connectionParams must be a JSON object of strings' });
  return result.data;
}

/**
 * tRPC's WebSocket protocol as the unmodified `@trpc/client` speaks it: the messages a client sends, checked
 * by zod at the edge, and the frames the server writes. docs/protocol.md describes the same for other clients.
 *
 * Every reply body goes through the router's transformer (superjson), errors included. An event's data frame
 * is built from a payload serialized once per event, however many subscribers it goes to.
 */
import {
  transformTRPCResponse,
  type AnyRouter,
  type AnyTRPCRootTypes,
  type TRPCErrorShape,
  type TRPCRootConfig,
} from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY, type TRPCResponseMessage } from '@trpc/server/rpc';
import { z } from 'zod';
import { eachWithDateAround, encode, encodedWithOneDate } from '@switchboard/shared';
import { madeEnvelopeJson, storedEnvelopeJson } from '../../core/envelope.js';
import type { TrackedItem } from '../../core/push-source.js';
import type { PathTracer } from '../../core/trace.js';
import { inRuns } from '../../core/text-runs.js';
import { textFrame } from './socket-writer.js';

export const requestId = z.union([z.number(), z.string()]);
export type RequestId = z.infer<typeof requestId>;

const envelope = { id: requestId, jsonrpc: z.literal('2.0').optional() };

/** One request; a frame holds one or a JSON array of them (the client batches what it sends in one tick). */
export const clientMessage = z.discriminatedUnion('method', [
  z.object({
    ...envelope,
    method: z.enum(['query', 'mutation', 'subscription']),
    params: z.object({
      path: z.string().min(1),
      // superjson's `{ json, meta }`; absent when the procedure takes no input.
      input: z.unknown().optional(),
      // The client's resume cursor for a subscription, merged into the input as `lastEventId`.
      lastEventId: z.string().nullish(),
    }),
  }),
  z.object({ ...envelope, method: z.literal('subscription.stop') }),
]);
export type ClientMessage = z.infer<typeof clientMessage>;

/** The first frame of a connection opened with `?connectionParams=1`. */
export const connectionParamsMessage = z.object({
  method: z.literal('connectionParams'),
  data: z.record(z.string(), z.string()).nullish(),
});

/** Sent to every client before the server goes away: the client reconnects and resubscribes with its cursors. */
export const reconnectFrame = JSON.stringify({ id: null, method: 'reconnect' });

/**
 * The error a call gets when the router's `errorFormatter` throws or its shape cannot be encoded: the one tRPC's
 * own adapter sends then. It says nothing about the error, which is what the formatter might have hidden.
 */
export const fallbackErrorShape: TRPCErrorShape = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

/** `{"id":…,` (with `"jsonrpc":"2.0",` when the request had it): the start of every reply to a request. */
export function replyHead(id: RequestId, jsonrpc: '2.0' | undefined): string {
  return jsonrpc === undefined ? `{"id":${JSON.stringify(id)},` : `{"id":${JSON.stringify(id)},"jsonrpc":"2.0",`;
}

/** A router's runtime config (transformer, error formatter), typed: `AnyRouter` types it with `any`. */
export function configOf(router: AnyRouter): TRPCRootConfig<AnyTRPCRootTypes> {
  return router._def._config as TRPCRootConfig<AnyTRPCRootTypes>;
}

/** A reply built the general way: the router's transformer, then JSON. */
export function replyFrame(router: AnyRouter, reply: TRPCResponseMessage): string {
  return JSON.stringify(transformTRPCResponse(configOf(router), reply));
}

/**
 * A query's or mutation's result, byte for byte what `replyFrame` writes for `{ id, jsonrpc, result: { type:
 * 'data', data } }`, without tRPC's response transform, which copies the reply and its result with a spread
 * helper: about a third of a single `publish` reply's cost. In parts, which make the reply when joined: a list of
 * envelopes a store made (`publishBatch`'s answer) as runs of about `runChars` (server/core/text-runs.ts), so
 * that a large answer is never one large text (but through the socket writer's fallback, `send`, which joins
 * them); anything else as one part. Throws as `replyFrame` does when the transformer cannot encode `data`.
 */
export function dataReplyTexts(
  router: AnyRouter,
  id: RequestId,
  jsonrpc: '2.0' | undefined,
  data: unknown,
): readonly string[] {
  const { output } = configOf(router).transformer;
  const encoded = output.serialize === encode ? madeEnvelopesJson(data) : undefined;
  const head = `${replyHead(id, jsonrpc)}"result":{"type":"data","data":`;
  if (encoded !== undefined) return [head, ...encoded, '}}'];
  const text = jsonText(output.serialize(data));
  // A transformer that encodes to nothing: JSON leaves the key out, as the general way does.
  if (text === undefined) return [replyFrame(router, { id, jsonrpc, result: { type: 'data', data } })];
  return [`${head}${text}}}`];
}

/** `JSON.stringify`, typed as it answers: undefined for what JSON cannot hold (a transformer that encodes to nothing). */
const jsonText = (value: unknown): string | undefined => JSON.stringify(value);

/**
 * An answer under the project's transformer that is itself an envelope or a list of envelopes a store made (a
 * write's, `publish` and `publishBatch`), in parts that make its encoding when joined: spliced from the text each
 * one's data was written as when that is what encoding writes, or, for one read back, from its stored text as
 * replay frames are (`madeEnvelopeJson`); byte for byte what encoding writes, the store having written that text
 * with `JSON.stringify`. Undefined for anything else.
 */
function madeEnvelopesJson(data: unknown): string[] | undefined {
  if (!Array.isArray(data)) {
    const json = madeEnvelopeJson(data);
    return json === undefined ? undefined : [encodedWithOneDate(json, 'timestamp')];
  }
  if (data.length === 0) return undefined;
  const parts: string[] = new Array<string>(data.length);
  for (let i = 0; i < data.length; i++) {
    const json = madeEnvelopeJson(data[i]);
    if (json === undefined) return undefined;
    parts[i] = json;
  }
  const [before, after] = eachWithDateAround(parts.length, 'timestamp');
  const runs = inRuns(parts, (part) => part.length + 1);
  return [before, ...runs.map((run, i) => (i === 0 ? run.join(',') : `,${run.join(',')}`)), after];
}

/**
 * Each pushed item's data frame for its subscribers: `{ id, data: item }` (how `tracked(id, item)` goes on the
 * wire, the id being the source's `trackedId(item)`) through the transformer once per event, then per subscriber
 * one string concatenation, or one prebuilt WebSocket frame shared by every subscriber whose request id is the
 * same (clients number their requests alike, so most are). The tracked id sits at the result level too: the
 * client takes its resume cursor from there. A shared item's frames are kept by the item alone, which is right
 * because a source's tracked id is the same for every subscriber of the server (see `PushSource.trackedId`).
 */
export class EventFrames<T extends TrackedItem = TrackedItem> {
  private readonly cache = new WeakMap<T, { id: string; payload: string; wire: Map<string, Buffer> }>();

  constructor(
    private readonly router: AnyRouter,
    private readonly trace?: PathTracer,
  ) {}

  private payload(item: T, id: string): string {
    const { output } = configOf(this.router).transformer;
    // An envelope read from the store, under the project's own transformer: its stored text spliced in as is. (A
    // just-stored one's written text too measured slower fan-out at N=100: docs/performance-history.md.)
    const stored = output.serialize === encode ? storedEnvelopeJson(item) : undefined;
    if (stored !== undefined)
      return encodedWithOneDate(`{"id":${JSON.stringify(id)},"data":${stored}}`, 'data.timestamp');
    return JSON.stringify(output.serialize({ id, data: item }));
  }

  private entry(item: T, trackedId: (item: T) => string) {
    let entry = this.cache.get(item);
    if (entry === undefined) {
      const { trace } = this;
      if (trace && 'data' in item) trace.event('frameStart', item);
      const id = trackedId(item);
      entry = { id, payload: this.payload(item, id), wire: new Map() };
      this.cache.set(item, entry);
    }
    return entry;
  }

  /** The reply's text. Only a shared item's payload is kept for the next subscriber. */
  text(head: string, item: T, shared: boolean, trackedId: (item: T) => string = (i) => i.id): string {
    let id: string;
    let payload: string;
    if (shared) ({ id, payload } = this.entry(item, trackedId));
    else {
      id = trackedId(item);
      payload = this.payload(item, id);
    }
    return `${head}"result":{"type":"data","id":${JSON.stringify(id)},"data":${payload}}}`;
  }

  /** A shared item's reply as a complete WebSocket frame, built once per request id. */
  wire(head: string, item: T, trackedId: (item: T) => string = (i) => i.id): Buffer {
    const { wire } = this.entry(item, trackedId);
    let frame = wire.get(head);
    if (frame === undefined) {
      frame = textFrame(this.text(head, item, true, trackedId));
      wire.set(head, frame);
      if (this.trace && 'data' in item) this.trace.event('frameBuilt', item);
    }
    return frame;
  }
}

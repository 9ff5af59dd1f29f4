/**
 * The Server-Sent Events that tRPC's `httpSubscriptionLink` reads (its `sseStreamConsumer`), written by the
 * project: `connected` first (with the client options tRPC's consumer honours), then one message per tracked
 * item with the item's id on its `id:` line (what an EventSource sends back as `Last-Event-ID`), `ping` while
 * idle, and `serialized-error` when the subscription fails. Every message's data is the router's transformer
 * output as JSON, as tRPC's own adapter writes it. docs/protocol.md describes the same for other clients.
 */
import { encode, encodedWithOneDate, type StreamItem } from '@switchboard/shared';
import { storedEnvelopeJson } from '../core/envelope.js';
import type { ServedRouter } from '../routers/_app.js';

/** The response headers of an event stream; proxies must neither buffer nor transform it. */
export const sseHeaders = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const;

/**
 * The first message. `retry` is the standard field that sets how long an EventSource waits before it
 * reconnects; `reconnectAfterInactivityMs` tells tRPC's consumer to reconnect when nothing, not even a ping,
 * arrived for that long (a dead peer behind a proxy that keeps the TCP connection open).
 */
export function connectedFrame(retryMs: number, reconnectAfterInactivityMs: number): string {
  return `retry: ${retryMs}\nevent: connected\ndata: ${JSON.stringify({ reconnectAfterInactivityMs })}\n\n`;
}

export const pingFrame = 'event: ping\ndata: \n\n';

/** The error's shape (as the error formatter built it), serialized like every other payload. */
export function errorFrame(router: ServedRouter, shape: unknown): string {
  return `event: serialized-error\ndata: ${JSON.stringify(router._def._config.transformer.output.serialize(shape))}\n\n`;
}

/**
 * One message per item: `id: <cursor>` (`<event id>@<epoch>`) and the envelope. A live item is the same object
 * for every subscriber, and its cursor the same for all of them, so its message is built once and kept as long
 * as the item lives.
 */
export class ItemFrames {
  private readonly cache = new WeakMap<StreamItem, string>();

  constructor(private readonly router: ServedRouter) {}

  private build(item: StreamItem, id: string): string {
    const { output } = this.router._def._config.transformer;
    // An envelope read from the store: its stored text spliced in as is (see EventFrames in ws/protocol.ts).
    const stored = output.serialize === encode ? storedEnvelopeJson(item) : undefined;
    const data =
      stored === undefined ? JSON.stringify(output.serialize(item)) : encodedWithOneDate(stored, 'timestamp');
    // Cursors are digits, lowercase letters and `@` (shared/cursor.ts), so nothing in them can break the line.
    return `id: ${id}\ndata: ${data}\n\n`;
  }

  frame(item: StreamItem, shared: boolean, trackedId: (item: StreamItem) => string): string {
    if (!shared) return this.build(item, trackedId(item));
    let frame = this.cache.get(item);
    if (frame === undefined) {
      frame = this.build(item, trackedId(item));
      this.cache.set(item, frame);
    }
    return frame;
  }
}

/**
 * Reading event streams in tests as a client in any language would: a parser for `text/event-stream` and a
 * `fetch` reader that records every message. Nothing here knows tRPC; the server's format is checked as text.
 */
import { waitUntil } from './harness.js';

export interface SseMessage {
  /** `message` when the stream named none. */
  event: string;
  data: string;
  /** The `id:` line of this message, when it had one. */
  id?: string;
}

/** Parses complete messages out of `text`; returns them and the unfinished tail to prepend to the next chunk. */
export function parseSse(text: string): { messages: SseMessage[]; comments: number; rest: string } {
  const messages: SseMessage[] = [];
  let comments = 0;
  const blocks = text.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const message: SseMessage = { event: 'message', data: '' };
    const data: string[] = [];
    // As the spec says: a block without a `data` field (only `retry:`, `id:` or comments) dispatches nothing.
    let hasData = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments++;
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') message.event = value;
      else if (field === 'data') {
        data.push(value);
        hasData = true;
      } else if (field === 'id') message.id = value;
    }
    if (!hasData) continue;
    message.data = data.join('\n');
    messages.push(message);
  }
  return { messages, comments, rest };
}

/** The event id a cursor (`42@3f9a1c0e5b7d`, or a bare `42`) names. */
export function eventIdOf(cursor: string): string {
  return cursor.split('@')[0] ?? cursor;
}

/** A `fetch` of an event stream, read in the background; `close()` aborts it. */
export function readSse(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const messages: SseMessage[] = [];
  let status = 0;
  let ended = false;
  let comments = 0;
  const done = (async () => {
    try {
      const response = await fetch(url, { headers, signal: controller.signal });
      status = response.status;
      if (!response.body) return;
      let buffered = '';
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        buffered += decoder.decode(chunk, { stream: true });
        const { messages: complete, rest, comments: seen } = parseSse(buffered);
        buffered = rest;
        comments += seen;
        messages.push(...complete);
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    } finally {
      ended = true;
    }
  })();
  const data = () => messages.filter((m) => m.event === 'message');
  return {
    messages,
    /** The messages carrying events (no `connected`, `ping` or errors). */
    data,
    /** The event ids of the messages: their `id:` lines (cursors, `<id>@<epoch>`) without the epoch. */
    ids: () => data().map((m) => eventIdOf(m.id ?? '')),
    /** The `id:` lines as sent: what a reader sends back as `Last-Event-ID`. */
    cursors: () => data().map((m) => m.id ?? ''),
    get status() {
      return status;
    },
    get ended() {
      return ended;
    },
    /** Comment lines received (`: ping` on an AG-UI stream). */
    get comments() {
      return comments;
    },
    /** Waits until `n` event messages arrived. */
    atLeast: (n: number) =>
      waitUntil(
        () => `${n} events (have ${data().length})`,
        () => data().length >= n,
      ),
    /** Waits for the first message named `event`. */
    waitFor: async (event: string) => {
      await waitUntil(`a ${event} message`, () => messages.some((m) => m.event === event));
      const found = messages.find((m) => m.event === event);
      if (!found) throw new Error(`no ${event}`);
      return found;
    },
    close: async () => {
      controller.abort();
      await done;
    },
    [Symbol.asyncDispose]: async () => {
      controller.abort();
      await done;
    },
  };
}

/** `/trpc/<procedure>?input=…` with the input as superjson's JSON form, as tRPC's link writes it. */
export function subscriptionUrl(base: string, procedure: string, input?: object): string {
  const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
  return `${base}/trpc/${procedure}${query}`;
}

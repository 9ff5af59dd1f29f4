/**
 * The client's links for `transport: 'sse'`: subscriptions over Server-Sent Events (tRPC's
 * `httpSubscriptionLink`, with the caller's EventSource), queries and mutations over batched HTTP. The server
 * sends every item with its event id, so an EventSource that reconnects on its own resumes with
 * `Last-Event-ID`; a subscription whose EventSource gave up (an HTTP error page from a proxy) is resubscribed
 * by `retryLink` with backoff, from the last id it received. An error the server answered (a refused token, a
 * bad input) ends the subscription, except a token that expired or was revoked while the stream was open when
 * `token` is a function: the subscription is resumed with a fresh one.
 */
import { httpBatchLink, httpSubscriptionLink, retryLink, splitLink, type TRPCLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import type { AnyTRPCRouter } from '@trpc/server';
import type { AppRouter } from '../server/routers/_app.js';
import { readToken, type Connection, type ConnectionState, type TokenSource } from './connection.js';
import { errorReasons, transformer } from '@switchboard/shared';
import { answeredLink } from './answered-link.js';

/** The part of an EventSource tRPC's link uses: the browser's, or the `eventsource` package's in Node 20. */
export type EventSourceClass = new (
  url: string,
  init?: { withCredentials?: boolean },
) => {
  readonly CLOSED: number;
  readonly CONNECTING: number;
  readonly OPEN: number;
  readyState: number;
  addEventListener(type: string, listener: (event: object) => void): void;
  removeEventListener(type: string, listener: (event: object) => void): void;
  close(): void;
};

export interface SseLinkOptions {
  /** `http://host:port/trpc`. */
  url: string;
  token: TokenSource | undefined;
  EventSource: EventSourceClass;
  retryDelayMs: (attempt: number) => number;
}

type SubscriptionState = Omit<ConnectionState, 'state'> & { state: 'connecting' | 'open' };

/**
 * tRPC's connection-state results of each subscription, reported by operation id; `close` ends every
 * subscription that runs through it.
 */
function stateLink<TRouter extends AnyTRPCRouter>(
  onState: (opId: number, state: SubscriptionState | undefined) => void,
  running: Set<() => void>,
): TRPCLink<TRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const sub = next(op).subscribe({
          next(envelope) {
            const { result } = envelope;
            if ('type' in result && result.type === 'state') {
              const reason = result.error?.message;
              if (result.state === 'pending') onState(op.id, { state: 'open' });
              else if (result.state === 'connecting')
                onState(op.id, { state: 'connecting', ...(reason && { reason }) });
            }
            observer.next(envelope);
          },
          error(error) {
            observer.error(error);
          },
          complete() {
            observer.complete();
          },
        });
        const end = () => {
          running.delete(stop);
          onState(op.id, undefined);
          sub.unsubscribe();
        };
        const stop = () => {
          end();
          observer.complete();
        };
        running.add(stop);
        return end;
      });
}

/**
 * The links, and the connection state of the client as a whole: `connecting` (with the reason) while any
 * subscription is reconnecting, `open` otherwise; HTTP holds no connection while nothing is subscribed.
 */
export function createSseTransport<TRouter extends AnyTRPCRouter>(options: SseLinkOptions) {
  const { url, token } = options;
  const states = new Map<number, SubscriptionState>();
  const listeners = new Set<(state: ConnectionState) => void>();
  const running = new Set<() => void>();
  let closed = false;
  const current = (): ConnectionState => {
    if (closed) return { state: 'closed' };
    for (const s of states.values()) if (s.state === 'connecting') return s;
    return { state: 'open' };
  };
  let last = current();
  const changed = () => {
    const next = current();
    if (next.state === last.state && next.reason === last.reason) return;
    last = next;
    for (const listener of listeners) listener(next);
  };
  const onState = (opId: number, state: SubscriptionState | undefined) => {
    if (state === undefined) states.delete(opId);
    else states.set(opId, state);
    changed();
  };
  const renewable = typeof token === 'function';
  const links: TRPCLink<AppRouter>[] = [
    splitLink({
      condition: (op) => op.type === 'subscription',
      true: [
        // Above the retries, so a subscription keeps its state across them and leaves it only when it ends.
        stateLink(onState, running),
        // Failures without an answer from the server are retried; so is a stream the server ended because its token
        // expired or was revoked, when `token` is a function that can give a fresh one. A bad input stays refused.
        retryLink({
          retry: ({ error }) => !closed && (error.data === undefined || (renewable && tokenEnded(error.data))),
          retryDelayMs: options.retryDelayMs,
        }),
        httpSubscriptionLink({
          url,
          transformer,
          EventSource: options.EventSource,
          // An EventSource cannot send headers; tRPC puts these in the URL, where the server reads the token. Sent
          // even without a token: they tell the server this reader takes refusals as tRPC's error messages, not
          // as an HTTP status an EventSource cannot read (server/transports/sse.ts).
          connectionParams: async (): Promise<Record<string, string>> =>
            token === undefined ? {} : { token: await readToken(token) },
        }),
      ],
      false: [
        answeredLink(),
        httpBatchLink({
          url,
          transformer,
          ...(token !== undefined && { headers: async () => ({ authorization: `Bearer ${await readToken(token)}` }) }),
        }),
      ],
    }),
  ];
  const connection: Connection = {
    url,
    get current() {
      return current();
    },
    subscribe(listener) {
      listeners.add(listener);
      listener(current());
      return () => {
        listeners.delete(listener);
      };
    },
  };
  return {
    // Every router a Switchboard server serves has the same transformer and error shape (only the catalogue's
    // procedures differ), and links never look at procedures: the same links serve any of them.
    links: links as unknown as TRPCLink<TRouter>[],
    connection,
    close: (): Promise<void> => {
      closed = true;
      for (const stop of [...running]) stop();
      changed();
      return Promise.resolve();
    },
  };
}

/** The server ended a stream because its token expired or was revoked (`error.data.reason`). */
function tokenEnded(data: unknown): boolean {
  const reason = typeof data === 'object' && data !== null && 'reason' in data ? data.reason : undefined;
  return reason === errorReasons.tokenExpired || reason === errorReasons.tokenRevoked;
}

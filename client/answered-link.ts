/**
 * A query's or mutation's call ends at its answer. tRPC's promise for a call (`observableToPromise`) settles on
 * the answer, and then, when the link completes the call, aborts an AbortController of its own, which makes a
 * DOMException with a stack trace and dispatches an abort event that nothing hears: about a fifth of the client's
 * CPU per `publish` call (docs/performance-history.md). This link passes the answer and everything else on, and
 * keeps back only a completion that comes after an answer; a call that completes without one still completes (its
 * promise then rejects, as before). Subscriptions pass through untouched.
 */
import type { TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';

export function answeredLink<TRouter extends AnyTRPCRouter>(): TRPCLink<TRouter> {
  return () =>
    ({ op, next }) => {
      if (op.type === 'subscription') return next(op);
      return observable((observer) => {
        let answered = false;
        const call = next(op).subscribe({
          next(value) {
            answered = true;
            observer.next(value);
          },
          error(error) {
            observer.error(error);
          },
          complete() {
            if (!answered) observer.complete();
          },
        });
        return () => {
          call.unsubscribe();
        };
      });
    };
}

/**
 * The one place that initialises tRPC. Exports the router factory and the base procedures, nothing else.
 */
import { initTRPC, TRPCError, type TRPCDefaultErrorShape } from '@trpc/server';
import { ZodError, type z } from 'zod';
import { describeIssues, errorReasons, issuePath, transformer, type ErrorReason } from '@switchboard/shared';
import { roleRefusal, type Access, type Principal } from './security/auth.js';
import type { Context } from './context.js';
import { ReasonedError } from './core/errors.js';
import { ScopeError } from './security/scopes.js';
import { PublishRateError } from './security/limits.js';

// ── 1. Error shape ──────────────────────────────────────────────────────────────────────────────────────────
// Validation failures carry every zod issue (path, code, message) so a producer can fix all of them at once,
// and a `reason` so clients can branch without parsing messages.

/** One zod issue as `error.data.issues` carries it. */
export interface IssueShape {
  path: string;
  code: string;
  message: string;
}

/** What clients receive as an error's shape: tRPC's own, with the `reason` and the zod `issues`. */
export type ErrorShape = TRPCDefaultErrorShape & {
  data: {
    reason: ErrorReason | undefined;
    issues: IssueShape[] | undefined;
    /** TOO_MANY_REQUESTS past the publish rate: ms until the call would be admitted (the Publisher waits it). */
    retryAfterMs?: number | undefined;
  };
};

/**
 * The root types a client infers from (`AppRouter`, routers/_app.ts): these, with the context erased. The
 * context names the hub, limits, metrics and logger, which would bring the server's modules (and pino,
 * prom-client) into the client packages' declarations; a client never sees it.
 */
export interface ClientRootTypes {
  ctx: object;
  meta: object;
  errorShape: ErrorShape;
  transformer: true;
}

function reasonOf(issues: readonly z.core.$ZodIssue[]): ErrorReason {
  for (const issue of issues) {
    if (issue.code === 'custom' && issue.params?.reason === errorReasons.invalidCursor)
      return errorReasons.invalidCursor;
    // The batch itself: publishBatch's input, or ingest's `events`.
    const batch = issue.path.length === 0 || (issue.path.length === 1 && issue.path[0] === 'events');
    if (issue.code === 'too_big' && issue.origin === 'array' && batch) return errorReasons.batchTooLarge;
  }
  return errorReasons.invalidInput;
}

const t = initTRPC.context<Context>().create({
  // superjson on the wire, the same module on both ends (shared/transformer.ts).
  transformer,
  // Stack traces stay in the server's log; clients get the code, message and reason.
  isDev: false,
  // Subscriptions over HTTP are the project's own SSE transport (server/transports/sse.ts), which follows each
  // stream's token and paces it; tRPC's HTTP adapter would serve them too on any spelling of the path.
  sse: { enabled: false },
  errorFormatter({ shape, error }): ErrorShape {
    const { cause } = error;
    let { message } = shape;
    let reason: ErrorReason | undefined;
    let issues: IssueShape[] | undefined;
    if (cause instanceof ZodError) {
      issues = cause.issues.map((i) => ({ path: issuePath(i), code: i.code, message: i.message }));
      reason = reasonOf(cause.issues);
      // zod's own message is its issues as pretty-printed JSON; one readable line per issue serves people better.
      message = describeIssues(cause.issues);
    } else if (cause instanceof ReasonedError) {
      reason = cause.reason;
    } else if (error.code === 'NOT_FOUND') {
      reason = errorReasons.notFound;
    } else if (error.code === 'INTERNAL_SERVER_ERROR') {
      // A fault, not an answer: its message may hold SQL, parameters or paths, which stay in the server's log.
      message = 'internal server error; the server logged the details';
    }
    const retryAfterMs = error instanceof PublishRateError ? error.retryAfterMs : undefined;
    return {
      ...shape,
      message,
      data: { ...shape.data, reason, issues, ...(retryAfterMs !== undefined && { retryAfterMs }) },
    };
  },
});

// ── 2. Building blocks ──────────────────────────────────────────────────────────────────────────────────────

export const router = t.router;
export const mergeRouters = t.mergeRouters;

/** Checks the caller's role: UNAUTHORIZED without a known token, FORBIDDEN when the role does not allow it. */
const requires = (need: Access) =>
  t.middleware(async ({ ctx, next }) => {
    const { principal } = ctx;
    if (principal === null) {
      ctx.metrics.rejected.inc({ reason: errorReasons.unauthorized });
      throw new TRPCError({
        code: 'UNAUTHORIZED',
        message:
          ctx.authProblem ??
          'missing or unknown token: pass it as connectionParams.token (WebSocket) or Authorization: Bearer (HTTP)',
        cause: new ReasonedError(errorReasons.unauthorized, 'unauthorized'),
      });
    }
    const refused = roleRefusal(principal, need);
    if (refused !== undefined) {
      ctx.metrics.rejected.inc({ reason: errorReasons.forbidden });
      throw new TRPCError({
        code: 'FORBIDDEN',
        message: refused,
        cause: new ReasonedError(errorReasons.forbidden, 'forbidden'),
      });
    }
    // The principal is on the context already: this narrows its type for the procedures without handing tRPC a
    // context to merge (it copies the whole context with a spread helper per call when one is given).
    const result = await next<{ principal: Principal }>({});
    // A read or publish outside the token's topic scopes (server/security/scopes.ts) is the caller's doing.
    if (!result.ok && result.error.cause instanceof ScopeError) {
      ctx.metrics.rejected.inc({ reason: errorReasons.forbidden });
      throw new TRPCError({
        code: 'FORBIDDEN',
        message: result.error.cause.message,
        cause: new ReasonedError(errorReasons.forbidden, 'forbidden'),
      });
    }
    return result;
  });

/** Writes: `publisher` or `admin`. */
export const publisherProcedure = t.procedure.use(requires('write'));
/** Subscriptions and queries: `viewer` or `admin`. */
export const viewerProcedure = t.procedure.use(requires('read'));

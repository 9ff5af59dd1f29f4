/**
 * Calls a procedure as `callTRPCProcedure` does: the procedure at the path, of that type, through its middlewares in
 * order (the role check, input validation, the resolver), with the same options, results and errors. What differs is
 * how each middleware's options are made: tRPC copies them with a generic spread helper (`_objectSpread2`, a property
 * definition per key) twice per middleware; here each is one object literal. That helper was about a tenth of the
 * server's CPU profile under pipelined `publish`; without it the server spent 60–77 µs per call where it spent 72–100
 * (alternating pairs on one machine, bench `publish` with 64 in flight).
 *
 * It relies on the shape tRPC gives a built procedure (`_def.type`, `_def.middlewares`, `_def.meta`), as the WebSocket
 * handler relies on its wire protocol; `@trpc/server` is pinned. Anything else (a lazy router, a procedure with a
 * caller override, a `_def` without middlewares, a call that allows a method override) goes through `callTRPCProcedure`
 * itself. Check this file against tRPC's `callRecursive` when the pin moves. test/transports/procedure-call.test.ts
 * calls the router's procedures both ways and compares the outcomes.
 */
import {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  TRPCError,
  type AnyTRPCRouter,
  type TRPCProcedureType,
} from '@trpc/server';

export type CallOptions = Parameters<typeof callTRPCProcedure>[0];

/** A middleware's result as tRPC's own chain passes it on (`marker` included, for middlewares that look). */
interface Result {
  ok: boolean;
  data?: unknown;
  error?: TRPCError;
  marker?: unknown;
}

interface NextOptions {
  ctx?: Record<string, unknown>;
  input?: unknown;
  getRawInput?: CallOptions['getRawInput'];
}

interface MiddlewareOptions {
  router: CallOptions['router'];
  ctx: unknown;
  type: TRPCProcedureType;
  path: string;
  input: unknown;
  getRawInput: CallOptions['getRawInput'];
  meta: unknown;
  signal: AbortSignal | undefined;
  batchIndex: number;
  next: (options?: NextOptions) => Promise<Result | undefined>;
}

/** A middleware as the chain calls it; one that never calls `next` and returns nothing answers undefined. */
type Middleware = (options: MiddlewareOptions) => Promise<Result | undefined>;

interface Chain {
  middlewares: readonly Middleware[];
  meta: unknown;
}

/** What a middleware that throws answers in tRPC's chain (its `middlewareMarker`). */
const marker = 'middlewareMarker';

/**
 * The procedure's chain when it is plainly built; undefined for anything tRPC itself should call (exported for
 * the test, which checks that every procedure of the router takes this path).
 */
export function chainOf(router: AnyTRPCRouter, path: string, type: TRPCProcedureType): Chain | undefined {
  const def = router._def as { procedures: Record<string, unknown>; lazy?: Record<string, unknown> };
  const procedure = def.procedures[path] as { _def?: Record<string, unknown> } | undefined;
  if (procedure === undefined) {
    // A lazy router not loaded yet may hold it: tRPC loads it.
    if (Object.keys(def.lazy ?? {}).length > 0) return undefined;
    throw new TRPCError({ code: 'NOT_FOUND', message: `No "${type}"-procedure on path "${path}"` });
  }
  const procedureDef = procedure._def;
  if (typeof procedure !== 'function' || procedureDef === undefined) return undefined;
  const { middlewares } = procedureDef;
  if (!Array.isArray(middlewares) || procedureDef.experimental_caller === true) return undefined;
  if (procedureDef.type !== type)
    throw new TRPCError({ code: 'NOT_FOUND', message: `No "${type}"-procedure on path "${path}"` });
  return { middlewares: middlewares as Middleware[], meta: procedureDef.meta };
}

/** What a middleware's `next` may replace: the context, the input, and where the raw input comes from. */
interface Call {
  ctx: unknown;
  input: unknown;
  getRawInput: CallOptions['getRawInput'];
}

async function run(chain: Chain, index: number, options: CallOptions, call: Call): Promise<Result | undefined> {
  try {
    const middleware = chain.middlewares[index];
    if (middleware === undefined) throw new Error(`no middleware ${index} on "${options.path}"`);
    return await middleware({
      router: options.router,
      ctx: call.ctx,
      type: options.type,
      path: options.path,
      input: call.input,
      getRawInput: call.getRawInput,
      meta: chain.meta,
      signal: options.signal,
      batchIndex: options.batchIndex,
      next(next) {
        return run(chain, index + 1, options, {
          ctx: next?.ctx ? { ...(call.ctx as Record<string, unknown>), ...next.ctx } : call.ctx,
          input: next && 'input' in next ? next.input : call.input,
          getRawInput: next?.getRawInput ?? call.getRawInput,
        });
      },
    });
  } catch (cause) {
    return { ok: false, error: getTRPCErrorFromUnknown(cause), marker };
  }
}

export async function callProcedure(options: CallOptions): Promise<unknown> {
  // A method override (a query answered by a mutation's procedure, say) is tRPC's to decide.
  const chain = options.allowMethodOverride ? undefined : chainOf(options.router, options.path, options.type);
  if (chain === undefined) return callTRPCProcedure(options);
  const input = (options as { input?: unknown }).input;
  const result: Result | null | undefined = await run(chain, 0, options, {
    ctx: options.ctx,
    input,
    getRawInput: options.getRawInput,
  });
  // tRPC's own test: a middleware may answer null as well as nothing.
  if (!result)
    throw new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      message: 'No result from middlewares - did you forget to `return next()`?',
    });
  if (!result.ok)
    throw (
      result.error ?? new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'a middleware failed with no error' })
    );
  return result.data;
}

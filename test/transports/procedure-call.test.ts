/**
 * The transports' procedure caller against tRPC's own (`callTRPCProcedure`), on the real router over a real
 * SQLite store: the same procedures called both ways, with the same contexts and inputs, give the same data or
 * the same error (code, message, cause), whichever middleware answers: the role check, the scope check after
 * the call, input validation, the resolver, or none (no such procedure, or not of that type).
 */
import { callTRPCProcedure, initTRPC, TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { isPushSource } from '../../server/core/push-source.js';
import type { Principal } from '../../server/security/auth.js';
import { createContextFactory } from '../../server/context.js';
import { loadConfig } from '../../server/ops/config.js';
import { createLogger } from '../../server/ops/log.js';
import { createMetrics } from '../../server/ops/metrics.js';
import { appRouter } from '../../server/routers/_app.js';
import { callProcedure, chainOf, type CallOptions } from '../../server/transports/procedure-call.js';
import { createTestHub } from '../harness.js';

type Outcome =
  | { ok: true; data: unknown }
  | { ok: false; code: string; message: string; cause: string | undefined; issues: unknown };

async function outcomeOf(call: Promise<unknown>): Promise<Outcome> {
  try {
    const data = await call;
    // A subscription answers a stream object of its own per call: its kind is what the two must share.
    return { ok: true, data: isPushSource(data) ? 'a push source' : data };
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error;
    const cause = error.cause;
    return {
      ok: false,
      code: error.code,
      message: error.message,
      cause: cause?.constructor.name,
      issues: (cause as { issues?: unknown } | undefined)?.issues,
    };
  }
}

const admin: Principal = { role: 'admin', name: 'admin', keyOwner: 'token:admin' };
const viewer: Principal = { role: 'viewer', name: 'viewer', keyOwner: 'token:viewer' };
const scoped: Principal = {
  role: 'publisher',
  name: 'team-a',
  keyOwner: 'token:team-a',
  scopes: { read: ['agent:a-*'], publish: ['agent:a-*'] },
};

const status = (agentId: string, key?: string) => ({
  type: 'agent.status',
  source: 'procedure-call-test',
  ...(key !== undefined && { key }),
  data: { agentId, agentType: 'coder', status: 'busy' },
});

describe('the transports call procedures as tRPC does', () => {
  it('gives the same data or the same error for every kind of call', async () => {
    await using test = createTestHub();
    const contexts = createContextFactory({
      hub: test.hub,
      limits: loadConfig([], {}),
      metrics: createMetrics({ connections: () => 0, databaseBytes: () => Promise.resolve(0) }),
      log: createLogger({ logLevel: 'silent', logFormat: 'json' }),
    });
    const cases: [string, Principal | null, CallOptions['type'], string, unknown][] = [
      // A key makes the second call answer the first one's event: the same data both ways.
      ['publish', admin, 'mutation', 'publish', status('a-1', 'same-event')],
      ['publishBatch', admin, 'mutation', 'publishBatch', [status('a-2', 'batch-1'), status('a-3', 'batch-2')]],
      ['ingest', admin, 'mutation', 'ingest', { events: [status('a-4', 'ingest-1')] }],
      ['a refusal by the resolver', admin, 'mutation', 'ingest', { events: [status('a-9')], after: 'no-such-key' }],
      ['a query', admin, 'query', 'history', { limit: 5 }],
      ['a query without input', viewer, 'query', 'catalogue', undefined],
      ['a subscription', viewer, 'subscription', 'events', {}],
      ['input refused by validation', admin, 'mutation', 'publish', { type: 'agent.status', data: { agentId: '' } }],
      ['input of the wrong kind', admin, 'mutation', 'publishBatch', 'not an object'],
      ['no token', null, 'mutation', 'publish', status('a-5')],
      ['a role that may not write', viewer, 'mutation', 'publish', status('a-6')],
      ['outside the token scope (refused after the call)', scoped, 'mutation', 'publish', status('b-1')],
      ['inside the token scope', scoped, 'mutation', 'publish', status('a-7', 'scoped-1')],
      ['no such procedure', admin, 'query', 'noSuchProcedure', undefined],
      ['a procedure of another type', admin, 'query', 'publish', status('a-8')],
    ];
    for (const [what, principal, type, path, input] of cases) {
      const options = (): CallOptions => ({
        router: appRouter,
        path,
        type,
        ctx: contexts.forCaller({ principal }),
        getRawInput: () => Promise.resolve(input),
        signal: new AbortController().signal,
        batchIndex: 0,
      });
      const theirs = await outcomeOf(callTRPCProcedure(options()));
      const ours = await outcomeOf(callProcedure(options()));
      expect(ours, what).toEqual(theirs);
    }
    // Each kind of answer occurred: the comparison above saw successes and every refusal it was meant to.
    const codes = new Set<string>();
    for (const [, principal, type, path, input] of cases) {
      const outcome = await outcomeOf(
        callProcedure({
          router: appRouter,
          path,
          type,
          ctx: contexts.forCaller({ principal }),
          getRawInput: () => Promise.resolve(input),
          signal: undefined,
          batchIndex: 0,
        }),
      );
      codes.add(outcome.ok ? 'ok' : outcome.code);
    }
    expect([...codes].sort()).toEqual([
      'BAD_REQUEST',
      'FORBIDDEN',
      'NOT_FOUND',
      'PRECONDITION_FAILED',
      'UNAUTHORIZED',
      'ok',
    ]);
  });

  it('runs every procedure of the router itself, handing none back to tRPC', () => {
    const procedures = Object.entries(appRouter._def.procedures as Record<string, { _def: { type: string } }>);
    expect(procedures.length).toBeGreaterThan(10);
    for (const [path, procedure] of procedures) {
      const type = procedure._def.type as CallOptions['type'];
      expect(chainOf(appRouter, path, type), path).toBeDefined();
    }
  });

  it('hands middlewares the same options, merges a context handed on and lets a later one replace the input', async () => {
    const t = initTRPC.context<{ who: string; role: string }>().meta<{ label: string }>().create();
    /** What each middleware saw, per caller. */
    let seen: unknown[] = [];
    const record = t.middleware((options) => {
      const { ctx, type, path, input, meta, signal } = options;
      seen.push({
        keys: Object.keys(options).sort(),
        ctx,
        type,
        path,
        input,
        meta,
        signal,
        batchIndex: (options as { batchIndex?: unknown }).batchIndex,
        router: (options as { router?: unknown }).router === router,
      });
      return options.next();
    });
    const router = t.router({
      echo: t.procedure
        .meta({ label: 'echo' })
        .use(record)
        .use(({ next }) => next({ ctx: { role: 'promoted', added: true } }))
        .input((value: unknown) => ({ raw: value }))
        .use(record)
        .use(({ input, next }) => next({ input: { wrapped: input } }))
        .use(record)
        .query(({ ctx, input, path }) => ({ ctx, input, path })),
      answersNothing: t.procedure.use(() => Promise.resolve(undefined as never)).query(() => 'never'),
      answersNull: t.procedure.use(() => Promise.resolve(null as never)).query(() => 'never'),
      throwsPlainError: t.procedure
        .use(() => {
          throw new Error('a plain error');
        })
        .query(() => 'never'),
    });
    const signal = new AbortController().signal;
    for (const path of ['echo', 'answersNothing', 'answersNull', 'throwsPlainError']) {
      const options = (): CallOptions => ({
        router,
        path,
        type: 'query',
        ctx: { who: 'caller', role: 'plain' },
        getRawInput: () => Promise.resolve('the input'),
        signal,
        batchIndex: 3,
      });
      seen = [];
      const theirs = await outcomeOf(callTRPCProcedure(options()));
      const theirsSeen = seen;
      seen = [];
      const ours = await outcomeOf(callProcedure(options()));
      expect(ours, path).toEqual(theirs);
      expect(seen, path).toEqual(theirsSeen);
      if (path === 'echo') {
        expect(seen).toHaveLength(3);
        expect(ours).toEqual({
          ok: true,
          data: {
            ctx: { who: 'caller', role: 'promoted', added: true },
            input: { wrapped: { raw: 'the input' } },
            path: 'echo',
          },
        });
      }
    }
  });
});

/**
 * What a token sees and touches, tried as a tenant who wants more would try it, on SQLite and PostgreSQL: patterns
 * with characters a store treats specially, idempotency keys that belong to someone else, streams that outlive
 * their token, patterns built to be slow, input nested to overflow a validator, and what `/healthz` tells a
 * stranger. Each case is one finding of the multi-tenant review (docs/security.md, "Multi-tenant").
 */
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { TRPCClientError } from '@trpc/client';
import { EventSource } from 'eventsource';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import WebSocket from 'ws';
import { createSwitchboardClient } from '../../client/index.js';
import { loadConfig } from '../../server/ops/config.js';
import { createLogger } from '../../server/ops/log.js';
import type { AppRouter } from '../../server/routers/_app.js';
import type { TokenEntry } from '../../server/security/auth.js';
import type { ServerOptions } from '../../server/server.js';
import { healthSchema, healthSummarySchema, limits } from '@switchboard/shared';
import { describeWith, pgSchema, pgUrl } from '../engines.js';
import { agentStatus, workflowStarted } from '../fixtures.js';
import { collect, startTestServer, tempDir, waitUntil } from '../harness.js';
import { readSse, subscriptionUrl } from '../sse-reader.js';

const admin: TokenEntry = { role: 'admin', token: 'admin-0123456789abcdef', name: 'admin' };
const teamA: TokenEntry = {
  role: 'viewer',
  token: 'team-a-0123456789abcdef',
  name: 'team-a',
  scopes: { read: ['workflow:*-team-a'] },
};
const publisherP: TokenEntry = {
  role: 'publisher',
  token: 'pub-p-0123456789abcdef',
  name: 'p',
  scopes: { publish: ['agent:p-*'] },
};
const publisherQ: TokenEntry = {
  role: 'publisher',
  token: 'pub-q-0123456789abcdef',
  name: 'q',
  scopes: { publish: ['agent:q-*'] },
};
const victim: TokenEntry = { role: 'publisher', token: 'victim-0123456789abcdef', name: 'victim' };
const squatter: TokenEntry = { role: 'publisher', token: 'squatter-0123456789abcdef', name: 'squatter' };
const tokens = [admin, teamA, publisherP, publisherQ, victim, squatter];

/** Any JSON value, as the contract's free-form fields take it. */
type JsonValue = z.core.util.JSONType;

const client = (url: string, token: string) =>
  createSwitchboardClient({ url, WebSocket, token, reconnect: { initialMs: 20, maxMs: 20 } });

const errorOf = async (promise: Promise<unknown>) => {
  const error = await promise.catch((e: unknown) => e);
  if (!(error instanceof TRPCClientError)) throw new Error(`expected a refusal, got ${JSON.stringify(error)}`);
  return { code: (error.data as { code: string }).code, message: error.message };
};

async function post(url: string, path: string, body: unknown, token: string) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * The same cases on each store: a SQLite file, and a PostgreSQL schema of the test's own; the tokens come from a
 * real tokens file, read as the server reads it at start.
 */
function onEachStore(title: string, body: (start: (extra?: Partial<ServerOptions>) => Promise<Server>) => void) {
  const serve = async (store: (dir: ReturnType<typeof tempDir>) => Partial<ServerOptions> & AsyncDisposable) => {
    const dir = tempDir();
    const file = dir.file('tokens.json');
    writeFileSync(file, JSON.stringify(tokens));
    const config = loadConfig(['--tokens-file', file], {});
    const engine = store(dir);
    const server = await startTestServer({ tokens: config.tokens, tokensFile: config.tokensFile, ...engine });
    return {
      url: server.url,
      [Symbol.asyncDispose]: async () => {
        await server[Symbol.asyncDispose]();
        await engine[Symbol.asyncDispose]();
        dir[Symbol.dispose]();
      },
    };
  };
  describe(`${title} (SQLite)`, () => {
    body((extra) =>
      serve((dir) => ({ db: dir.file('hub.db'), ...extra, [Symbol.asyncDispose]: () => Promise.resolve() })),
    );
  });
  describeWith(['postgres'], `${title} (PostgreSQL)`, () => {
    body((extra) =>
      serve(() => {
        const schema = pgSchema();
        return {
          db: pgUrl,
          pgSchema: schema.schema,
          ...extra,
          [Symbol.asyncDispose]: () => schema[Symbol.asyncDispose](),
        };
      }),
    );
  });
}
type Server = { url: string } & AsyncDisposable;

onEachStore('patterns outside the alphabet', (start) => {
  it('refuses a NUL (or any control character) in a pattern on every read path; a scope reads only itself', async () => {
    await using server = await start();
    await using writer = client(server.url, admin.token);
    await writer.publishBatch.mutate([workflowStarted('build-team-a'), workflowStarted('build-team-b')]);
    await using reader = client(server.url, teamA.token);

    const sneaky = 'workflow:*\u0000-team-a';
    const refused = await errorOf(reader.history.query({ topics: [sneaky] }));
    expect(refused.code).toBe('BAD_REQUEST');
    expect(refused.message).toContain('U+0000');
    using ws = collect(reader.events, { topics: [sneaky], lastEventId: '0' });
    await ws.failed();
    expect(ws.items).toEqual([]);
    const sse = await fetch(subscriptionUrl(server.url, 'events', { topics: [sneaky], lastEventId: '0' }), {
      headers: { authorization: `Bearer ${teamA.token}` },
    });
    expect(sse.status).toBe(400);
    expect(await sse.text()).toContain('U+0000');
    for (const pattern of ['workflow:\u0007*', 'workflow:*\u202e', 'a b']) {
      expect((await errorOf(reader.history.query({ topics: [pattern] }))).code).toBe('BAD_REQUEST');
    }

    const { events } = await reader.history.query({ topics: ['workflow:*'] });
    expect(events.map((e) => e.topic)).toEqual(['workflow:build-team-a']);
    // Over AG-UI, a workflow outside the scope is refused as one that does not exist is (its existence is itself
    // something the token may not learn: no 404 for one and 403 for the other), and one inside it streams.
    const agUi = (id: string) =>
      fetch(`${server.url}/ag-ui/${id}`, { headers: { authorization: `Bearer ${teamA.token}` } });
    const [outside, missing] = await Promise.all([agUi('build-team-b'), agUi('nothing-team-b')]);
    expect([outside.status, missing.status]).toEqual([403, 403]);
    expect(await outside.text()).toBe((await missing.text()).replaceAll('nothing-team-b', 'build-team-b'));
    await using inside = readSse(`${server.url}/ag-ui/build-team-a`, { authorization: `Bearer ${teamA.token}` });
    await inside.atLeast(1);
  });
});

onEachStore('idempotency keys', (start) => {
  it('belong to their publisher: a key never returns or confirms another publisher’s event', async () => {
    await using server = await start();
    await using p = client(server.url, publisherP.token);
    await using q = client(server.url, publisherQ.token);
    const theirs = await q.publish.mutate(agentStatus('q-1', 'busy', { key: 'shared-key' }));

    const mine = await p.publish.mutate(agentStatus('p-1', 'busy', { key: 'shared-key' }));
    expect(mine.id).not.toBe(theirs.id);
    expect(mine.topic).toBe('agent:p-1');
    const [batched] = await p.publishBatch.mutate([agentStatus('p-2', 'idle', { key: 'batch-key' })]);
    const [theirsBatched] = await q.publishBatch.mutate([agentStatus('q-2', 'idle', { key: 'batch-key' })]);
    expect(theirsBatched?.topic).toBe('agent:q-2');
    expect(theirsBatched?.id).not.toBe(batched?.id);

    const ingested = await post(
      server.url,
      '/ingest',
      agentStatus('p-3', 'busy', { key: 'shared-key' }),
      publisherP.token,
    );
    expect(ingested.status).toBe(200);
    // The same key from p again: p's own first event, not q's and not a new one.
    expect(ingested.body.ids).toEqual([mine.id]);
    // The ids-only mutation answers the same ids: p's own events under p's keys, a new one for a new key.
    const { ids } = await p.ingest.mutate({
      events: [
        agentStatus('p-4', 'idle', { key: 'batch-key' }),
        agentStatus('p-5', 'idle', { key: 'fresh-key' }),
        agentStatus('p-6', 'busy', { key: 'shared-key' }),
      ],
    });
    expect(ids[0]).toBe(batched?.id);
    expect(ids[2]).toBe(mine.id);
    expect(BigInt(ids[1] ?? '0')).toBeGreaterThan(BigInt(theirsBatched?.id ?? '0'));
    expect((await q.publish.mutate(agentStatus('q-9', 'idle', { key: 'shared-key' }))).id).toBe(theirs.id);
    // A batch sent after a key goes behind the caller's own event with it: q's key is no such event for p.
    await q.publish.mutate(agentStatus('q-3', 'idle', { key: 'q-only-key' }));
    const behindTheirs = await p.ingest
      .mutate({ events: [agentStatus('p-7', 'idle')], after: 'q-only-key' })
      .catch((e: unknown) => e);
    expect(behindTheirs).toBeInstanceOf(TRPCClientError);
    expect((behindTheirs as TRPCClientError<AppRouter>).data).toMatchObject({
      code: 'PRECONDITION_FAILED',
      reason: 'out_of_order',
    });
    expect((await p.ingest.mutate({ events: [agentStatus('p-7', 'idle')], after: 'fresh-key' })).ids).toHaveLength(1);
  });

  it('cannot be squatted: another token’s events under a Claude Code session’s keys hide nothing of it', async () => {
    await using server = await start();
    const session = 'victim-session-1';
    for (const i of [0, 1]) {
      const squat = agentStatus(`squat-${i}`, 'idle', { key: `cc:${session}:SessionEnd:${i}` });
      expect((await post(server.url, '/ingest', squat, squatter.token)).status).toBe(200);
    }
    const hook = { session_id: session, hook_event_name: 'SessionEnd', reason: 'other', cwd: '/tmp' };
    expect(await post(server.url, '/ingest/claude-code', hook, victim.token)).toEqual({ status: 200, body: {} });

    await using reader = client(server.url, admin.token);
    const { events } = await reader.history.query({ topics: [`agent:${session}`, `workflow:${session}`] });
    expect(events.map((e) => e.type)).toEqual(['agent.status', 'workflow.step_completed', 'workflow.completed']);
    expect(events.map((e) => e.key)).toEqual([0, 1, 2].map((i) => `cc:${session}:SessionEnd:${i}`));
  });
});

describe('streams follow their token', () => {
  const viewer: TokenEntry = { role: 'viewer', token: 'viewer-0123456789abcdef', name: 'viewer' };
  const secret = 'a-secret-of-at-least-32-characters-for-hs256';
  const signed = (seconds: number) =>
    new SignJWT({ role: 'viewer' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('carol')
      .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
      .sign(new TextEncoder().encode(secret));

  /** An open SSE stream (`events`) and an AG-UI stream, both authenticated with `token`, each with one event. */
  async function openStreams(url: string, token: string) {
    const auth = { authorization: `Bearer ${token}` };
    const sse = readSse(subscriptionUrl(url, 'events', { lastEventId: '0' }), auth);
    const agUi = readSse(`${url}/ag-ui/wf-team-a`, auth);
    await sse.atLeast(1);
    await agUi.atLeast(1);
    return { sse, agUi };
  }

  async function expectEnded(streams: Awaited<ReturnType<typeof openStreams>>, reason: string) {
    const error = await streams.sse.waitFor('serialized-error');
    expect(error.data).toContain(reason);
    await waitUntil('the SSE stream to end', () => streams.sse.ended);
    await waitUntil('a RUN_ERROR on the AG-UI stream', () =>
      streams.agUi.data().some((m) => m.data.includes('RUN_ERROR')),
    );
    expect(streams.agUi.data().at(-1)?.data).toContain(reason);
    await waitUntil('the AG-UI stream to end', () => streams.agUi.ended);
  }

  it('ends SSE and AG-UI streams when the token is removed from the tokens file, or its scopes change', async () => {
    using dir = tempDir();
    const file = dir.file('tokens.json');
    writeFileSync(file, JSON.stringify([admin, viewer, teamA]));
    await using server = await startTestServer({
      tokens: [admin, viewer, teamA],
      tokensFile: file,
      logLevel: 'silent',
    });
    await using writer = client(server.url, admin.token);
    await writer.publish.mutate(workflowStarted('wf-team-a'));

    const removed = await openStreams(server.url, viewer.token);
    const narrowed = await openStreams(server.url, teamA.token);
    writeFileSync(file, JSON.stringify([admin, { ...teamA, scopes: { read: ['workflow:none-*'] } }]));
    await expectEnded(removed, 'token_revoked');
    expect(removed.sse.messages.find((m) => m.event === 'serialized-error')?.data).toContain(
      'no longer in the tokens file',
    );
    await expectEnded(narrowed, 'token_revoked');
    expect(narrowed.sse.messages.find((m) => m.event === 'serialized-error')?.data).toContain('new role or scopes');
  });

  it('ends them when a JWT expires; a typed client with a token function resumes over SSE with a fresh one', async () => {
    await using server = await startTestServer({ tokens: [admin], jwtSecret: secret, logLevel: 'silent' });
    await using writer = client(server.url, admin.token);
    await writer.publish.mutate(workflowStarted('wf-team-a'));
    const streams = await openStreams(server.url, await signed(2));
    await expectEnded(streams, 'token_expired');

    let signedTokens = 0;
    await using reader = createSwitchboardClient({
      url: server.url,
      transport: 'sse',
      EventSource,
      token: () => {
        signedTokens++;
        return signed(2);
      },
      reconnect: { initialMs: 20, maxMs: 20 },
    });
    using watching = collect(reader.events, { lastEventId: '0' });
    await watching.atLeast(1);
    // Past the first token's expiry: its stream was ended and resumed with a second token, from its cursor.
    await waitUntil('a second token', () => signedTokens >= 2);
    await writer.publish.mutate(workflowStarted('wf-2'));
    await watching.atLeast(2);
    expect(watching.items.map((item) => item.data.id)).toEqual(['1', '2']);
    expect(watching.errors).toEqual([]);
  });
});

describe('cheap to match, bounded to parse', () => {
  it('answers a publish at once while subscriptions hold patterns that a backtracking matcher takes ages over', async () => {
    await using server = await startTestServer({ tokens: [...tokens] });
    await using reader = client(server.url, admin.token);
    await using writer = client(server.url, admin.token);
    const hostile = 'workflow:a-********!';
    const watchers = [0, 1, 2].map(() => collect(reader.events, { topics: [hostile] }));
    for (const watching of watchers) await watching.started();
    // A topic of `a`s that never ends in `!`: a regular expression with eight `.*` tries every split of it.
    const id = `a-${'a'.repeat(limits.idLength - 2)}`;
    const stored = await writer.publish.mutate(workflowStarted(id));
    expect(stored.topic).toBe(`workflow:${id}`);
    expect(
      healthSchema.parse(
        await (await fetch(`${server.url}/healthz`, { headers: { authorization: `Bearer ${admin.token}` } })).json(),
      ).headEventId,
    ).toBe('1');
    for (const watching of watchers) watching[Symbol.dispose]();
  });

  it('refuses JSON nested past limits.jsonDepth with a 400 naming the limit, on every edge, and logs no error', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ logLevel: 'warn', logFormat: 'json' }, destination);
    await using server = await startTestServer({ tokens: [...tokens], logger });
    const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const event = (depth: number) =>
      `{"type":"agent.log","data":{"agentId":"a","level":"info","message":"m","context":{"x":${deep(depth)}}}}`;
    for (const depth of [limits.jsonDepth + 10, 400_000]) {
      const ingest = await post(server.url, '/ingest', event(depth), admin.token);
      expect(ingest.status).toBe(400);
      expect(ingest.body.error).toContain('limits.jsonDepth');
      const hook = await post(
        server.url,
        '/ingest/claude-code',
        `{"session_id":"s","hook_event_name":"Stop","x":${deep(depth)}}`,
        admin.token,
      );
      expect(hook.status).toBe(400);
      const trpc = await post(server.url, '/trpc/publish', `{"json":${event(depth)}}`, admin.token);
      expect(trpc.status).toBe(400);
      expect(JSON.stringify(trpc.body)).toContain('limits.jsonDepth');
    }
    await using writer = client(server.url, admin.token);
    const nested = { x: JSON.parse(deep(limits.jsonDepth + 10)) as JsonValue };
    const overWs = await errorOf(
      writer.publish.mutate({
        type: 'agent.log',
        data: { agentId: 'a', level: 'info', message: 'm', context: nested },
      }),
    );
    // Refused as the input is decoded, before any schema: a parse error (400), naming the limit.
    expect(overWs).toMatchObject({ code: 'PARSE_ERROR' });
    expect(overWs.message).toContain('limits.jsonDepth');
    // An event as deep as the limit allows (the event object, data, context and x are four of its levels) is
    // stored on every edge, alone or in a batch; one level more is refused on every edge alike.
    const edge = limits.jsonDepth - 3;
    expect((await post(server.url, '/ingest', event(edge), admin.token)).status).toBe(200);
    expect((await post(server.url, '/ingest', `[${event(edge)}]`, admin.token)).status).toBe(200);
    expect((await post(server.url, '/trpc/publish', `{"json":${event(edge)}}`, admin.token)).status).toBe(200);
    expect((await post(server.url, '/trpc/publishBatch', `{"json":[${event(edge)}]}`, admin.token)).status).toBe(200);
    expect((await post(server.url, '/ingest', event(edge + 1), admin.token)).status).toBe(400);
    expect((await post(server.url, '/ingest', `[${event(edge + 1)}]`, admin.token)).status).toBe(400);
    expect((await post(server.url, '/trpc/publish', `{"json":${event(edge + 1)}}`, admin.token)).status).toBe(400);
    expect((await post(server.url, '/trpc/publishBatch', `{"json":[${event(edge + 1)}]}`, admin.token)).status).toBe(
      400,
    );
    expect(lines.filter((line) => line.includes('"level":50'))).toEqual([]);
  });

  it('refuses input with shared references before any validator walks it, and decodes nothing without a token', async () => {
    await using server = await startTestServer({ tokens: [...tokens] });
    // superjson's way of saying "the same object as": each level pointing twice at the next doubles the paths.
    const aliased = {
      json: { topics: ['agent:*'], types: ['agent.status'] },
      meta: { referentialEqualities: { topics: ['types'] }, v: 1 },
    };
    const url = `${server.url}/trpc/history?input=${encodeURIComponent(JSON.stringify(aliased))}`;
    // The role is checked before the input is read: a caller without a token never gets it decoded.
    expect((await fetch(url)).status).toBe(401);
    const res = await fetch(url, { headers: { authorization: `Bearer ${teamA.token}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('shared references');
  });

  it('serves subscriptions over HTTP only through the SSE transport that follows tokens', async () => {
    await using server = await startTestServer({ tokens: [...tokens] });
    const input = encodeURIComponent(JSON.stringify({ json: { lastEventId: '0' } }));
    for (const spelling of ['/trpc/events/', '/trpc/%65vents']) {
      const res = await fetch(`${server.url}${spelling}?input=${input}`, {
        headers: { authorization: `Bearer ${admin.token}` },
      });
      const text = await res.text();
      expect(text).toContain('METHOD_NOT_SUPPORTED');
      expect(text).not.toContain('"type"');
    }
  });

  it('tells a caller without a token only whether the server is up while tokens are configured', async () => {
    await using server = await startTestServer({ tokens: [...tokens] });
    const stranger = (await (await fetch(`${server.url}/healthz`)).json()) as unknown;
    expect(stranger).toEqual({ status: 'ok' });
    expect(healthSummarySchema.strict().safeParse(stranger).success).toBe(true);
    const wrong = (await (
      await fetch(`${server.url}/healthz`, { headers: { authorization: 'Bearer not-a-token-at-all' } })
    ).json()) as unknown;
    expect(wrong).toEqual({ status: 'ok' });
    const known = await fetch(`${server.url}/healthz`, { headers: { authorization: `Bearer ${teamA.token}` } });
    expect(healthSchema.parse(await known.json()).headEventId).toBe('0');
  });
});

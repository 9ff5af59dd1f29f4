/**
 * Tokens and roles on every path: tRPC over WebSocket (connectionParams) and HTTP (Bearer), /ingest, /metrics.
 */
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { TRPCClientError, createTRPCClient, httpLink } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSwitchboardClient } from '../../client/index.js';
import { ConfigError, loadConfig } from '../../server/ops/config.js';
import { createLogger } from '../../server/ops/log.js';
import type { AppRouter } from '../../server/routers/_app.js';
import { transformer } from '@switchboard/shared';
import { agentStatus } from '../fixtures.js';
import { collect, startTestServer, tempDir } from '../harness.js';

const tokens = {
  publisher: 'pub-0123456789abcdef',
  viewer: 'view-0123456789abcdef',
  admin: 'admin-0123456789abcdef',
};
const tokenConfig = Object.entries(tokens).map(([role, token]) => ({ role: role as 'publisher', token }));

const client = (url: string, token?: string) =>
  createSwitchboardClient({
    url,
    WebSocket,
    reconnect: { initialMs: 20, maxMs: 20 },
    ...(token !== undefined && { token }),
  });

const codeOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error.data as { code: string }).code : String(error);

describe('auth', () => {
  it('checks the role of every WebSocket call', async () => {
    const logged: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged.push(chunk.toString());
        done();
      },
    });
    await using server = await startTestServer({
      tokens: tokenConfig,
      logger: createLogger({ logLevel: 'debug', logFormat: 'json' }, sink),
    });
    await using anonymous = client(server.url);
    await using wrong = client(server.url, 'not-a-real-token-at-all');
    await using viewer = client(server.url, tokens.viewer);
    await using publisher = client(server.url, tokens.publisher);
    await using admin = client(server.url, tokens.admin);

    for (const c of [anonymous, wrong]) {
      expect(codeOf(await c.publish.mutate(agentStatus('a')).catch((e: unknown) => e))).toBe('UNAUTHORIZED');
      using sub = collect(c.events, {});
      await sub.failed();
      expect(codeOf(sub.errors[0])).toBe('UNAUTHORIZED');
    }
    const forbidden: unknown = await viewer.publish.mutate(agentStatus('a')).catch((e: unknown) => e);
    expect(codeOf(forbidden)).toBe('FORBIDDEN');
    expect((forbidden as Error).message).toBe('token "viewer-2" has role viewer; this needs publisher or admin');
    expect(codeOf(await publisher.history.query({}).catch((e: unknown) => e))).toBe('FORBIDDEN');

    using watching = collect(viewer.events, { lastEventId: '0' });
    await watching.started();
    await publisher.publish.mutate(agentStatus('a'));
    await admin.publish.mutate(agentStatus('b'));
    await watching.atLeast(2);
    expect((await admin.history.query({})).events).toHaveLength(2);

    // Tokens never reach the log, whatever happened above.
    const log = logged.join('');
    for (const token of Object.values(tokens)) expect(log).not.toContain(token);
    expect(log).not.toContain('not-a-real-token-at-all');
  });

  it('checks Bearer tokens on tRPC over HTTP, /ingest and /metrics', async () => {
    await using server = await startTestServer({ tokens: tokenConfig });
    const http = (token?: string) =>
      createTRPCClient<AppRouter>({
        links: [
          httpLink({
            url: `${server.url}/trpc`,
            transformer,
            headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
          }),
        ],
      });
    expect(
      codeOf(
        await http()
          .agents.query()
          .catch((e: unknown) => e),
      ),
    ).toBe('UNAUTHORIZED');
    expect(await http(tokens.viewer).agents.query()).toEqual([]);

    const ingest = (token?: string) =>
      fetch(`${server.url}/ingest`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token !== undefined && { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify(agentStatus('hook')),
      });
    expect((await ingest()).status).toBe(401);
    const refused = await ingest(tokens.viewer);
    expect(refused.status).toBe(403);
    // The same role rule and message as a tRPC call's FORBIDDEN.
    expect(await refused.json()).toEqual({ error: 'token "viewer-2" has role viewer; this needs publisher or admin' });
    expect((await ingest(tokens.publisher)).status).toBe(200);

    const metrics = (token?: string) =>
      fetch(`${server.url}/metrics`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    expect((await metrics()).status).toBe(401);
    expect((await metrics(tokens.publisher)).status).toBe(403);
    const ok = await metrics(tokens.admin);
    expect(ok.status).toBe(200);
    const text = await ok.text();
    for (const name of [
      'switchboard_connections',
      'switchboard_subscriptions',
      'switchboard_events_appended_total 1',
      'switchboard_events_delivered_total',
      'switchboard_publish_seconds_bucket',
      'switchboard_delivery_seconds_bucket',
      'switchboard_slow_consumer_disconnects_total',
      'switchboard_rejected_requests_total{reason="unauthorized"} 3',
      'switchboard_rejected_requests_total{reason="forbidden"} 2',
      'switchboard_database_bytes',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('refuses to listen beyond loopback without tokens, and reads tokens from env and file', () => {
    expect(() => loadConfig(['--host', '0.0.0.0'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--host', '0.0.0.0'], {})).toThrow(/refusing to listen on 0.0.0.0 without tokens/);
    expect(loadConfig(['--host', '::1'], {}).host).toBe('::1');
    using dir = tempDir();
    const file = dir.file('tokens.json');
    // A file with one admin, and the environment with a publisher: both count.
    writeFileSync(file, JSON.stringify([{ role: 'admin', token: tokens.admin, name: 'ops' }]));
    const config = loadConfig(['--host', '0.0.0.0', '--tokens-file', file], {
      SWITCHBOARD_TOKENS: `publisher:${tokens.publisher}`,
    });
    expect(config.tokens.map((t) => t.role)).toEqual(['publisher', 'admin']);
    const secret = 'tiny-secret';
    const error: unknown = (() => {
      try {
        return loadConfig([], { SWITCHBOARD_TOKENS: `viewer:${secret}` });
      } catch (e) {
        return e;
      }
    })();
    expect((error as Error).message).toMatch(/at least 16 characters/);
    // The error names the entry, never the secret.
    expect((error as Error).message).not.toContain(secret);
  });
});

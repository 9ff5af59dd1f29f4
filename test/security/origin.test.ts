/**
 * The browser-origin defence over raw HTTP and WebSocket: Host while bound to loopback (DNS rebinding), Origin
 * on upgrades and state-changing requests, JSON-only content types, CORS for the allowlist only. Clients that
 * send no Origin (the CLI, the Publisher, curl) are unaffected.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createPublisher } from '../../client/index.js';
import { ConfigError, loadConfig } from '../../server/ops/config.js';
import { agentStatus } from '../fixtures.js';
import { connect, startTestServer } from '../harness.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request, so that Host and Origin are exactly what a hostile page would send. */
function raw(url: string, method: string, path: string, headers: Record<string, string>, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A WebSocket upgrade: resolves with the HTTP status and body of a refusal, or 101 when it opened. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/trpc`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: text });
      });
    });
    ws.on('error', reject);
  });
}

const event = JSON.stringify(agentStatus('a'));
const json = { 'content-type': 'application/json' };

describe('origin and host checks', () => {
  it('refuses foreign Host headers while bound to loopback (DNS rebinding), over HTTP and WebSocket', async () => {
    await using server = await startTestServer();
    const port = String(server.port);
    const history = '/trpc/history?input=%7B%22json%22%3A%7B%7D%7D';
    const rebound = await raw(server.url, 'GET', history, { host: `evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toEqual({ error: expect.stringContaining('SWITCHBOARD_ALLOWED_HOSTS') as string });
    expect(await upgrade(server.url, { host: `evil.example:${port}` })).toEqual({
      status: 403,
      body: expect.stringMatching(
        /^Host "evil\.example:\d+" is not this server.*SWITCHBOARD_ALLOWED_HOSTS.*\n$/,
      ) as string,
    });
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost']) {
      expect((await raw(server.url, 'GET', history, { host })).status).toBe(200);
    }
    expect((await upgrade(server.url, { host: `LOCALHOST:${port}` })).status).toBe(101);
  });

  it('accepts hosts from SWITCHBOARD_ALLOWED_HOSTS', async () => {
    const { allowedHosts } = loadConfig([], { SWITCHBOARD_ALLOWED_HOSTS: 'hub.test, dev.local:8765' });
    expect(allowedHosts).toEqual(['hub.test', 'dev.local']);
    await using server = await startTestServer({ allowedHosts });
    expect((await raw(server.url, 'GET', '/healthz', { host: 'hub.test:1' })).status).toBe(200);
    expect((await raw(server.url, 'GET', '/healthz', { host: 'other.test' })).status).toBe(403);
  });

  it('refuses foreign Origins on upgrades and writes, and counts and logs each once', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    const evil = { origin: 'https://evil.example' };
    expect(await upgrade(server.url, evil)).toEqual({
      status: 403,
      body: 'Origin "https://evil.example" may not use this server from a browser: allow it with SWITCHBOARD_ALLOWED_ORIGINS / --allowed-origins\n',
    });
    const ingest = await raw(server.url, 'POST', '/ingest', { ...json, ...evil }, event);
    expect(ingest.status).toBe(403);
    expect(JSON.parse(ingest.body)).toEqual({
      error: expect.stringContaining('SWITCHBOARD_ALLOWED_ORIGINS') as string,
    });
    const publish = await raw(server.url, 'POST', '/trpc/publish', { ...json, ...evil }, JSON.stringify({ json: {} }));
    expect(publish.status).toBe(403);
    // The server's own origin (the dashboard) is accepted under any loopback name.
    expect((await upgrade(server.url, { origin: server.url })).status).toBe(101);
    const own = `http://localhost:${String(server.port)}`;
    const mine = await raw(server.url, 'POST', '/ingest', { ...json, origin: own, host: own.slice(7) }, event);
    expect(mine.status).toBe(200);
    // A Host that is no valid authority is answered, not a crash.
    const garbled = await raw(server.url, 'POST', '/ingest', { ...json, ...evil, host: 'localhost:abc' }, event);
    expect(garbled.status).toBe(403);
    // Reads carry no Origin check: without CORS the page cannot read the answer.
    expect((await raw(server.url, 'GET', '/healthz', evil)).status).toBe(200);

    expect((await client.history.query({})).events.map((e) => e.id)).toEqual(['1']);
    const metrics = await raw(server.url, 'GET', '/metrics', {});
    expect(metrics.body).toContain('switchboard_rejected_requests_total{reason="origin"} 4');
  });

  it('takes only JSON content types on /ingest and tRPC over HTTP', async () => {
    await using server = await startTestServer();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const answer = await raw(server.url, 'POST', '/ingest', { 'content-type': type }, event);
      expect(answer.status).toBe(415);
      expect(JSON.parse(answer.body)).toEqual({
        error: `content-type "${type.split(';')[0] ?? ''}" is not accepted here; send application/json or application/x-ndjson`,
      });
      const trpc = await raw(
        server.url,
        'POST',
        '/trpc/publish',
        { 'content-type': type },
        JSON.stringify({ json: {} }),
      );
      expect(trpc.status).toBe(415);
    }
    expect((await raw(server.url, 'POST', '/ingest', {}, event)).status).toBe(415);
    const utf8 = await raw(server.url, 'POST', '/ingest', { 'content-type': 'application/json; charset=utf-8' }, event);
    expect(utf8).toMatchObject({ status: 200, body: '{"ids":["1"]}' });
    const metrics = await raw(server.url, 'GET', '/metrics', {});
    expect(metrics.body).toContain('switchboard_rejected_requests_total{reason="content_type"} 7');
  });

  it('answers CORS only for allowlisted origins, preflight included', async () => {
    const app = 'http://localhost:5173';
    const { allowedOrigins } = loadConfig(['--allowed-origins', `${app}/,https://app.example.com`], {});
    expect(allowedOrigins).toEqual([app, 'https://app.example.com']);
    expect(() => loadConfig([], { SWITCHBOARD_ALLOWED_ORIGINS: 'not an origin' })).toThrow(ConfigError);
    await using server = await startTestServer({ allowedOrigins });
    const preflight = (origin: string) =>
      raw(server.url, 'OPTIONS', '/ingest', {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      });
    const allowed = await preflight(app);
    expect(allowed.status).toBe(204);
    expect(allowed.headers).toMatchObject({
      'access-control-allow-origin': app,
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': expect.stringContaining('content-type') as string,
    });
    const foreign = await preflight('https://evil.example');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();

    const posted = await raw(server.url, 'POST', '/ingest', { ...json, origin: app }, event);
    expect(posted.status).toBe(200);
    expect(posted.headers['access-control-allow-origin']).toBe(app);
    expect((await upgrade(server.url, { origin: app })).status).toBe(101);
    const read = await raw(server.url, 'GET', '/healthz', { origin: 'https://evil.example' });
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('leaves clients without Origin alone: the typed client, the Publisher, curl-like requests', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    const publisher = createPublisher({ url: server.url, WebSocket, retry: { initialMs: 20, maxMs: 50 } });
    expect(publisher.publish(agentStatus('p')).accepted).toBe(true);
    await publisher.flush(10_000);
    await publisher.close();
    expect((await raw(server.url, 'POST', '/ingest', json, event)).status).toBe(200);
    await client.publish.mutate(agentStatus('c'));
    expect((await client.history.query({})).events).toHaveLength(3);
  });
});

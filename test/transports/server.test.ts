/**
 * The server as users run it: `/healthz`, HTTP and WebSocket on one port, and the `npm start` entry in a child
 * process (start-up failures are one line and a non-zero exit; SIGTERM exits 0).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createTRPCClient, httpLink } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import type { AppRouter } from '../../server/routers/_app.js';
import { ConfigError, loadConfig } from '../../server/ops/config.js';
import { healthAnswerSchema, healthSchema, parseCursor, transformer } from '@switchboard/shared';
import { agentStatus } from '../fixtures.js';
import { collect, connect, startTestServer, tempDir, waitUntil } from '../harness.js';

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `server/entry/main.ts` as `npm start` does, in a child process. */
function runMain(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/entry/main.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => {
    out.stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    out.stderr += chunk.toString();
  });
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code) => {
      resolve({ code, ...out });
    });
  });
  return { child, out, exited };
}

describe('http', () => {
  it('answers /healthz with status, uptime, connections, head id and the log epoch', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    await client.publish.mutate(agentStatus('a'));
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    // The contract's schema: every field present and of its type (uptime a number, the engines named).
    const body = healthSchema.parse(await res.json());
    expect(body).toMatchObject({
      status: 'ok',
      connections: 1,
      headEventId: '1',
      store: { engine: 'sqlite', state: 'up' },
      bus: { engine: 'memory', state: 'up' },
    });
    // The log's epoch, as every cursor the server sends carries it.
    const { nextCursor } = await client.history.query({ limit: 1 });
    expect(parseCursor(nextCursor)?.epoch).toBe(body.epoch);
    // A server from before the epoch was in the body: what the CLI reads of it is still the whole body.
    const older: Record<string, unknown> = { ...body };
    delete older.epoch;
    expect(healthAnswerSchema.parse(older)).toMatchObject({ headEventId: '1', connections: 1 });
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
  });

  it('serves tRPC over HTTP on the same port, and streams to WebSocket subscribers', async () => {
    await using server = await startTestServer();
    await using ws = connect(server.url);
    using sub = collect(ws.agentStatus, {});
    await sub.started();
    const http = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${server.url}/trpc`, transformer })] });
    const stored = await http.publish.mutate(agentStatus('via-http'));
    await sub.atLeast(1);
    expect(sub.items[0]?.data).toEqual(stored);
    expect((await http.agents.query()).map((a) => a.data.agentId)).toEqual(['via-http']);
  });

  it('restarts on the same file with its history intact', async () => {
    using dir = tempDir();
    const db = dir.file('restart.db');
    {
      await using server = await startTestServer({ db });
      await using client = connect(server.url);
      await client.publishBatch.mutate([agentStatus('a'), agentStatus('b')]);
    }
    await using server = await startTestServer({ db });
    await using client = connect(server.url);
    expect((await client.agents.query()).map((a) => a.id)).toEqual(['1', '2']);
    expect((await client.publish.mutate(agentStatus('c'))).id).toBe('3');
  });
});

describe('configuration', () => {
  it('reads flags over environment over defaults', () => {
    expect(loadConfig([], {})).toEqual({
      host: '127.0.0.1',
      port: 8765,
      db: './data/switchboard.db',
      durability: 'full',
      pgSchema: 'public',
      busChannel: 'switchboard',
      headCheckMs: 1_000,
      pgTimeoutMs: 10_000,
      tokens: [],
      maxConnections: 1_000,
      maxSubscriptions: 100,
      maxMessageBytes: 1_048_576,
      publishRate: 100_000,
      publishBurst: 200_000,
      slowConsumerBytes: 4_194_304,
      pingMs: 30_000,
      pongWaitMs: 10_000,
      ssePingMs: 15_000,
      sseStallMs: 30_000,
      sseRetryMs: 1_000,
      presenceTtlMs: 60_000,
      retentionDays: 30,
      retentionRows: 0,
      logLevel: 'info',
      logFormat: 'json',
      allowedOrigins: [],
      allowedHosts: [],
    });
    expect(loadConfig(['--port', '9000'], { SWITCHBOARD_PORT: '8000', SWITCHBOARD_DB: ':memory:' })).toMatchObject({
      port: 9000,
      db: ':memory:',
    });
  });

  it('names the setting in one line when a value is bad', () => {
    expect(() => loadConfig([], { SWITCHBOARD_PORT: 'abc' })).toThrow(/--port \/ SWITCHBOARD_PORT \("abc"\)/);
    expect(() => loadConfig(['--port', '70000'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--durability', 'maybe'], {})).toThrow(/--durability/);
    expect(() => loadConfig(['--nope'], {})).toThrow(/Unknown option '--nope'/);
  });
});

describe('npm start', () => {
  it('prints the chosen port for port 0, serves, and exits 0 on SIGTERM', { timeout: 20_000 }, async () => {
    using dir = tempDir();
    const main = runMain(['--port', '0', '--db', dir.file('main.db')]);
    const address = () => /listening on (http:\/\/\S+) /.exec(main.out.stdout)?.[1] ?? '';
    await waitUntil('the server to print its address', () => address() !== '', 15_000);
    const url = address();
    const health = healthSchema.parse(await (await fetch(`${url}/healthz`)).json());
    expect(health.status).toBe('ok');
    expect(url).not.toContain(':8765');
    // A stored event starts the store's checkpoint worker, which shutdown must stop for the process to exit 0.
    const stored = await fetch(`${url}/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(agentStatus('sigterm')),
    });
    expect(stored.status).toBe(200);
    main.child.kill('SIGTERM');
    const result = await main.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('SIGTERM, shutting down');
  });

  it(
    'exits non-zero with one clear line on a bad value, a taken port or an unusable database',
    { timeout: 30_000 },
    async () => {
      using dir = tempDir();
      const bad = await runMain([], { SWITCHBOARD_PORT: 'eighty' }).exited;
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^switchboard: invalid --port \/ SWITCHBOARD_PORT/),
      ]);

      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const address = blocker.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      try {
        const taken = await runMain(['--port', String(port), '--db', dir.file('x.db')]).exited;
        expect(taken.code).toBe(1);
        expect(taken.stderr.trim().split('\n')).toEqual([
          `switchboard: cannot listen on 127.0.0.1:${port}: the port is already in use (stop the other process or choose another --port / SWITCHBOARD_PORT)`,
        ]);
      } finally {
        blocker.close();
      }

      // A database path under a regular file can never be created, whoever runs the test (root included).
      writeFileSync(dir.file('not-a-folder'), '');
      const unusable = await runMain(['--port', '0', '--db', dir.file('not-a-folder/switchboard.db')]).exited;
      expect(unusable.code).toBe(1);
      expect(unusable.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^switchboard: cannot open database .*not-a-folder\/switchboard\.db: /),
      ]);
    },
  );
});

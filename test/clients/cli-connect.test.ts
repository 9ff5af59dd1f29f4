/**
 * The command line never waits in silence: every command against a port where nothing listens either fails
 * within --connect-timeout with one line saying why, or (watch) says what it waits for and keeps trying; SIGINT
 * and SIGTERM end every command at once, in-process and as a real process, under `npm run` too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createPublisher } from '../../client/publisher.js';
import { run } from '../../server/entry/cli.js';
import { systemNotification } from '../fixtures.js';
import { connect, startTestServer, waitUntil } from '../harness.js';
import { healthSchema } from '@switchboard/shared';

/** A loopback port that was free a moment ago: bound, then closed, so a connection there is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP listener that accepts and never answers: a WebSocket handshake to it waits until someone gives up. */
async function silentListener(): Promise<{ port: number; sockets: Socket[] } & AsyncDisposable> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    sockets,
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function capture() {
  const out = { text: '', write: (t: string) => (out.text += t) };
  return out;
}

async function cli(argv: string[], signal?: AbortSignal) {
  const stdout = capture();
  const stderr = capture();
  const code = await run({ argv, stdout, stderr, env: {}, stdin: Readable.from([]), ...(signal && { signal }) });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const notification = JSON.stringify(systemNotification('hello').data);

/** The child's exit code (or signal), once it exits; fails the test if that takes longer than `ms`. */
function exitWithin(child: ChildProcess, ms: number): Promise<number | string | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`still running ${ms} ms after the signal`));
    }, ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
  });
}

function spawnCli(command: string, args: string[], options: { detached?: boolean } = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  return { child, output };
}

describe('a hub that is not there', () => {
  it('emit, history, demo and watch --no-retry give up after --connect-timeout, in one line', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const refused = new RegExp(
      `^switchboard: cannot reach ws://127\\.0\\.0\\.1:${port}/trpc: connection refused \\(is the server running, on this port\\?\\); gave up after 1 s \\(--connect-timeout\\)\\n$`,
    );
    const commands = [
      ['emit', 'system.notification', '--data', notification],
      ['history'],
      ['demo', '--duration', '1'],
      ['watch', 'events', '--no-retry'],
    ];
    const started = Date.now();
    const results = await Promise.all(commands.map((argv) => cli([...argv, '--url', url, '--connect-timeout', '1'])));
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const [i, result] of results.entries()) {
      const what = commands[i]?.join(' ');
      expect(result.code, what).toBe(1);
      expect(result.stdout, what).toBe('');
      expect(result.stderr, what).toMatch(refused);
    }
    expect(await cli(['status', '--url', url])).toEqual({
      code: 1,
      stdout: '',
      stderr: `switchboard: cannot reach http://127.0.0.1:${port}: connection refused (is the server running, on this port?)\n`,
    });
    expect((await cli(['history', '--connect-timeout', 'soon'])).code).toBe(2);
  });

  it('a server that accepts and never answers: the same timeout, saying so', async () => {
    await using silent = await silentListener();
    const result = await cli(['history', '--url', `http://127.0.0.1:${silent.port}`, '--connect-timeout', '0.3']);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `switchboard: no answer from ws://127.0.0.1:${silent.port}/trpc; gave up after 0.3 s (--connect-timeout)\n`,
    });
  });

  it('watch says what it waits for, keeps trying, and streams once the hub starts', { timeout: 20_000 }, async () => {
    const port = await closedPort();
    const controller = new AbortController();
    const stdout = capture();
    const stderr = capture();
    const watching = run({
      argv: ['watch', 'events', '--from', '0', '--json', '--url', `http://127.0.0.1:${port}`],
      stdout,
      stderr,
      env: {},
      signal: controller.signal,
    });
    await waitUntil('the waiting line', () => stderr.text.includes('; retrying\n'));
    expect(stderr.text).toBe(
      `switchboard: waiting for ws://127.0.0.1:${port}/trpc … (Ctrl-C to stop)\n` +
        `switchboard: cannot reach ws://127.0.0.1:${port}/trpc: connection refused (is the server running, on this port?); retrying\n`,
    );
    await using server = await startTestServer({ port });
    await using client = connect(server.url);
    await client.publishBatch.mutate([systemNotification('late')]);
    await waitUntil('the event', () => stdout.text.includes('"id":"1"'));
    expect(stderr.text).toContain(`switchboard: connected to ws://127.0.0.1:${port}/trpc; resuming after #0\n`);
    controller.abort('SIGINT');
    expect(await watching).toBe(0);
  });

  it('watch --no-retry ends with exit 1 when an open connection is lost', async () => {
    await using server = await startTestServer();
    const stdout = capture();
    const stderr = capture();
    const watching = run({ argv: ['watch', 'events', '--no-retry', '--url', server.url], stdout, stderr, env: {} });
    await vi.waitFor(
      async () => {
        const health = healthSchema.parse(await (await fetch(`${server.url}/healthz`)).json());
        if (health.subscriptions === 0) throw new Error('still waiting for the subscription');
      },
      { timeout: 10_000, interval: 20 },
    );
    server.dropConnections();
    expect(await watching).toBe(1);
    expect(stderr.text).toMatch(/^switchboard: connection lost: .+; not retrying \(--no-retry\)\n$/);
  });

  it('the Publisher and the client state name the cause, not "Initialization error"', async () => {
    const port = await closedPort();
    const reasons: string[] = [];
    const publisher = createPublisher({
      url: `http://127.0.0.1:${port}`,
      WebSocket,
      requestTimeoutMs: 200,
      onRetry: (error) => reasons.push(error.message),
    });
    publisher.publish(systemNotification('lost'));
    await waitUntil('a retry', () => reasons.length > 0);
    expect(await publisher.close(0)).toEqual({ unsent: 1 });
    expect(reasons[0]).toBe(
      `cannot reach ws://127.0.0.1:${port}/trpc: connection refused (is the server running, on this port?)`,
    );
  });
});

describe('SIGINT and SIGTERM', () => {
  it('end a command that is still connecting, in-process', async () => {
    await using silent = await silentListener();
    const controller = new AbortController();
    const running = cli(
      ['emit', 'system.notification', '--data', notification, '--url', `http://127.0.0.1:${silent.port}`],
      controller.signal,
    );
    await waitUntil('the connection attempt', () => silent.sockets.length > 0);
    controller.abort('SIGTERM');
    expect(await running).toEqual({
      code: 143,
      stdout: '',
      stderr: `switchboard: stopped by SIGTERM while waiting for ws://127.0.0.1:${silent.port}/trpc\n`,
    });
  });

  it('end the real executable at once: emit while connecting, watch while retrying', { timeout: 30_000 }, async () => {
    await using silent = await silentListener();
    const emit = spawnCli(process.execPath, [
      '--import',
      'tsx',
      'server/entry/bin.ts',
      'emit',
      'system.notification',
      '--data',
      notification,
      '--url',
      `http://127.0.0.1:${silent.port}`,
      '--connect-timeout',
      '60',
    ]);
    await waitUntil('emit to connect', () => silent.sockets.length > 0);
    emit.child.kill('SIGINT');
    expect(await exitWithin(emit.child, 5_000)).toBe(130);
    expect(emit.output.stderr).toBe(
      `switchboard: stopped by SIGINT while waiting for ws://127.0.0.1:${silent.port}/trpc\n`,
    );

    const port = await closedPort();
    const watch = spawnCli(process.execPath, [
      '--import',
      'tsx',
      'server/entry/bin.ts',
      'watch',
      'events',
      '--url',
      `http://127.0.0.1:${port}`,
    ]);
    await waitUntil('watch to say it waits', () => watch.output.stderr.includes('waiting for'));
    watch.child.kill('SIGTERM');
    expect(await exitWithin(watch.child, 5_000)).toBe(0);
  });

  it(
    'under npm run, the signal npm gets ends the command and leaves no process behind',
    { timeout: 30_000 },
    async () => {
      const port = await closedPort();
      // Its own process group, as a shell job: the group is empty once every process of the run has exited.
      const npm = spawnCli(
        'npm',
        ['run', '-s', 'switchboard', '--', 'watch', 'events', '--url', `http://127.0.0.1:${port}`],
        {
          detached: true,
        },
      );
      const group = npm.child.pid ?? 0;
      const alive = () => {
        try {
          process.kill(-group, 0);
          return true;
        } catch {
          // ESRCH: no process is left in the group.
          return false;
        }
      };
      try {
        await waitUntil('watch to say it waits', () => npm.output.stderr.includes('waiting for'), 20_000);
        npm.child.kill('SIGTERM');
        expect(await exitWithin(npm.child, 5_000)).toBe(0);
        await waitUntil('every process of the run to exit', () => !alive(), 5_000);
      } finally {
        if (alive()) process.kill(-group, 'SIGKILL');
      }
    },
  );
});

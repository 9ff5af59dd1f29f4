/**
 * Start-up is one owned stack of resources: whatever was opened before a step failed (the tokens file watcher,
 * the store, the listening socket) is closed, and the process ends non-zero within seconds with one line. Real
 * server processes; the engines that fail are loopback ports nothing listens on.
 */
import { writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ResourceStack } from '../../server/ops/resources.js';
import { agentLog } from '../fixtures.js';
import { describeWith, pgSchema, pgUrl } from '../engines.js';
import { connect, startProcess, startTestServer, tempDir } from '../harness.js';

/** Nothing listens on port 1 of loopback, and nothing unprivileged can. */
const closedPort = 1;
const token = { role: 'admin', token: 'startup-test-admin-token-0001', name: 'ops' };

function tokensFile(dir: { file: (name: string) => string }): string {
  const file = dir.file('tokens.json');
  writeFileSync(file, JSON.stringify([token]));
  return file;
}

/** True once a TCP connection to the port is refused: nothing listens there any more. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => {
      resolve(true);
    });
  });
}

/** Runs `npm start` with these arguments and expects it to end by itself, non-zero, with one line on stderr. */
async function expectFailsFast(argv: string[], line: RegExp) {
  await using server = await startProcess([...argv, '--log-level', 'silent'], 10_000);
  const code = await server.exited;
  expect(server.listening()).toBe(false);
  expect(code).toBe(1);
  expect(server.output.stderr.trim().split('\n')).toEqual([expect.stringMatching(line)]);
}

describe('npm start with flags it does not take, or --help', () => {
  it(
    'refuses an unknown flag, pointing at --help, and prints the settings for --help',
    { timeout: 30_000 },
    async () => {
      await using wrong = await startProcess(['--prot', '9000'], 10_000);
      expect(await wrong.exited).toBe(2);
      expect(wrong.output.stderr).toBe("switchboard: Unknown option '--prot'; --help lists the options\n");
      await using help = await startProcess(['--help'], 10_000);
      expect(await help.exited).toBe(0);
      expect(help.listening()).toBe(false);
      expect(help.output.stdout).toMatch(/^Usage: switchboard serve \[--flag value\]\.\.\.\n/);
      expect(help.output.stdout).toMatch(/^ {2}--port +SWITCHBOARD_PORT +8765$/m);
    },
  );
});

describe('a failed start-up', () => {
  it('ends the process with a tokens file set and PostgreSQL unreachable', { timeout: 30_000 }, async () => {
    using dir = tempDir();
    await expectFailsFast(
      ['--port', '0', '--tokens-file', tokensFile(dir), '--db', `postgres://postgres@127.0.0.1:${closedPort}/test`],
      /^switchboard: cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/test/,
    );
  });

  it('ends the process when something fails after listen, and frees the port and the file', async () => {
    using dir = tempDir();
    const db = dir.file('hub.db');
    {
      await using before = await startTestServer({ db });
      await using client = connect(before.url);
      await client.publish.mutate(agentLog('a-1', 'stored before'));
    }
    const { default: faulty } = await import('../catalogues/faulty-has.js');
    const port = await freePort();
    await expect(startTestServer({ db, port, tokensFile: tokensFile(dir), catalogue: faulty })).rejects.toThrow(
      'catalogue bug: has() failed',
    );
    expect(await refused(port)).toBe(true);
    // The store and its lock were released: the same file serves again.
    await using after = await startTestServer({ db });
    await using client = connect(after.url);
    expect((await client.history.query({})).events).toHaveLength(1);
  });

  it('ends the real process when something fails after listen', { timeout: 30_000 }, async () => {
    using dir = tempDir();
    const db = dir.file('hub.db');
    {
      await using before = await startTestServer({ db });
      await using client = connect(before.url);
      await client.publish.mutate(agentLog('a-1', 'stored before'));
    }
    await using server = await startProcess(
      ['--port', '0', '--db', db, '--tokens-file', tokensFile(dir), '--events', 'test/catalogues/faulty-has.ts'],
      10_000,
    );
    // It listened, then failed: it must still end by itself, non-zero, and say why.
    expect(await server.exited).toBe(1);
    expect(server.output.stderr).toContain('catalogue bug: has() failed');
  });
});

describeWith(['postgres'], 'a failed start-up on PostgreSQL', () => {
  it('ends the process when the bus cannot start after the store opened', { timeout: 30_000 }, async () => {
    using dir = tempDir();
    await using schema = pgSchema();
    await expectFailsFast(
      [
        '--port',
        '0',
        '--tokens-file',
        tokensFile(dir),
        '--db',
        pgUrl,
        '--pg-schema',
        schema.schema,
        '--redis-url',
        `redis://127.0.0.1:${closedPort}`,
      ],
      /^switchboard: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/,
    );
  });
});

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

describe('ResourceStack', () => {
  it('closes newest first, every resource even when one fails, and hands them over with move', async () => {
    const closed: string[] = [];
    const stack = new ResourceStack();
    stack.adopt('a', (name) => closed.push(name));
    stack.use({ [Symbol.dispose]: () => closed.push('b') });
    stack.defer(() => {
      closed.push('c');
      throw new Error('c failed');
    });
    stack.use({
      [Symbol.asyncDispose]: async () => {
        await Promise.resolve();
        closed.push('d');
      },
    });
    const owned = stack.move();
    await stack.disposeAsync();
    expect(closed).toEqual([]);
    await expect(owned.disposeAsync()).rejects.toThrow('c failed');
    expect(closed).toEqual(['d', 'c', 'b', 'a']);
    expect(() => {
      stack.defer(() => undefined);
    }).toThrow(/already disposed/);
  });
});

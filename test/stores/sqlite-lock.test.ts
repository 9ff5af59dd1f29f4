/**
 * One SQLite file, one server process: a second server on the same file is refused at start with one line, since
 * the in-process bus would never carry the first one's events to it. The lock is the operating system's, so a
 * SIGKILLed server leaves nothing behind that blocks the next start. Real server processes.
 */
import { describe, expect, it } from 'vitest';
import { agentLog } from '../fixtures.js';
import { connect, spawnServer, startProcess, startTestServer, tempDir } from '../harness.js';

const oneLine =
  /^switchboard: database \S+shared\.db is in use by another process \(it holds \S+shared\.db\.lock\); .*PostgreSQL \(see docs\/deploy\.md\)\n$/;

describe('two servers on one SQLite file', () => {
  it(
    'refuses the second with one line and exit code 1; a SIGKILLed first leaves the file free',
    {
      timeout: 45_000,
    },
    async () => {
      using dir = tempDir();
      const db = dir.file('shared.db');
      await using first = await spawnServer({ db });
      {
        await using second = await startProcess(['--port', '0', '--db', db, '--log-level', 'warn']);
        expect(second.listening()).toBe(false);
        expect(await second.exited).toBe(1);
        expect(second.output.stderr).toMatch(oneLine);
      }
      // The first still serves.
      {
        await using client = connect(first.url);
        expect((await client.publish.mutate(agentLog('a-1', 'one'))).id).toBe('1');
      }
      await first.kill();
      await using third = await spawnServer({ db });
      await using client = connect(third.url);
      expect((await client.publish.mutate(agentLog('a-1', 'two'))).id).toBe('2');
    },
  );

  it('refuses a second server in the same process too, and frees the file on close', async () => {
    using dir = tempDir();
    const db = dir.file('shared.db');
    const first = await startTestServer({ db });
    await expect(startTestServer({ db })).rejects.toThrow(/is in use by another process/);
    await first.close();
    await using again = await startTestServer({ db });
    expect(again.url).toMatch(/^http:/);
  });

  it('leaves :memory: databases alone', async () => {
    await using a = await startTestServer({ db: ':memory:' });
    await using b = await startTestServer({ db: ':memory:' });
    expect(a.port).not.toBe(b.port);
  });
});

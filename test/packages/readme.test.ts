/**
 * The README's client example is examples/quickstart.ts verbatim, and it runs against a real server.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../harness.js';

const run = promisify(execFile);

describe('README quickstart', () => {
  it('is the example file, word for word', () => {
    const readme = readFileSync('README.md', 'utf8');
    const example = readFileSync('examples/quickstart.ts', 'utf8').trim();
    expect(readme).toContain(example);
  });

  it('runs and prints the stored and streamed events', { timeout: 20_000 }, async () => {
    await using server = await startTestServer();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], {
      env: { ...process.env, SWITCHBOARD_URL: server.url },
      timeout: 15_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^stored #1 on topic agent:coder-001 at \d{4}-\d\d-\d\dT/),
        '#1 coder-001 is busy on T-42',
        '#2 coder-001 is idle',
      ]),
    );
  });
});

describe('README ingest example', () => {
  it('is the Python file, word for word, and stores its events', { timeout: 20_000 }, async (ctx) => {
    const example = readFileSync('examples/ingest.py', 'utf8').trim();
    expect(readFileSync('README.md', 'utf8')).toContain(example);
    const python = await run('python3', ['--version']).catch(() => undefined);
    if (!python) {
      console.warn('SKIPPED: python3 is not installed, so the README Python example was not run');
      ctx.skip();
      return;
    }
    await using server = await startTestServer();
    const { stdout } = await run('python3', ['examples/ingest.py'], {
      env: { ...process.env, SWITCHBOARD_URL: server.url },
      timeout: 15_000,
    });
    expect(stdout).toBe("{'ids': ['1', '2']}\n");
  });
});

/**
 * The README's client example is examples/quickstart.ts verbatim, and it runs against a real server.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './harness.js';

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

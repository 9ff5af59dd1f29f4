/**
 * The package as developers install it: `npm run build` produces dist/, a consumer project that imports only
 * the built entry points type-checks, and runs against the built executable's server.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir, waitUntil } from './harness.js';

const exec = promisify(execFile);

describe('built package', () => {
  it(
    'builds, type-checks consumers of dist/ (one with a catalogue of its own), and runs them against dist/bin.js serve',
    { timeout: 120_000 },
    async () => {
      await exec('npx', ['tsup', '--silent'], { timeout: 90_000 });
      await exec('npx', ['tsc', '-p', 'test/consumer/tsconfig.json'], { timeout: 60_000 });
      await exec('npx', ['tsc', '-p', 'test/consumer-catalogue/tsconfig.json'], { timeout: 60_000 });

      using dir = tempDir();
      const server = spawn(process.execPath, ['dist/bin.js', 'serve', '--port', '0', '--db', dir.file('pkg.db')]);
      let stdout = '';
      server.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
      try {
        await waitUntil('the built server to listen', () => stdout.includes('listening on'), 15_000);
        const url = /listening on (\S+) /.exec(stdout)?.[1] ?? '';
        const consumer = await exec(process.execPath, ['--import', 'tsx', 'test/consumer/index.ts'], {
          env: { ...process.env, SWITCHBOARD_URL: url },
          timeout: 20_000,
        });
        expect(consumer.stdout).toBe('consumer got #1 agent.status consumer-agent busy; batch limit 1000\n');
        const help = await exec(process.execPath, ['dist/bin.js', '--help']);
        expect(help.stdout).toContain('Usage: switchboard <command>');
      } finally {
        server.kill('SIGTERM');
        expect(await exited).toBe(0);
      }

      // A catalogue of the consumer's own, loaded by the built executable from its .ts file.
      const custom = spawn(process.execPath, [
        'dist/bin.js',
        'serve',
        '--port',
        '0',
        '--db',
        dir.file('custom.db'),
        '--events',
        'test/consumer-catalogue/events.ts',
      ]);
      let customOut = '';
      custom.stdout.on('data', (chunk: Buffer) => (customOut += chunk.toString()));
      const customExited = new Promise<number | null>((resolve) => custom.on('exit', resolve));
      try {
        await waitUntil(
          'the built server with a catalogue to listen',
          () => customOut.includes('listening on'),
          15_000,
        );
        const url = /listening on (\S+) /.exec(customOut)?.[1] ?? '';
        const consumer = await exec(process.execPath, ['--import', 'tsx', 'test/consumer-catalogue/index.ts'], {
          env: { ...process.env, SWITCHBOARD_URL: url },
          timeout: 20_000,
        });
        expect(consumer.stdout).toBe('gate.evaluated gate:lint 0.9; history gate:lint gate:tests\n');
      } finally {
        custom.kill('SIGTERM');
        expect(await customExited).toBe(0);
      }
    },
  );
});

/**
 * The package as developers install it: `npm run build` produces dist/, a consumer project that imports only
 * the built entry points type-checks, and runs against the built executable's server.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir, waitUntil } from './harness.js';

const exec = promisify(execFile);

describe('built package', () => {
  it(
    'builds, type-checks a consumer of dist/, and runs it against dist/bin.js serve',
    { timeout: 120_000 },
    async () => {
      await exec('npx', ['tsup', '--silent'], { timeout: 90_000 });
      await exec('npx', ['tsc', '-p', 'test/consumer/tsconfig.json'], { timeout: 60_000 });

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
        const version = await exec(process.execPath, ['dist/bin.js', '--version']);
        expect(version.stdout).toBe(
          `${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}\n`,
        );
        // What `npm publish` would ship: the built files, without source maps.
        const packed = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { timeout: 60_000 });
        const [listing] = JSON.parse(packed.stdout) as [{ files: { path: string }[] }];
        const shipped = listing.files.map((f) => f.path);
        expect(shipped).toContain('dist/bin.js');
        expect(shipped.filter((path) => path.endsWith('.map'))).toEqual([]);
      } finally {
        server.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    },
  );
});

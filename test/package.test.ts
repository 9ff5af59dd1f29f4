/**
 * The packages as users install them: `npm run build`, then `@switchboard/shared` and `@switchboard/client` are
 * packed and installed from their tarballs into a fresh project that has nothing else. That project must hold
 * no server dependency, type-check a consumer without `@types/node` and without skipping library checks, and
 * run it against the built executable's server.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { inferRouterInputs, inferRouterOutputs, inferTRPCClientTypes } from '@trpc/server';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AppRouter, appRouter } from '../server/routers/_app.js';
import { tempDir, waitUntil } from './harness.js';

const exec = promisify(execFile);
const require = createRequire(import.meta.url);

/** What only the server needs; none of it may reach a project that installs the client. */
const serverOnly = ['better-sqlite3', 'drizzle-orm', 'pino', 'prom-client', 'ws', 'tsx', 'esbuild'];

/** What the packages' declarations may import. */
const publicImports = /^(@trpc\/(client|server)(\/.+)?|zod|superjson|@switchboard\/shared)$/;

/**
 * Time for one tsc run over a consumer: a shared, loaded machine has taken past 30 s. A step that runs out of
 * time fails as a timeout, never as a type error with an empty report.
 */
const typeCheckMs = 120_000;

/** Runs a type check; a failure says which consumer does not type-check, with the compiler's report. */
async function typeCheck(what: string, command: string, args: readonly string[], timeoutMs: number): Promise<void> {
  await exec(command, args, { timeout: timeoutMs }).catch((error: unknown) => {
    const { stdout = '', killed = false } = error as { stdout?: string; killed?: boolean };
    // execFile kills the child at `timeout` and rejects with `killed` set and whatever it had printed so far.
    if (killed) {
      throw new Error(`${what}: tsc did not finish within ${timeoutMs / 1_000} s (timed out, not a type error)`);
    }
    throw new Error(`${what} does not type-check:\n${stdout}`);
  });
}

describe('a type-check step', () => {
  it('that runs out of time is reported as a timeout, naming the step and its limit', async () => {
    // A child that outlives the step's limit stands for tsc on a loaded machine; it is killed at the limit.
    const slow = ['-e', 'setTimeout(() => {}, 20_000)'];
    await expect(typeCheck('the consumer', process.execPath, slow, 200)).rejects.toThrow(
      'the consumer: tsc did not finish within 0.2 s (timed out, not a type error)',
    );
  });

  it('that finds errors reports them', async () => {
    const failing = ['-e', 'console.log("index.ts(1,7): error TS2322"); process.exit(2)'];
    await expect(typeCheck('the consumer', process.execPath, failing, 20_000)).rejects.toThrow(
      'the consumer does not type-check:\nindex.ts(1,7): error TS2322',
    );
  });
});

describe('published packages', () => {
  it('AppRouter is the router as clients see it: the same procedures and client types, no context', () => {
    // Checked by tsc: the erased root (trpc.ts `ClientRootTypes`) must keep what the server's root gives clients.
    type Client = inferTRPCClientTypes<AppRouter>;
    type Server = inferTRPCClientTypes<typeof appRouter>;
    expectTypeOf<Client['errorShape']>().toEqualTypeOf<Server['errorShape']>();
    expectTypeOf<Client['transformer']>().toEqualTypeOf<Server['transformer']>();
    expectTypeOf<inferRouterInputs<AppRouter>>().toEqualTypeOf<inferRouterInputs<typeof appRouter>>();
    expectTypeOf<inferRouterOutputs<AppRouter>>().toEqualTypeOf<inferRouterOutputs<typeof appRouter>>();
    expectTypeOf<AppRouter['_def']['_config']['$types']['ctx']>().toEqualTypeOf<object>();
  });

  it(
    'install alone from their tarballs, type-check a consumer without Node types, and run against dist/bin.js',
    // Room for every step's own limit (two type checks among them), so a slow step fails under its own name.
    { timeout: 500_000 },
    async () => {
      await exec('npm', ['run', 'build', '--silent'], { timeout: 60_000 });
      // The declarations name only the contract and the client's own dependencies: nothing of the server.
      for (const declarations of ['shared/dist/index.d.ts', 'client/dist/index.d.ts']) {
        const imported = [...readFileSync(declarations, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
        expect(imported.filter((name) => !publicImports.test(name ?? ''))).toEqual([]);
      }
      // A consumer with a catalogue of its own, type-checked against the built client's declarations.
      await typeCheck(
        'the catalogue consumer',
        'npx',
        ['tsc', '-p', 'test/consumer-catalogue/tsconfig.json'],
        typeCheckMs,
      );

      using project = tempDir();
      await exec(
        'npm',
        ['pack', '--silent', '--workspace', 'shared', '--workspace', 'client', '--pack-destination', project.path],
        { timeout: 20_000 },
      );
      const tarball = (name: string) => {
        const file = readdirSync(project.path).find((f) => f.startsWith(`switchboard-${name}-`));
        if (!file) throw new Error(`npm pack wrote no tarball for ${name}`);
        return `file:./${basename(file)}`;
      };
      writeFileSync(
        project.file('package.json'),
        JSON.stringify({
          name: 'consumer',
          private: true,
          type: 'module',
          // The shared tarball stands where the registry would: the client's `@switchboard/shared` resolves to it.
          dependencies: { '@switchboard/client': tarball('client'), '@switchboard/shared': tarball('shared') },
        }),
      );
      copyFileSync('test/consumer/index.ts', project.file('index.ts'));
      copyFileSync('test/consumer/tsconfig.json', project.file('tsconfig.json'));
      await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent'], {
        cwd: project.path,
        timeout: 30_000,
      });

      const installed = await exec('npm', ['ls', '--all', '--parseable'], { cwd: project.path, timeout: 10_000 });
      const names = installed.stdout
        .split('\n')
        .filter((line) => line.includes('node_modules'))
        .map((line) => line.slice(line.lastIndexOf('node_modules') + 'node_modules/'.length));
      expect(names).toEqual(expect.arrayContaining(['@switchboard/client', '@switchboard/shared', '@trpc/client']));
      expect(names.filter((name) => serverOnly.includes(name))).toEqual([]);

      // The repository's compiler, but the project's own packages and tsconfig (`types: []`, `skipLibCheck: false`).
      const tsc = require.resolve('typescript/bin/tsc');
      await typeCheck('the consumer', process.execPath, [tsc, '-p', project.path], typeCheckMs);

      using data = tempDir();
      const server = spawn(process.execPath, ['dist/bin.js', 'serve', '--port', '0', '--db', data.file('pkg.db')]);
      let stdout = '';
      server.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
      try {
        await waitUntil('the built server to listen', () => stdout.includes('listening on'), 15_000);
        const url = /listening on (\S+) /.exec(stdout)?.[1] ?? '';
        // `ws` comes from this repository: the project has no WebSocket of its own to pass on Node 20.
        const ws = pathToFileURL(require.resolve('ws')).href;
        const runner = `const { default: WebSocket } = await import(${JSON.stringify(ws)});
const { main } = await import('./dist/index.js');
console.log(await main(${JSON.stringify(url)}, WebSocket));`;
        const consumer = await exec(process.execPath, ['--input-type=module', '-e', runner], {
          cwd: project.path,
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
        // The OTLP definitions the server loads at run time (server/transports/otlp/decode.ts).
        expect(shipped).toContain(
          'server/transports/otlp/proto/opentelemetry/proto/collector/logs/v1/logs_service.proto',
        );
        expect(shipped.filter((path) => path.endsWith('.map'))).toEqual([]);
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
        data.file('custom.db'),
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

/**
 * The install the README documents ("Packages"), run as written from a clean temporary directory: the three
 * packages are packed from this checkout (each package's `prepack` builds it), an application installs the client
 * and shared tarballs, a server project installs all three. Then every packed manifest is checked as the registry
 * would get it, `npm publish --dry-run` passes for each tarball, the application holds nothing of the server and
 * type-checks two consumers (the built-in catalogue, and a catalogue of its own typed with `AppRouterFor`)
 * without `@types/node` and without skipping library checks, and both run against the installed
 * `switchboard serve`.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { inferRouterInputs, inferRouterOutputs, inferTRPCClientTypes } from '@trpc/server';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AppRouter, AppRouterFor, appRouter, createAppRouter } from '../../server/routers/_app.js';
import type customCatalogue from '../../examples/custom-events.js';
import { tempDir, waitUntil } from '../harness.js';

const exec = promisify(execFile);
const require = createRequire(import.meta.url);
const checkout = fileURLToPath(new URL('../..', import.meta.url));
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const { version } = readJson(join(checkout, 'package.json')) as { version: string };

/** What only the server needs; none of it may reach a project that installs the client. */
const serverOnly = ['better-sqlite3', 'drizzle-orm', 'pino', 'prom-client', 'ws', 'tsx', 'esbuild', 'switchboard'];

/** The README's commands, word for word (the first test checks that it holds each as a shell block). */
const packages = '../switchboard-packages';
const tarballs = {
  server: `switchboard-${version}.tgz`,
  shared: `switchboard-shared-${version}.tgz`,
  client: `switchboard-client-${version}.tgz`,
};
const documented = {
  /** In a folder beside the projects, with `SWITCHBOARD` set to a checkout where `npm ci` has run. */
  pack: 'mkdir switchboard-packages && cd switchboard-packages\nnpm pack "$SWITCHBOARD/shared" "$SWITCHBOARD/client" "$SWITCHBOARD"',
  /** In an application's folder. */
  client: `npm install ${packages}/${tarballs.shared} ${packages}/${tarballs.client}`,
  /** In a server project's folder. */
  server: `npm install ${packages}/${tarballs.server} ${packages}/${tarballs.shared} ${packages}/${tarballs.client}\nnpx switchboard --version`,
};

/**
 * Time for one tsc run over a consumer: a shared, loaded machine has taken past 30 s. A step that runs out of
 * time fails as a timeout, never as a type error with an empty report.
 */
const typeCheckMs = 120_000;
/** Packing builds the three packages (two declaration builds, the server's bundle and the dashboard). */
const packMs = 300_000;
/** An install from the npm cache; the server's includes better-sqlite3's install step (below). */
const installMs = 120_000;

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

/** Runs one of the README's blocks with bash, line by line as a user types them, stopping at the first failure. */
async function shell(what: string, script: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  try {
    return await exec('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, timeout: timeoutMs });
  } catch (error) {
    const {
      stdout = '',
      stderr = '',
      killed = false,
    } = error as { stdout?: string; stderr?: string; killed?: boolean };
    const how = killed ? `did not finish within ${timeoutMs / 1_000} s` : 'failed';
    throw new Error(`${what} ${how}:\n$ ${script}\n${stdout}${stderr}`, { cause: error });
  }
}

/** A file of a tarball, read with tar. */
async function fromTarball(tarball: string, path: string): Promise<string> {
  return (await exec('tar', ['-xzOf', tarball, `package/${path}`], { maxBuffer: 1 << 24 })).stdout;
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

describe('the router types the client package ships', () => {
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

  it("AppRouterFor a team's catalogue has the procedures its server serves, without the context", () => {
    type Schemas = NonNullable<(typeof customCatalogue)['~schemas']>;
    type Served = ReturnType<typeof createAppRouter<Schemas>>;
    type Client = AppRouterFor<typeof customCatalogue>;
    expectTypeOf<inferRouterInputs<Client>>().toEqualTypeOf<inferRouterInputs<Served>>();
    expectTypeOf<inferRouterOutputs<Client>>().toEqualTypeOf<inferRouterOutputs<Served>>();
    expectTypeOf<inferRouterInputs<Client>['publish']>().extract<{ type: 'pool.scaled' }>().not.toBeNever();
    expectTypeOf<Client['_def']['_config']['$types']['ctx']>().toEqualTypeOf<object>();
  });
});

describe('the documented install', () => {
  it('is in the README word for word', () => {
    const readme = readFileSync(join(checkout, 'README.md'), 'utf8');
    for (const block of Object.values(documented)) expect(readme).toContain(`\`\`\`sh\n${block}\n\`\`\``);
  });

  it(
    'packs, passes npm publish --dry-run, installs from a clean directory, type-checks and runs its consumers',
    // Room for every step's own limit, so that a slow step fails under its own name.
    { timeout: packMs + 2 * installMs + typeCheckMs + 120_000 },
    async () => {
      using root = tempDir();
      const app = root.file('app');
      const hub = root.file('hub');
      mkdirSync(app);
      mkdirSync(hub);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        SWITCHBOARD: checkout,
        // What a user's npm does with a warm cache; the commands themselves stay as the README has them.
        npm_config_prefer_offline: 'true',
        npm_config_audit: 'false',
        npm_config_fund: 'false',
        npm_config_update_notifier: 'false',
      };
      const installEnv: NodeJS.ProcessEnv = {
        ...env,
        // better-sqlite3 installs a prebuilt binary it downloads, else compiles SQLite (minutes on two cores).
        // Offline, it takes its own version's binary from a local folder: this checkout's build of it.
        npm_config_better_sqlite3_local_prebuilds: await localPrebuild(root.file('prebuilds')),
      };

      // 1. Pack, from the folder that will hold the tarballs.
      await shell('packing', documented.pack, root.path, env, packMs);
      const tarball = (name: keyof typeof tarballs) => join(root.path, 'switchboard-packages', tarballs[name]);

      // 2. The packed manifests, as the registry would get them; then npm publish --dry-run of each tarball.
      const manifests = await checkManifests(tarball);
      const publishing = Promise.all(
        (Object.keys(tarballs) as (keyof typeof tarballs)[]).map(async (name) => {
          const { stdout, stderr } = await exec('npm', ['publish', '--dry-run', tarball(name)], {
            cwd: root.path,
            env,
            timeout: 60_000,
          });
          return { name: manifests[name].name, stdout, stderr };
        }),
      );

      // 3. The application: the client and shared tarballs, and the two consumers with their tsconfig.
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      const consumer = join(checkout, 'test/packages/consumer');
      for (const file of ['index.ts', 'catalogue.ts', 'events.ts', 'tsconfig.json']) {
        copyFileSync(join(consumer, file), join(app, file));
      }
      // 4. The server project, from an empty folder, at the same time.
      const [, server] = await Promise.all([
        shell('installing the client', documented.client, app, env, installMs),
        shell('installing the server', documented.server, hub, installEnv, installMs),
      ]);
      expect(server.stdout).toContain(`${version}\n`);

      for (const { name, stdout, stderr } of await publishing) {
        expect(stdout).toContain(`+ ${name}@${version}`);
        // Only the dry run's note that a real publish needs a login: no manifest npm had to correct.
        const warnings = stderr.split('\n').filter((line) => line.startsWith('npm warn'));
        expect(warnings.filter((line) => !line.includes('requires you to be logged in'))).toEqual([]);
        if (name.startsWith('@')) expect(stderr).toContain('with tag latest and public access (dry-run)');
      }

      const installed = await exec('npm', ['ls', '--all', '--parseable'], { cwd: app, env, timeout: 20_000 });
      const names = installed.stdout
        .split('\n')
        .filter((line) => line.includes('node_modules'))
        .map((line) => line.slice(line.lastIndexOf('node_modules') + 'node_modules/'.length));
      expect(names).toEqual(expect.arrayContaining(['@switchboard/client', '@switchboard/shared', '@trpc/client']));
      expect(names.filter((name) => serverOnly.includes(name))).toEqual([]);

      // The repository's compiler, the project's own packages and tsconfig (`types: []`, `skipLibCheck: false`).
      const tsc = require.resolve('typescript/bin/tsc');
      await typeCheck('the consumers', process.execPath, [tsc, '-p', app], typeCheckMs);

      using data = tempDir();
      copyFileSync(join(consumer, 'events.ts'), join(hub, 'events.ts'));
      // `npx switchboard` runs this link; it is started directly so that its exit code is the server's.
      const bin = join(hub, 'node_modules/.bin/switchboard');
      const serve = spawn(bin, ['serve', '--port', '0', '--db', data.file('hub.db'), '--events', 'events.ts'], {
        cwd: hub,
        env,
      });
      let stdout = '';
      let stderr = '';
      serve.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      serve.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => serve.on('exit', resolve));
      try {
        await waitUntil(
          () => `the installed server to listen (${stderr})`,
          () => stdout.includes('listening on'),
        );
        const url = /listening on (\S+) /.exec(stdout)?.[1] ?? '';
        // `ws` comes from this repository: the application has no WebSocket of its own to pass on Node 20.
        const ws = pathToFileURL(require.resolve('ws')).href;
        const run = async (module: string) => {
          const runner = `const { default: WebSocket } = await import(${JSON.stringify(ws)});
const { main } = await import(${JSON.stringify(module)});
console.log(await main(${JSON.stringify(url)}, WebSocket));`;
          return (await exec(process.execPath, ['--input-type=module', '-e', runner], { cwd: app, timeout: 20_000 }))
            .stdout;
        };
        expect(await run('./dist/index.js')).toBe(
          'consumer got #1 agent.status consumer-agent busy; batch limit 1000\n',
        );
        expect(await run('./dist/catalogue.js')).toBe('gate.evaluated gate:lint 0.9; history gate:lint gate:tests\n');
        const help = await exec(bin, ['--help'], { cwd: hub, env });
        expect(help.stdout).toContain('Usage: switchboard <command>');
      } finally {
        serve.kill('SIGTERM');
      }
      // After SIGTERM the server closes its connections and its database and exits 0.
      expect(await exited, stderr).toBe(0);
    },
  );
});

/**
 * What each tarball ships and says of itself: the built files without source maps, the license, a README, the
 * fields a registry shows (`repository`, `license`, `engines`) alike in the three, `exports`, and dependencies
 * that a registry can resolve: no `workspace:`, `file:` or path left.
 */
async function checkManifests(tarball: (name: 'server' | 'shared' | 'client') => string) {
  const license = readFileSync(join(checkout, 'LICENSE'), 'utf8');
  const root = readJson(join(checkout, 'package.json')) as { repository: { url: string }; engines: object };
  const read = async (name: 'server' | 'shared' | 'client') => {
    const manifest = JSON.parse(await fromTarball(tarball(name), 'package.json')) as {
      name: string;
      version: string;
      license: string;
      repository: { type: string; url: string; directory?: string };
      engines: object;
      exports: Record<string, unknown>;
      files: string[];
      publishConfig?: { access?: string };
      dependencies: Record<string, string>;
    };
    const listing = (await exec('tar', ['-tzf', tarball(name)])).stdout.split('\n').filter(Boolean);
    const files = listing.map((path) => path.replace(/^package\//, ''));
    expect(files.filter((path) => path.endsWith('.map'))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE']));
    expect(await fromTarball(tarball(name), 'LICENSE')).toBe(license);
    expect(manifest.version).toBe(version);
    expect(manifest.license).toBe('MIT');
    expect(manifest.repository.type).toBe('git');
    expect(manifest.repository.url).toBe(root.repository.url);
    expect(manifest.engines).toEqual(root.engines);
    expect(manifest.exports['./package.json']).toBe('./package.json');
    const unresolvable = Object.entries(manifest.dependencies).filter(([, spec]) => !/^\d+\.\d+\.\d+$/.test(spec));
    expect(unresolvable, `${manifest.name} depends on what a registry cannot resolve`).toEqual([]);
    return { ...manifest, shipped: files };
  };
  const [server, shared, client] = await Promise.all([read('server'), read('shared'), read('client')]);

  expect(server.name).toBe('switchboard');
  expect(server.shipped).toEqual(
    expect.arrayContaining(['dist/bin.js', 'web/dist/index.html', 'drizzle/migrations/meta/_journal.json']),
  );
  expect(server.dependencies).toMatchObject({ '@switchboard/shared': version, '@switchboard/client': version });
  for (const [dir, manifest] of [
    ['shared', shared],
    ['client', client],
  ] as const) {
    expect(manifest.name).toBe(`@switchboard/${dir}`);
    expect(manifest.repository.directory).toBe(dir);
    // A scoped package is published restricted unless told otherwise.
    expect(manifest.publishConfig?.access).toBe('public');
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(manifest.shipped.toSorted()).toEqual(
      ['LICENSE', 'README.md', 'dist/index.d.ts', 'dist/index.js', 'package.json'].toSorted(),
    );
  }
  expect(client.dependencies['@switchboard/shared']).toBe(version);

  // The declarations name only the contract and the client's own dependencies: nothing of the server.
  const publicImports = /^(@trpc\/(client|server)(\/.+)?|zod|superjson|@switchboard\/shared)$/;
  for (const name of ['shared', 'client'] as const) {
    const declarations = await fromTarball(tarball(name), 'dist/index.d.ts');
    const imported = [...declarations.matchAll(/from '([^']+)'/g)].map((m) => m[1] ?? '');
    expect(imported.filter((module) => !publicImports.test(module))).toEqual([]);
  }
  return { server, shared, client };
}

/**
 * better-sqlite3's own binary for this Node, in the folder and under the name its installer looks for before
 * downloading (prebuild-install's `local-prebuilds`): the build in this checkout's node_modules, which `npm ci`
 * made from the same version's sources.
 */
async function localPrebuild(dir: string): Promise<string> {
  const module = join(checkout, 'node_modules/better-sqlite3');
  const installed = (readJson(join(module, 'package.json')) as { version: string }).version;
  const wanted = (readJson(join(checkout, 'package.json')) as { dependencies: Record<string, string> }).dependencies[
    'better-sqlite3'
  ];
  if (installed !== wanted)
    throw new Error(`node_modules has better-sqlite3 ${installed}, the server needs ${wanted}: run npm ci`);
  mkdirSync(dir);
  const name = `better-sqlite3-v${installed}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await exec('tar', ['-czf', join(dir, name), '-C', module, 'build/Release/better_sqlite3.node']);
  return dir;
}

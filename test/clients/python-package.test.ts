/**
 * The Python client as a package and as types: `pip wheel clients/python` builds with no package index (its
 * backend is in the tree and needs nothing), the wheel installs and imports; switchboard/events.py is what the
 * generator makes of docs/schema.json, the built-in catalogue's JSON Schema (one place for each fact: shared/'s
 * zod schemas); and items narrow by `type` for mypy --strict, which also checks the package itself for Python
 * 3.9. test/clients/python/narrowing.py runs on items a real server stored, too.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connect, startTestServer, tempDir } from '../harness.js';

const exec = promisify(execFile);
const python = await exec('python3', ['--version']).then(
  () => true,
  () => false,
);
if (!python) console.warn('SKIPPED: python3 is not installed, so the Python package was not built or checked');

/** A mypy to run: on PATH, or as a module of a Python that has it (Debian's python3-mypy is /usr/bin/python3's). */
async function findMypy(): Promise<string[] | undefined> {
  for (const command of [['mypy'], ['python3', '-m', 'mypy'], ['/usr/bin/python3', '-m', 'mypy']]) {
    const [file = '', ...args] = command;
    const found = await exec(file, [...args, '--version']).then(
      () => true,
      () => false,
    );
    if (found) return command;
  }
  return undefined;
}

/** mypy --strict for Python 3.9 (the oldest the package supports) over `paths`; its exit code and report. */
async function mypy(command: string[], paths: string[]): Promise<{ code: number; output: string }> {
  const [file = '', ...args] = command;
  const options = ['--strict', '--python-version', '3.9', '--no-incremental', ...paths];
  try {
    const { stdout } = await exec(file, [...args, ...options], {
      env: { ...process.env, MYPYPATH: 'clients/python' },
      timeout: 90_000,
    });
    return { code: 0, output: stdout };
  } catch (error) {
    const { code, stdout = '', killed } = error as { code?: number; stdout?: string; killed?: boolean };
    if (killed) throw new Error('mypy did not finish within 90 s (timed out, not a type error)', { cause: error });
    return { code: code ?? -1, output: stdout };
  }
}

describe.skipIf(!python)('the Python package', () => {
  it('builds a wheel with no package index, which installs and imports', { timeout: 60_000 }, async () => {
    using out = tempDir();
    // PIP_NO_INDEX: any attempt to fetch a build dependency fails instead of reaching for the network.
    const env = { ...process.env, PIP_NO_INDEX: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
    await exec('python3', ['-m', 'pip', 'wheel', '--no-deps', '-w', out.path, 'clients/python'], {
      env,
      timeout: 50_000,
    });
    expect(readdirSync(out.path)).toEqual(['switchboard_client-0.1.0-py3-none-any.whl']);
    const wheel = out.file('switchboard_client-0.1.0-py3-none-any.whl');
    const listing = await exec('python3', ['-m', 'zipfile', '-l', wheel]);
    for (const file of ['switchboard/py.typed', 'switchboard/events.py', 'switchboard/aio.py']) {
      expect(listing.stdout).toContain(file);
    }
    const metadata = await exec('python3', [
      '-c',
      'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("switchboard_client-0.1.0.dist-info/METADATA").decode())',
      wheel,
    ]);
    expect(metadata.stdout).toMatch(/^Metadata-Version: 2\.1\nName: switchboard-client\nVersion: 0\.1\.0\n/);
    expect(metadata.stdout).toContain('Requires-Python: >=3.9\n');
    expect(metadata.stdout).not.toContain('Requires-Dist');

    await exec('python3', ['-m', 'pip', 'install', '--no-deps', '--target', out.file('site'), wheel], {
      env,
      timeout: 30_000,
    });
    const imported = await exec(
      'python3',
      ['-c', 'import switchboard, switchboard.aio; print(switchboard.__file__, switchboard.__version__)'],
      { cwd: out.path, env: { ...process.env, PYTHONPATH: out.file('site') } },
    );
    expect(imported.stdout).toBe(`${join(out.path, 'site', 'switchboard', '__init__.py')} 0.1.0\n`);
  });

  it('switchboard/events.py is generated from docs/schema.json (npm run schema writes both)', async () => {
    using out = tempDir();
    await exec('python3', ['clients/python/switchboard/codegen.py', 'docs/schema.json', out.file('events.py')]);
    expect(readFileSync(out.file('events.py'), 'utf8'), 'events.py is stale: run npm run schema').toBe(
      readFileSync('clients/python/switchboard/events.py', 'utf8'),
    );
  });

  it(
    'narrows items by type for mypy --strict, and refuses what a type does not have',
    { timeout: 120_000 },
    async (ctx) => {
      const command = await findMypy();
      if (!command) {
        console.warn(
          'SKIPPED: mypy is not installed (apt-get install python3-mypy), so the Python types were not checked',
        );
        ctx.skip();
        return;
      }
      // One run over the package, the reading that must pass and the one that must not: every error is wrong.py's.
      const paths = ['clients/python/switchboard', 'clients/python/_build', 'test/clients/python'];
      const checked = await mypy(command, paths);
      expect(checked.code, checked.output).toBe(1);
      const errors = checked.output.split('\n').filter((line) => line.includes(': error: '));
      expect(errors.filter((line) => !line.startsWith('test/clients/python/wrong.py:'))).toEqual([]);
      const lines = errors.map((line) => Number(/wrong\.py:(\d+):/.exec(line)?.[1]));
      expect([...new Set(lines)]).toEqual([8, 10, 12, 14]);
      expect(checked.output).toMatch(/Found \d+ errors in 1 file \(checked \d+ source files\)\n$/);
      expect(checked.output).toContain('TypedDict "TddTestResultData" has no key "coverage"');
      expect(checked.output).toContain('TypedDict "AgentStatusData" has no key "message"');
      expect(checked.output).toContain(`"Literal['debug', 'info', 'warn', 'error']", variable has type "int"`);
      expect(checked.output).toContain('TypedDict "SystemAlertData" has no key "agentId"');
    },
  );

  it('the narrowed reading runs on the items a real server stored', { timeout: 30_000 }, async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    await client.publishBatch.mutate([
      {
        type: 'agent.status',
        data: { agentId: 'py-1', agentType: 'coder', status: 'busy', currentTask: { taskId: 'T-1', progress: 0 } },
      },
      {
        type: 'workflow.block',
        data: {
          workflowId: 'wf-1',
          stepId: 'plan',
          summary: 'ran the tests',
          blockType: 'tool_use',
          payload: { toolName: 'bash' },
        },
      },
      {
        type: 'workflow.block',
        data: { workflowId: 'wf-1', stepId: 'plan', summary: 'hello', blockType: 'text', payload: { text: 'hi' } },
      },
      {
        type: 'tdd.phase_changed',
        data: {
          agentId: 'py-1',
          taskId: 'T-1',
          currentPhase: 'green',
          coverage: { lines: 91, branches: 80, functions: 90, statements: 91 },
        },
      },
      { type: 'system.notification', data: { level: 'info', title: 'done', message: 'ok' } },
    ]);
    const script =
      'import sys, narrowing, switchboard\nfor item in switchboard.history(sys.argv[1]):\n  print(narrowing.describe(item))';
    const { stdout } = await exec('python3', ['-c', script, server.url], {
      env: { ...process.env, PYTHONPATH: ['clients/python', 'test/clients/python'].join(':') },
      timeout: 20_000,
    });
    expect(stdout).toBe(
      ['py-1 busy on T-1', 'plan ran bash', 'plan said hi', 'green at 91% lines', 'system.notification #5', ''].join(
        '\n',
      ),
    );
  });
});

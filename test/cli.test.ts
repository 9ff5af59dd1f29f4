/**
 * The command line, run in-process through its pure `run()` against a real server.
 */
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../server/cli/run.js';
import { agentStatus, systemNotification } from './fixtures.js';
import { connect, startTestServer, tempDir, waitUntil } from './harness.js';

function capture() {
  const out = { text: '', write: (t: string) => (out.text += t) };
  return out;
}

async function cli(argv: string[], extra: { url?: string; stdin?: string[]; signal?: AbortSignal } = {}) {
  const stdout = capture();
  const stderr = capture();
  const code = await run({
    argv: extra.url ? [...argv, '--url', extra.url] : argv,
    stdout,
    stderr,
    env: {},
    ...(extra.stdin && { stdin: Readable.from(extra.stdin) }),
    ...(extra.signal && { signal: extra.signal }),
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('switchboard CLI', () => {
  it('explains itself: --help for the tool and each command; usage errors exit 2', async () => {
    const main = await cli(['--help']);
    expect(main.code).toBe(0);
    for (const command of ['serve', 'demo', 'watch', 'emit', 'history', 'status']) {
      expect(main.stdout).toContain(`  ${command}`);
      const help = await cli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: switchboard /);
      expect(help.stdout).toMatch(/Examples?:/);
    }
    expect(await cli(['frobnicate'])).toMatchObject({
      code: 2,
      stderr: 'switchboard: unknown command "frobnicate"; see switchboard --help\n',
    });
    expect((await cli(['watch', 'nope'])).code).toBe(2);
    expect((await cli(['emit', 'agent.status', '--data', '{oops'])).stderr).toMatch(/--data is not JSON/);
  });

  it('emits events, validating everything before sending anything', async () => {
    await using server = await startTestServer();
    const data = JSON.stringify(agentStatus('coder-001').data);
    const ok = await cli(['emit', 'agent.status', '--data', data, '--key', 'k1'], { url: server.url });
    expect(ok).toEqual({ code: 0, stdout: 'stored #1 agent.status agent:coder-001\n', stderr: '' });

    const bad = await cli(['emit', 'agent.status', '--data', '{"agentId":"x","agentType":"c","status":"napping"}'], {
      url: server.url,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('event: data.status: Invalid option');
    expect(bad.stderr).toContain('nothing was sent');

    const lines = [JSON.stringify(systemNotification('a')), '', JSON.stringify(agentStatus('b'))];
    const piped = await cli(['emit', '--stdin', '--json'], { url: server.url, stdin: lines.map((l) => `${l}\n`) });
    expect(piped.code).toBe(0);
    expect(
      piped.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(['2', '3']);

    const mixed = [JSON.stringify(agentStatus('c')), '{"type":"agent.status","data":{}}'];
    const refused = await cli(['emit', '--stdin'], { url: server.url, stdin: [mixed.join('\n')] });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('line 2: data.agentId');

    const history = await cli(['history', '--json'], { url: server.url });
    expect(history.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('watches a live stream, reports reconnects on stderr and resumes without a gap', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    await client.publishBatch.mutate([agentStatus('a-1'), agentStatus('a-2')]);
    const controller = new AbortController();
    const stdout = capture();
    const stderr = capture();
    const watching = run({
      argv: ['watch', 'events', '--from', '0', '--json', '--url', server.url],
      stdout,
      stderr,
      env: {},
      signal: controller.signal,
    });
    const ids = () =>
      stdout.text
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { id: string }).id);
    await waitUntil('the backlog', () => ids().length === 2);
    server.dropConnections();
    // The drop cut this test's own client too; a request on it could still meet the dying socket and fail, as
    // the tRPC client fails requests in flight on a close. A client opened after the drop is unaffected.
    await using publisher = connect(server.url);
    await publisher.publishBatch.mutate([agentStatus('a-3'), agentStatus('a-4')]);
    await waitUntil('the events published while reconnecting', () => ids().length === 4);
    expect(ids()).toEqual(['1', '2', '3', '4']);
    expect(stderr.text).toContain('switchboard: connection lost');
    expect(stderr.text).toContain('switchboard: reconnected; resuming after #2');
    controller.abort();
    expect(await watching).toBe(0);

    const human = await cli(['watch', 'agentStatus', '--agent', 'a-3', '--limit', '1'], { url: server.url });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^#3 +\d\d:\d\d:\d\d {2}agent\.status +agent:a-3 +busy · task-1 40%\n$/);
  });

  it('reports status, and fails clearly when the server is away', async () => {
    await using server = await startTestServer();
    const status = await cli(['status'], { url: server.url });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      /^ok · http:\/\/127\.0\.0\.1:\d+ · head #0 · \d+ connections · 0 subscriptions · up \d+s\n$/,
    );
    const away = await cli(['status', '--url', 'http://127.0.0.1:9']);
    expect(away.code).toBe(1);
    expect(away.stderr).toMatch(/^switchboard: cannot reach http:\/\/127\.0\.0\.1:9: /);
  });

  it('runs a demo that publishes every family', { timeout: 20_000 }, async () => {
    await using server = await startTestServer();
    const demo = await cli(['demo', '--duration', '1.5', '--rate', '200', '--agents', '3', '--seed', '1'], {
      url: server.url,
    });
    expect(demo.code).toBe(0);
    expect(demo.stdout).toMatch(/demo: published \d+ events \(0 dropped, 0 unsent\)/);
    await using client = connect(server.url);
    const { events } = await client.history.query({ limit: 1000 });
    const types = new Set(events.map((e) => e.type));
    for (const t of [
      'agent.status',
      'workflow.started',
      'workflow.block',
      'tdd.phase_changed',
      'workflow.step_completed',
    ]) {
      expect(types).toContain(t);
    }
  });

  it('serves from the executable and stops on SIGTERM', { timeout: 20_000 }, async () => {
    using dir = tempDir();
    const child = spawn(process.execPath, [
      '--import',
      'tsx',
      'server/bin.ts',
      'serve',
      '--port',
      '0',
      '--db',
      dir.file('cli.db'),
    ]);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await waitUntil('the server to listen', () => stdout.includes('listening on'), 15_000);
    const url = /listening on (\S+) /.exec(stdout)?.[1] ?? '';
    expect((await cli(['status'], { url })).code).toBe(0);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

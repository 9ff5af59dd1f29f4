/**
 * The command line, run in-process through its pure `run()` against a real server.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../../server/entry/cli.js';
import { agentStatus, systemNotification } from '../fixtures.js';
import { connect, startTestServer, tempDir, waitUntil } from '../harness.js';

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

  it('prints its version, and serve --help lists every server flag the README documents', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    const documented = [...readFileSync('README.md', 'utf8').matchAll(/^\| `(--[a-z-]+)` +\| `SWITCHBOARD_/gm)].map(
      (m) => m[1],
    );
    expect(documented.length).toBeGreaterThan(10);
    const help = (await cli(['serve', '--help'])).stdout;
    for (const flag of documented) expect(help).toMatch(new RegExp(`^  ${flag} +SWITCHBOARD_`, 'm'));
  });

  it('usage errors exit 2 everywhere, serve included', async () => {
    expect(await cli(['serve', '--prot', '9000'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "switchboard: Unknown option '--prot'; --help lists the options\n",
    });
    // A client command's refused flag points at its own help.
    expect(await cli(['history', '--frm', '1'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "switchboard: Unknown option '--frm'; --help lists the options\n",
    });
    expect((await cli(['serve', '--port', 'eighty'])).code).toBe(2);
    expect((await cli(['watch', 'events', '--connect-timeout', '-1'])).code).toBe(2);
  });

  it('says a bad token entry in a sentence', async () => {
    const stderr = capture();
    const code = await run({
      argv: ['serve', '--db', ':memory:'],
      stdout: capture(),
      stderr,
      env: { SWITCHBOARD_TOKENS: 'root:short' },
    });
    expect(code).toBe(1);
    expect(stderr.text).toBe(
      'switchboard: token #1 (SWITCHBOARD_TOKENS is role:token [read=p1|p2] [publish=p3],...): role: Invalid option: expected one of "publisher"|"viewer"|"admin"; token: tokens must be at least 16 characters\n',
    );
  });

  it('reports every invalid line of --stdin, and a repeated key as a duplicate', async () => {
    await using server = await startTestServer();
    const lines = [
      JSON.stringify(agentStatus('ok')),
      '{"type":"agent.status","data":{}}',
      'not json',
      '{"type":"agent.nope","data":{}}',
    ];
    const refused = await cli(['emit', '--stdin'], { url: server.url, stdin: [lines.join('\n')] });
    expect(refused.code).toBe(1);
    const problems = refused.stderr.trim().split('\n');
    expect(problems.filter((l) => l.startsWith('switchboard: line 2: data.'))).not.toHaveLength(0);
    expect(problems).toContain(`switchboard: line 3: not JSON: Unexpected token 'o', "not json" is not valid JSON`);
    expect(problems.some((l) => l.startsWith('switchboard: line 4: '))).toBe(true);
    expect(problems.at(-1)).toMatch(/^switchboard: nothing was sent: \d+ problems above$/);

    const data = JSON.stringify(systemNotification('once').data);
    const first = await cli(['emit', 'system.notification', '--data', data, '--key', 'deploy-1'], { url: server.url });
    expect(first.stdout).toBe('stored #1 system.notification system\n');
    const again = await cli(['emit', 'system.notification', '--data', data, '--key', 'deploy-1'], { url: server.url });
    expect(again).toEqual({
      code: 0,
      stdout: 'duplicate of #1 system.notification system: key deploy-1 was stored before\n',
      stderr: '',
    });
    const twice = [
      JSON.stringify({ ...agentStatus('n'), key: 'k-2' }),
      JSON.stringify({ ...agentStatus('n'), key: 'k-2' }),
    ];
    const batch = await cli(['emit', '--stdin'], { url: server.url, stdin: [twice.join('\n')] });
    expect(batch.stdout).toBe(
      'stored #2 agent.status agent:n\nduplicate of #2 agent.status agent:n: key k-2 was stored before\n',
    );
  });

  it('history refuses a cursor ahead of the newest event, as watch --from does', async () => {
    await using server = await startTestServer();
    const ahead = await cli(['history', '--after', '5'], { url: server.url });
    expect(ahead.code).toBe(1);
    expect(ahead.stderr).toMatch(/^switchboard: BAD_REQUEST: after 5 is ahead of the newest stored event 0;/);
    const watch = await cli(['watch', 'events', '--from', '5'], { url: server.url });
    expect(watch.code).toBe(1);
    expect(watch.stderr).toMatch(/^switchboard: BAD_REQUEST: lastEventId 5 is ahead of the newest stored event 0;/);
    await using client = connect(server.url);
    const error: unknown = await client.history.query({ after: '5' }).catch((e: unknown) => e);
    expect((error as { data?: { reason?: string } }).data?.reason).toBe('invalid_cursor');
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

    const limited = await cli(['watch', 'events', '--from', '0', '--limit', '3', '--json'], { url: server.url });
    expect(limited.stdout.trim().split('\n')).toHaveLength(3);

    const human = await cli(['watch', 'agentStatus', '--agent', 'a-3', '--limit', '1'], { url: server.url });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^#3 +\d\d:\d\d:\d\d {2}agent\.status +agent:a-3 +busy · task-1 40%\n$/);
  });

  it('takes an address without a scheme, refuses one it cannot use, and keeps columns aligned for long topics', async () => {
    await using server = await startTestServer();
    const hostPort = server.url.replace(/^http:\/\//, '');
    const long = 'agent-with-a-very-long-name-0123456789-abcdefghij';
    await using client = connect(server.url);
    await client.publishBatch.mutate([agentStatus('a-1'), agentStatus(long)]);

    const watched = await cli(['watch', 'events', '--from', '0', '--limit', '2', '--url', hostPort]);
    expect(watched.code).toBe(0);
    const lines = watched.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    // The summary starts at the same column on both lines; the long topic keeps its start and its end.
    expect(lines.map((l) => l.indexOf('busy'))).toEqual([lines[0]?.indexOf('busy'), lines[0]?.indexOf('busy')]);
    expect(lines[1]).toContain('agent:agent-wi…89-abcdefghij busy');
    expect((await cli(['status', '--url', hostPort])).code).toBe(0);

    const bad = await cli(['status', '--url', 'ftp://127.0.0.1:1']);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toBe(
      'switchboard: --url: "ftp://127.0.0.1:1" is not a hub address: use http://, https://, ws:// or wss:// (or none), e.g. http://127.0.0.1:8765\n',
    );
  });

  it('reports status, and fails clearly when the server is away', async () => {
    await using server = await startTestServer();
    const status = await cli(['status'], { url: server.url });
    expect(status.code).toBe(0);
    const { epoch } = (await (await fetch(`${server.url}/healthz`)).json()) as { epoch: string };
    expect(status.stdout).toMatch(
      new RegExp(
        `^ok · http://127\\.0\\.0\\.1:\\d+ · head #0 · epoch ${epoch} · \\d+ connections · 0 subscriptions · up \\d+s\n$`,
      ),
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
      'server/entry/bin.ts',
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

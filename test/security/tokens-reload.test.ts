/**
 * The tokens file reloaded without a restart, on a change to the file and on SIGHUP: removed tokens lose their
 * connections with a clear close reason, the others keep theirs, an invalid file changes nothing.
 */
import { writeFileSync } from 'node:fs';
import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSwitchboardClient } from '../../client/index.js';
import { loadConfig } from '../../server/ops/config.js';
import { tokenRevokedCloseCode } from '../../server/security/sessions.js';
import { agentStatus } from '../fixtures.js';
import { collect, spawnServer, startTestServer, tempDir, waitUntil } from '../harness.js';

const keep = { role: 'viewer', token: 'keep-0123456789abcdef', name: 'keep' };
const drop = { role: 'viewer', token: 'drop-0123456789abcdef', name: 'drop' };
const added = { role: 'viewer', token: 'added-0123456789abcdef', name: 'added' };
const fromEnv = 'admin:env-admin-0123456789abcdef';

const client = (url: string, token: string) =>
  createSwitchboardClient({ url, WebSocket, token, reconnect: { initialMs: 20, maxMs: 20 } });

/** A raw connection authenticated with `token`, and how it was closed. */
function rawConnection(url: string, token: string) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/trpc?connectionParams=1`);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
    });
  });
  const answered = new Promise<void>((resolve) => {
    ws.once('message', () => {
      resolve();
    });
  });
  ws.on('open', () => {
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
    // A query proves the connection was authenticated before the file changes.
    ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'agents', input: { json: null } } }));
  });
  return {
    closed,
    answered,
    [Symbol.dispose]: () => {
      ws.terminate();
    },
  };
}

const codeOf = (error: unknown) =>
  error instanceof TRPCClientError ? (error.data as { code: string }).code : String(error);

describe('tokens file reload', () => {
  it('applies a changed file at once: removed tokens are cut off, others keep their connections', async () => {
    using dir = tempDir();
    const file = dir.file('tokens.json');
    writeFileSync(file, JSON.stringify([keep, drop]));
    const config = loadConfig(['--tokens-file', file], { SWITCHBOARD_TOKENS: fromEnv });
    await using server = await startTestServer({
      tokens: config.tokens,
      tokensFile: config.tokensFile,
      logLevel: 'silent',
    });
    await using admin = client(server.url, fromEnv.slice('admin:'.length));
    await using kept = client(server.url, keep.token);
    using watching = collect(kept.events, {});
    await watching.started();
    using dropped = rawConnection(server.url, drop.token);
    await dropped.answered;

    writeFileSync(file, JSON.stringify([keep, added]));
    expect(await dropped.closed).toEqual({
      code: tokenRevokedCloseCode,
      reason: 'token revoked: it is no longer in the tokens file',
    });
    await using late = client(server.url, drop.token);
    expect(codeOf(await late.agents.query().catch((e: unknown) => e))).toBe('UNAUTHORIZED');
    await using fresh = client(server.url, added.token);
    expect(await fresh.agents.query()).toEqual([]);

    // The kept connection never dropped: its one subscription start, and live events still arrive.
    await admin.publish.mutate(agentStatus('a'));
    await watching.atLeast(1);
    expect(watching.starts).toBe(1);

    // A broken file is refused whole; the tokens in force stay.
    writeFileSync(file, '[{"role":"viewer"');
    expect(server.reloadTokens()).toEqual({
      ok: false,
      error: expect.stringContaining('tokens file not reloaded, the previous tokens stay in force') as string,
    });
    expect(await fresh.agents.query()).toHaveLength(1);
    writeFileSync(file, JSON.stringify([{ ...keep, role: 'publisher' }]));
    expect(server.reloadTokens()).toMatchObject({ ok: true, tokens: 2 });
    // The environment's admin token survives every reload.
    expect(await admin.agents.query()).toHaveLength(1);
  });

  it('ends the connections that came in without a token once a reload brings the first tokens', async () => {
    using dir = tempDir();
    const file = dir.file('tokens.json');
    writeFileSync(file, '[]');
    const config = loadConfig(['--tokens-file', file], {});
    await using server = await startTestServer({
      tokens: config.tokens,
      tokensFile: config.tokensFile,
      logLevel: 'silent',
    });
    // No tokens yet: anyone on loopback is an admin, whatever it sends.
    using anonymous = rawConnection(server.url, 'anything-at-all-0123');
    await anonymous.answered;
    writeFileSync(file, JSON.stringify([keep]));
    expect(await anonymous.closed).toEqual({
      code: tokenRevokedCloseCode,
      reason: 'tokens are now required: reconnect with one',
    });
  });

  it('rereads the file on SIGHUP in the real server process', async () => {
    using dir = tempDir();
    const file = dir.file('tokens.json');
    writeFileSync(file, JSON.stringify([keep]));
    await using server = await spawnServer({
      db: dir.file('hub.db'),
      flags: ['--tokens-file', file, '--log-level', 'info'],
    });
    const reloads = () => server.output.stderr.split('"msg":"tokens reloaded"').length - 1;
    expect(reloads()).toBe(0);
    // The file is unchanged, so only the signal can cause this reload.
    server.signal('SIGHUP');
    await waitUntil(
      () => `a reload after SIGHUP (${server.output.stderr})`,
      () => reloads() === 1,
    );
    await using viewer = client(server.url, keep.token);
    expect(await viewer.agents.query()).toEqual([]);
  });
});

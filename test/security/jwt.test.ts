/**
 * Signed JWTs as tokens: HS256 with a shared secret, RS256 with a PEM public key, ES256 from a JWKS file; role and
 * scopes from claims; `exp` honoured, on connect and while connected (closed with 4001, then the typed client
 * reconnects with a fresh token from its `token` function and resumes from its cursor); bad signatures, other
 * algorithms and `alg: none` refused.
 */
import { writeFileSync } from 'node:fs';
import { TRPCClientError } from '@trpc/client';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSwitchboardClient } from '../../client/index.js';
import { ConfigError, loadConfig } from '../../server/ops/config.js';
import { tokenExpiredCloseCode } from '../../server/security/sessions.js';
import { agentStatus, workflowStarted } from '../fixtures.js';
import { collect, startTestServer, tempDir } from '../harness.js';

const secret = 'a-shared-secret-of-at-least-32-characters';
const key = new TextEncoder().encode(secret);
const adminToken = 'admin-0123456789abcdef';
const tokens = [{ role: 'admin' as const, token: adminToken }];

const hs256 = (claims: JWTPayload, exp: number | string = '1h', signWith = key, alg = 'HS256') =>
  new SignJWT(claims).setProtectedHeader({ alg }).setSubject('alice').setExpirationTime(exp).sign(signWith);

const client = (url: string, token: string | (() => string | Promise<string>)) =>
  createSwitchboardClient({ url, WebSocket, token, reconnect: { initialMs: 20, maxMs: 20 } });

/** The error a query answers with, as `{ code, message }`. */
async function refusal(url: string, token: string) {
  await using c = client(url, token);
  const error = await c.history.query({}).catch((e: unknown) => e);
  if (!(error instanceof TRPCClientError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return { code: (error.data as { code: string }).code, message: error.message };
}

describe('JWT', () => {
  it('accepts HS256 tokens with role and scopes from claims, and refuses forged, expired and unsigned ones', async () => {
    await using server = await startTestServer({ tokens, jwtSecret: secret });
    await using admin = client(server.url, adminToken);
    await admin.publishBatch.mutate([workflowStarted('team-a-1'), workflowStarted('team-b-1')]);

    await using viewer = client(server.url, await hs256({ role: 'viewer', scopes: { read: ['workflow:team-a-*'] } }));
    expect((await viewer.history.query({})).events.map((e) => e.topic)).toEqual(['workflow:team-a-1']);
    await using writer = client(server.url, await hs256({ role: 'publisher' }));
    const refused = await writer.history.query({}).catch((e: unknown) => e);
    expect((refused as Error).message).toBe('token "jwt:alice" has role publisher; this needs viewer or admin');

    const forged = await hs256({ role: 'admin' }, '1h', new TextEncoder().encode(`${secret}-but-another-one`));
    expect(await refusal(server.url, forged)).toEqual({
      code: 'UNAUTHORIZED',
      message: 'JWT refused: the signature does not verify',
    });
    const hs384 = await hs256({ role: 'admin' }, '1h', key, 'HS384');
    expect(await refusal(server.url, hs384)).toEqual({
      code: 'UNAUTHORIZED',
      message: 'JWT refused: its algorithm is not accepted (accepted: HS256)',
    });
    const unsigned = new UnsecuredJWT({ role: 'admin' }).setExpirationTime('1h').encode();
    expect(await refusal(server.url, unsigned)).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await refusal(server.url, await hs256({ role: 'admin' }, Math.floor(Date.now() / 1000) - 10))).toEqual({
      code: 'UNAUTHORIZED',
      message: 'JWT refused: it has expired (exp); get a fresh one',
    });
    expect(await refusal(server.url, await hs256({ role: 'root' }))).toMatchObject({
      message: expect.stringMatching(/^JWT refused: claim role: /) as string,
    });

    // Over HTTP too, with the reason in the 401.
    const ingest = await fetch(`${server.url}/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${forged}` },
      body: JSON.stringify(agentStatus('x')),
    });
    expect(ingest.status).toBe(401);
    expect(await ingest.json()).toEqual({ error: 'JWT refused: the signature does not verify' });
    expect((await admin.history.query({})).events).toHaveLength(2);
  });

  it('verifies RS256 with a PEM public key and ES256 from a JWKS file, and refuses HS256 signed with the public key', async () => {
    using dir = tempDir();
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const ec = await generateKeyPair('ES256', { extractable: true });
    const pem = await exportSPKI(rsa.publicKey);
    writeFileSync(dir.file('rsa.pem'), pem);
    writeFileSync(
      dir.file('jwks.json'),
      JSON.stringify({ keys: [{ ...(await exportJWK(ec.publicKey)), kid: 'ec-1' }] }),
    );

    const config = loadConfig(
      ['--host', '0.0.0.0', '--jwt-public-key-file', dir.file('rsa.pem'), '--jwt-issuer', 'https://issuer.test'],
      {},
    );
    expect(config.tokens).toEqual([]);
    await using server = await startTestServer({
      ...config,
      host: '127.0.0.1',
      port: 0,
      db: ':memory:',
      logLevel: 'error',
    });
    const rs256 = await new SignJWT({ role: 'viewer' })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer('https://issuer.test')
      .setExpirationTime('1h')
      .sign(rsa.privateKey);
    await using viewer = client(server.url, rs256);
    expect((await viewer.history.query({})).events).toEqual([]);
    const wrongIssuer = await new SignJWT({ role: 'viewer' })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer('https://other.test')
      .sign(rsa.privateKey);
    expect((await refusal(server.url, wrongIssuer)).message).toBe(
      'JWT refused: claim iss: unexpected "iss" claim value',
    );
    // The algorithm-confusion attack: an HS256 token whose "secret" is the server's public key.
    const confused = await hs256({ role: 'admin' }, '1h', new TextEncoder().encode(pem));
    expect((await refusal(server.url, confused)).message).toBe(
      'JWT refused: its algorithm is not accepted (accepted: RS256)',
    );

    await using jwksServer = await startTestServer({ jwtJwksFile: dir.file('jwks.json') });
    const es256 = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'ES256', kid: 'ec-1' })
      .setExpirationTime('1h')
      .sign(ec.privateKey);
    await using admin = client(jwksServer.url, es256);
    expect((await admin.publish.mutate(agentStatus('a'))).id).toBe('1');
    const otherKey = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'ES256', kid: 'ec-2' })
      .sign(ec.privateKey);
    expect((await refusal(jwksServer.url, otherKey)).message).toBe(
      'JWT refused: no key in the JWKS file matches its kid and algorithm',
    );

    expect(() => loadConfig([], { SWITCHBOARD_JWT_SECRET: 'short' })).toThrow(ConfigError);
    await expect(startTestServer({ jwtPublicKeyFile: dir.file('missing.pem') })).rejects.toThrow(
      /^cannot load the JWT keys: ENOENT/,
    );
  });

  it('closes a connection when its token expires; the client reconnects with a fresh token and resumes', async () => {
    await using server = await startTestServer({ tokens, jwtSecret: secret });
    await using admin = client(server.url, adminToken);
    // exp has whole-second resolution: this token lives four to five seconds, long enough to connect and
    // subscribe on a machine whose cores are busy with the rest of the suite, and ends while the test waits.
    const shortLived = () => hs256({ role: 'viewer' }, Math.floor(Date.now() / 1000) + 5);

    // Signed before the socket exists: its `open` must not fire while the test is still awaiting the signature.
    const token = await shortLived();
    const raw = new WebSocket(`${server.url.replace('http', 'ws')}/trpc?connectionParams=1`);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      raw.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
      });
    });
    raw.on('open', () => {
      raw.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
    });

    let issued = 0;
    // The first token is short-lived; the fresh one fetched on reconnect lasts, so the test ends after one cycle.
    await using viewer = client(server.url, async () => (issued++ === 0 ? shortLived() : hs256({ role: 'viewer' })));
    using watching = collect(viewer.events, { lastEventId: '0' });
    await watching.started();
    await admin.publish.mutate(agentStatus('before'));
    await watching.atLeast(1);

    expect(await closed).toEqual({
      code: tokenExpiredCloseCode,
      reason: 'token expired: reconnect with a fresh token',
    });
    await watching.started(2);
    expect(issued).toBe(2);
    await admin.publish.mutate(agentStatus('after'));
    await watching.atLeast(2);
    expect(watching.items.map((e) => e.data.id)).toEqual(['1', '2']);
    expect(watching.errors).toEqual([]);
  });
});

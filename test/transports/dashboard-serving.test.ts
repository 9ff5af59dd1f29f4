/**
 * How the server hands out the dashboard's files: caching headers, revalidation, compression, and a clear page
 * when there is no build. The browser tests (dashboard.test.ts) check what the page does.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startTestServer, tempDir } from '../harness.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw GET, so that no client library adds or strips headers or decompresses. */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A small stand-in for a Vite build: an index page and one hashed asset big enough to compress. */
function fakeBuild(dir: string) {
  mkdirSync(`${dir}/assets`, { recursive: true });
  writeFileSync(`${dir}/index.html`, '<!doctype html><script type="module" src="/assets/app-abc123.js"></script>');
  writeFileSync(`${dir}/assets/app-abc123.js`, `console.log(${JSON.stringify('switchboard '.repeat(500))});\n`);
}

describe('dashboard files', () => {
  it('serves the page for revalidation and hashed assets as immutable, with ETags and gzip', async () => {
    using web = tempDir();
    fakeBuild(web.path);
    await using server = await startTestServer({ dashboardDir: web.path });

    const page = await get(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(page.body.toString()).toContain('/assets/app-abc123.js');
    const etag = String(page.headers.etag);
    expect((await get(`${server.url}/`, { 'if-none-match': etag })).status).toBe(304);

    const asset = await get(`${server.url}/assets/app-abc123.js`, { 'accept-encoding': 'gzip, br' });
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.headers['content-encoding']).toBe('gzip');
    expect(asset.body.length).toBeLessThan(500);
    const plain = await get(`${server.url}/assets/app-abc123.js`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toContain('switchboard switchboard');
    const head = await get(`${server.url}/assets/app-abc123.js`, {}, 'HEAD');
    expect(head.headers['content-length']).toBe(String(plain.body.length));
    expect(head.body.length).toBe(0);
  });

  it('answers only files of the build: no path reaches the file system', async () => {
    using web = tempDir();
    fakeBuild(web.path);
    await using server = await startTestServer({ dashboardDir: web.path });
    for (const path of [
      '/assets/missing.js',
      '/../package.json',
      '/%2e%2e/package.json',
      '/assets/../index.html.bak',
    ]) {
      const reply = await get(`${server.url}${path}`);
      expect(reply.status, path).toBe(404);
      expect(reply.body.toString(), path).toContain('the dashboard is at /');
    }
    expect((await get(`${server.url}/`, {}, 'POST')).status).toBe(404);
  });

  it('starts with no build when a file of the build vanishes while it is read (a build replacing it)', async () => {
    using web = tempDir();
    fakeBuild(web.path);
    // Listed, then gone: what a reader meets while `vite build` empties the folder it is reading.
    symlinkSync(`${web.path}/assets/app-gone.js`, `${web.path}/assets/app-vanished.js`);
    await using server = await startTestServer({ dashboardDir: web.path });
    const page = await get(`${server.url}/`);
    expect(page.status).toBe(503);
    expect(page.body.toString()).toContain('npm run build:web');
    expect((await get(`${server.url}/healthz`)).status).toBe(200);
  });

  it('says how to build the dashboard when there is no build', async () => {
    using empty = tempDir();
    await using server = await startTestServer({ dashboardDir: empty.path });
    const page = await get(`${server.url}/`);
    expect(page.status).toBe(503);
    expect(page.body.toString()).toContain('npm run build:web');
    // The API does not depend on it.
    expect((await get(`${server.url}/healthz`)).status).toBe(200);
  });
});

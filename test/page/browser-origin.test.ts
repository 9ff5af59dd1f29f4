/**
 * The attacks of a hostile web page, in real Chromium against the real server: a page served from another
 * origin (a second HTTP server on another port) tries the WebSocket, a `fetch` POST of `text/plain` to
 * `/ingest` and plain HTML form POSTs; a DNS-rebinding name reads `/trpc/history`. All are refused and nothing is
 * stored, while the dashboard on the server's own origin still works.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentStatus } from '../fixtures.js';
import { connect, startTestServer, tempDir } from '../harness.js';

const chromiumPath = process.env.SWITCHBOARD_CHROMIUM ?? '/usr/bin/chromium';
const pageTimeout = 15_000;

/** A second origin: serves one blank page from its own port on loopback. */
async function hostilePages() {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>an unrelated site</title><iframe name="sink"></iframe>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}/`,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

describe.skipIf(!existsSync(chromiumPath))('a hostile page in Chromium', () => {
  const web = tempDir();
  let browser: Browser | undefined;

  beforeAll(async () => {
    await build({
      configFile: join(import.meta.dirname, '..', '..', 'web', 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: web.path, emptyOutDir: true, sourcemap: false },
    });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      // A rebinding name, resolved to loopback inside the browser only.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--host-resolver-rules=MAP rebind.test 127.0.0.1',
      ],
      timeout: 30_000,
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    web[Symbol.dispose]();
  });

  it('cannot read or write the hub from another origin; the dashboard on its own origin works', async () => {
    if (!browser) throw new Error('no browser');
    await using server = await startTestServer({ dashboardDir: web.path });
    await using hostile = await hostilePages();
    await using client = connect(server.url);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(hostile.url);
      const event = JSON.stringify(agentStatus('planted'));
      const outcome = await page.evaluate(
        async ({ hub, event }) => {
          const socket = await new Promise<string>((resolve) => {
            const ws = new WebSocket(`${hub.replace('http', 'ws')}/trpc`);
            ws.onopen = () => {
              resolve('open');
            };
            ws.onclose = (e) => {
              resolve(`closed ${String(e.code)}`);
            };
          });
          // A "simple" request: no preflight, the answer is opaque to the page, but it is sent.
          await fetch(`${hub}/ingest`, {
            method: 'POST',
            mode: 'no-cors',
            headers: { 'content-type': 'text/plain' },
            body: event,
          });
          const submit = (enctype: string) =>
            new Promise<void>((resolve) => {
              const sink = document.querySelector('iframe');
              if (!sink) throw new Error('no iframe');
              sink.onload = () => {
                resolve();
              };
              const form = document.createElement('form');
              Object.assign(form, { method: 'POST', action: `${hub}/ingest`, enctype, target: 'sink' });
              // The classic JSON-by-form trick: name and value join into `{...,"x":"=..."}`.
              const input = document.createElement('input');
              Object.assign(input, { name: `${event.slice(0, -1)},"x":"`, value: '"}' });
              form.append(input);
              document.body.append(form);
              form.submit();
            });
          await submit('text/plain');
          await submit('application/x-www-form-urlencoded');
          return socket;
        },
        { hub: server.url, event },
      );
      expect(outcome).toBe('closed 1006');

      // DNS rebinding: the page's own name now points at the hub; the Host check refuses it.
      const rebound = await page.goto(
        `http://rebind.test:${String(server.port)}/trpc/history?input=${encodeURIComponent('{"json":{}}')}`,
      );
      expect(rebound?.status()).toBe(403);

      expect((await client.history.query({ after: '0' })).events).toEqual([]);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      // The socket, the fetch and both forms; the rebound page (and its favicon request) by Host.
      expect(metrics).toContain('switchboard_rejected_requests_total{reason="origin"} 4');
      expect(metrics).toMatch(/switchboard_rejected_requests_total\{reason="host"\} [1-9]/);

      // The dashboard, served from the hub's own origin, connects and shows live events.
      const dashboard = await context.newPage();
      await dashboard.goto(server.url);
      await dashboard
        .locator('[data-testid="connection"]', { hasText: /^\s*live\s*$/ })
        .waitFor({ timeout: pageTimeout });
      await client.publish.mutate(agentStatus('coder-001', 'idle'));
      await dashboard
        .locator('[data-agent="coder-001"] [data-testid="agent-status"]', { hasText: /^\s*idle\s*$/ })
        .waitFor({ timeout: pageTimeout });
    } finally {
      await context.close();
    }
  });
});

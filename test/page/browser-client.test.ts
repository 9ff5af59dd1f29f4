/**
 * The contract and the client in a real browser: `@switchboard/client` bundled by esbuild for the browser
 * platform (a Node-only import fails the bundle), loaded in Chromium from the real server, which it then
 * subscribes to and publishes through over the browser's WebSocket.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTestServer, tempDir } from '../harness.js';

const chromiumPath = process.env.SWITCHBOARD_CHROMIUM ?? '/usr/bin/chromium';
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];

describe.skipIf(!existsSync(chromiumPath))('client in a browser', () => {
  it('subscribes and publishes with the Publisher: every event arrives once, in order', async () => {
    using page = tempDir();
    await build({
      entryPoints: ['test/browser/client-page.ts'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'chrome120',
      outfile: page.file('page.js'),
      logLevel: 'silent',
    });
    writeFileSync(page.file('index.html'), '<!doctype html><script type="module" src="/page.js"></script>');

    await using server = await startTestServer({ dashboardDir: page.path });
    const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 30_000 });
    try {
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (error) => errors.push(error.message));
      await tab.goto(server.url);
      await tab.waitForFunction(() => typeof window.roundTrip === 'function', undefined, { timeout: 10_000 });
      const count = 200;
      const received = await tab.evaluate((n) => window.roundTrip(n), count);
      expect(received).toEqual([...Array.from({ length: count }, (_, i) => `event ${i}`), 'last']);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

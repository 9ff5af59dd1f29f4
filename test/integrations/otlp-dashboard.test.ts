/**
 * The dashboard shows what OpenTelemetry brought: a Claude Code session's cost on its agent card, on its workflow
 * lane and in the running total, and each new API request added live. Debian's Chromium driven by playwright-core
 * against the real server serving a fresh Vite build of `web/`; skipped (as test/page/dashboard.test.ts says loudly)
 * without Chromium.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { describe, expect, it } from 'vitest';
import { startTestServer, tempDir } from '../harness.js';
import { claudeCodeLogs, claudeCodeTurn, postOtlp } from '../otlp-fixtures.js';

const chromiumPath = process.env.SWITCHBOARD_CHROMIUM ?? '/usr/bin/chromium';
/** Chromium as this machine runs it: no sandbox for root, and nothing that reaches for the network. */
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
const pageTimeout = 15_000;

describe.skipIf(!existsSync(chromiumPath))('usage on the dashboard', () => {
  it(
    'shows a session’s cost per agent, per workflow and in all, and adds each request live',
    { timeout: 120_000 },
    async () => {
      using web = tempDir();
      await build({
        configFile: join(import.meta.dirname, '..', '..', 'web', 'vite.config.ts'),
        logLevel: 'warn',
        build: { outDir: web.path, emptyOutDir: true, sourcemap: false },
      });
      await using server = await startTestServer({ dashboardDir: web.path });
      const session = 'sess-dash';
      const turn = claudeCodeTurn();
      const start = new Date('2026-12-01T10:00:00Z');
      // The prompt and the first API request ($0.0123), before the page opens.
      expect((await postOtlp(server.url, 'logs', claudeCodeLogs(session, turn.slice(0, 2), start))).status).toBe(200);

      const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 30_000 });
      try {
        const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(server.url);
        const shows = (selector: string, text: string) =>
          page.locator(selector, { hasText: text }).first().waitFor({ timeout: pageTimeout });
        const card = `[data-agent="${session}"] [data-testid="agent-usage"]`;
        const lane = `[data-workflow="${session}"] [data-testid="workflow-usage"]`;
        await shows(card, '$0.0123');
        await shows(lane, '$0.0123');
        await shows('[data-testid="usage-total"]', '$0.0123');
        expect(await page.locator(card).innerText()).toBe('$0.0123 · 22k tokens');

        // The rest of the turn, with a second request ($0.0007), arrives while the page is open.
        expect((await postOtlp(server.url, 'logs', claudeCodeLogs(session, turn.slice(2), start, 3))).status).toBe(200);
        await shows(card, '$0.0130');
        await shows(lane, '$0.0130');
        await shows('[data-testid="usage-total"]', '$0.0130');
        expect(await page.locator(card).getAttribute('title')).toBe(
          '2 requests · 1500 in · 365 out · 18000 cache read · 2500 cache written',
        );
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});

/**
 * The dashboard's browser tests share this: Debian's Chromium driven by playwright-core, a fresh Vite build of
 * `web/` for the real server to serve, a Publisher to feed it, and waits on what the page shows. Without
 * Chromium the tests are skipped, and the run says so loudly.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import WebSocket from 'ws';
import { createPublisher, type Publisher } from '../client/index.js';
import type { PublishInput } from '@switchboard/shared';
import { tempDir } from './harness.js';

export const chromiumPath = process.env.SWITCHBOARD_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(chromiumPath);
if (!haveChromium) {
  const bar = '!'.repeat(100);
  console.warn(
    `\n${bar}\n!! BROWSER TESTS SKIPPED: no Chromium at ${chromiumPath}.\n` +
      `!! Install it (apt-get install -y chromium) or point SWITCHBOARD_CHROMIUM at one to run the dashboard's tests.\n${bar}\n`,
  );
}

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
export const artifacts = join(import.meta.dirname, 'artifacts');
/** Bounds every wait on the page. */
export const pageTimeout = 15_000;

/**
 * The page built from the sources under test into a folder of its own, exactly as `npm run build:web` builds,
 * and a browser to open it in. `pageErrors` collects what the page threw.
 */
export interface DashboardBrowser extends AsyncDisposable {
  webDir: string;
  pageErrors: string[];
  /** A new tab (in a context of its own) at `url`, 1600×1000 unless told; clipboard access if asked. */
  open: (url: string, options?: { width?: number; height?: number; clipboard?: boolean }) => Promise<Page>;
}

export async function startDashboardBrowser(): Promise<DashboardBrowser> {
  const web = tempDir();
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];
  let browser: Browser | undefined;
  try {
    await build({
      configFile: join(import.meta.dirname, '..', 'web', 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: web.path, emptyOutDir: true, sourcemap: false },
    });
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 30_000 });
  } catch (error) {
    web[Symbol.dispose]();
    throw error;
  }
  const launched = browser;
  return {
    webDir: web.path,
    pageErrors,
    open: async (url, { width = 1600, height = 1000, clipboard = false } = {}) => {
      const context = await launched.newContext({ viewport: { width, height } });
      contexts.push(context);
      if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(url);
      return page;
    },
    [Symbol.asyncDispose]: async () => {
      for (const context of contexts) await context.close();
      await launched.close();
      web[Symbol.dispose]();
    },
  };
}

export function publisherFor(url: string): Publisher {
  return createPublisher({
    url,
    WebSocket,
    retry: { initialMs: 20, maxMs: 200 },
    reconnect: { initialMs: 20, maxMs: 200 },
    requestTimeoutMs: 5_000,
  });
}

export async function publishAll(publisher: Publisher, events: readonly PublishInput[]) {
  for (const event of events) {
    const result = publisher.publish(event);
    if (!result.accepted) throw new Error(`publish refused: ${result.message}`);
  }
  await publisher.flush(pageTimeout);
}

/** A locator that must come to show `text` (whole text, trimmed). */
export async function waitForText(page: Page, selector: string, text: string | RegExp) {
  const pattern = typeof text === 'string' ? new RegExp(`^\\s*${text}\\s*$`) : text;
  await page.locator(selector, { hasText: pattern }).first().waitFor({ timeout: pageTimeout });
}

/** Posts one Claude Code hook event as Claude Code's `http` hook does. */
export async function postHook(url: string, body: unknown) {
  const res = await fetch(`${url}/ingest/claude-code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`hook refused: ${res.status} ${await res.text()}`);
}

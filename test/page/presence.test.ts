/**
 * The dashboard tells the truth about presence, in Debian's Chromium against a real server with a presence TTL
 * of 1 s: an agent that falls silent shows offline with its reason, and so do the workflow it runs and the
 * TDD task it works on; when it reports again, the marks go. Skipped (with the dashboard test's banner) without
 * Chromium.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentStatus, tddPhaseChanged, workflowStarted } from '../fixtures.js';
import { connect, startTestServer, tempDir } from '../harness.js';

const chromiumPath = process.env.SWITCHBOARD_CHROMIUM ?? '/usr/bin/chromium';
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

describe.skipIf(!existsSync(chromiumPath))('presence on the dashboard', () => {
  const web = tempDir();
  let browser: Browser | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await build({
      configFile: join(import.meta.dirname, '..', '..', 'web', 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: web.path, emptyOutDir: true, sourcemap: false },
    });
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    web[Symbol.dispose]();
    expect(pageErrors).toEqual([]);
  });

  const shows = (page: Page, selector: string, state: 'attached' | 'detached' = 'attached') =>
    page.locator(selector).first().waitFor({ state, timeout: pageTimeout });

  it('marks a silent agent, its running workflow and its TDD task offline, and clears them when it is back', async () => {
    await using server = await startTestServer({ dashboardDir: web.path, presenceTtlMs: 1_000 });
    await using client = connect(server.url);
    await client.publishBatch.mutate([
      agentStatus('coder-001', 'busy'),
      workflowStarted('wf-1'),
      {
        type: 'workflow.step_started',
        data: { workflowId: 'wf-1', stepId: 'plan', stepType: 'agent', agentId: 'coder-001' },
      },
      tddPhaseChanged('task-1', 'red', 'coder-001'),
    ]);
    if (!browser) throw new Error('no browser');
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);

    const card = '[data-agent="coder-001"]';
    const lane = '[data-workflow="wf-1"] [data-testid="agent-gone"]';
    const task = '[data-task="task-1"] [data-testid="agent-gone"]';
    await shows(page, `${card} [data-testid="agent-status"]:text-is("offline")`);
    await shows(page, lane);
    await shows(page, task);
    expect(await page.locator(card).innerText()).toContain('no event or heartbeat for 1 s');
    expect(await page.locator(lane).getAttribute('title')).toBe('coder-001 is offline: no event or heartbeat for 1 s');
    await expect(page.locator(lane).innerText()).resolves.toBe('agent offline');
    // The workflow itself is still running: presence marks it, it does not end it.
    await expect(page.locator('[data-workflow="wf-1"] [data-testid="workflow-status"]').innerText()).resolves.toBe(
      'running',
    );

    // Back: its next status clears the marks; heartbeats keep it live while the page is read (an agent with
    // nothing to say sends them), and once they stop it goes offline again.
    await client.publish.mutate(agentStatus('coder-001', 'idle'));
    const beats = setInterval(() => {
      client.heartbeat.mutate({ agentIds: ['coder-001'] }).catch((error: unknown) => pageErrors.push(String(error)));
    }, 200);
    try {
      await shows(page, `${card} [data-testid="agent-status"]:text-is("idle")`);
      await shows(page, lane, 'detached');
      await shows(page, task, 'detached');
    } finally {
      clearInterval(beats);
    }
    await shows(page, lane);
    await page.close();
  });
});

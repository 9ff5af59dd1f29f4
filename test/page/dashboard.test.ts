/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the real server serving
 * a fresh Vite build of `web/`, with events published through the Publisher. Without Chromium these tests are
 * skipped, and the run says so loudly.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { demoTraffic } from '../../client/cli/demo-traffic.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { publishInputSchema, type PublishInput } from '@switchboard/shared';
import {
  artifacts,
  haveChromium,
  pageTimeout,
  postHook,
  publishAll,
  publisherFor,
  startDashboardBrowser,
  waitForText,
  type DashboardBrowser,
} from '../dashboard-browser.js';
import { measureLayout } from '../dashboard-layout.js';
import catalogue from '../../examples/custom-events.js';
import { agentLog, agentStatus, workflowStarted, workflowStepCompleted } from '../fixtures.js';
import { startTestServer, tempDir } from '../harness.js';

const phaseChanged = (taskId: string, previous: 'red' | 'green' | null, current: 'red' | 'green' | 'refactor') =>
  ({
    type: 'tdd.phase_changed',
    data: {
      agentId: 'coder-001',
      taskId,
      previousPhase: previous,
      currentPhase: current,
      testResults:
        current === 'red'
          ? { total: 5, passing: 4, failing: 1, skipped: 0 }
          : { total: 5, passing: 5, failing: 0, skipped: 0 },
      coverage: { lines: 82, branches: 70, functions: 90, statements: 81 },
    },
  }) satisfies PublishInput;

/** Every event id the log holds, read as a person would: scrolling the virtualised list from top to bottom. */
async function logIds(page: Page): Promise<number[]> {
  return page.evaluate(async () => {
    const scroller = document.querySelector<HTMLElement>('[data-testid="log-scroll"]');
    if (!scroller) throw new Error('no event log on the page');
    const frame = () =>
      new Promise((resolve) => {
        requestAnimationFrame(() => requestAnimationFrame(resolve));
      });
    const seen = new Set<number>();
    const rowsInView = () => {
      for (const row of scroller.querySelectorAll<HTMLElement>('[data-event-id]'))
        seen.add(Number(row.dataset.eventId));
    };
    for (let top = 0; ; top += Math.max(1, scroller.clientHeight / 2)) {
      scroller.scrollTop = top;
      await frame();
      rowsInView();
      if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1) break;
    }
    scroller.scrollTop = 0;
    return [...seen].sort((a, b) => a - b);
  });
}

describe.skipIf(!haveChromium)('the dashboard in Chromium', () => {
  let dashboard: DashboardBrowser | undefined;
  const web = {
    get path() {
      if (!dashboard) throw new Error('no dashboard build');
      return dashboard.webDir;
    },
  };
  const openPage = (url: string): Promise<Page> => {
    if (!dashboard) throw new Error('no browser');
    return dashboard.open(url);
  };

  beforeAll(async () => {
    dashboard = await startDashboardBrowser();
  }, 120_000);

  afterAll(async () => {
    const errors = dashboard?.pageErrors ?? [];
    await dashboard?.[Symbol.asyncDispose]();
    expect(errors).toEqual([]);
  });

  it('shows an agent changing status, a workflow step completing and a TDD phase turning green', async () => {
    await using server = await startTestServer({ dashboardDir: web.path });
    const publisher = publisherFor(server.url);
    try {
      await publishAll(publisher, [
        agentStatus('coder-001', 'idle'),
        workflowStarted('wf-7'),
        { type: 'workflow.step_started', data: { workflowId: 'wf-7', stepId: 'plan', stepType: 'agent' } },
        phaseChanged('task-9', null, 'red'),
      ]);
      const page = await openPage(server.url);
      await waitForText(page, '[data-testid="connection"]', 'live');
      await waitForText(page, '[data-agent="coder-001"] [data-testid="agent-status"]', 'idle');
      await page
        .locator('[data-workflow="wf-7"] [data-step="plan"][data-state="running"]')
        .waitFor({ timeout: pageTimeout });
      await waitForText(page, '[data-task="task-9"] [data-testid="tdd-phase"]', 'red');
      // The snapshot held only the step_started event; the step list of workflow.started came from history.
      await page
        .locator('[data-workflow="wf-7"] [data-step="build"][data-state="pending"]')
        .waitFor({ timeout: pageTimeout });

      await publishAll(publisher, [
        agentStatus('coder-001', 'busy'),
        workflowStepCompleted('wf-7', 'plan', 'build'),
        phaseChanged('task-9', 'red', 'green'),
      ]);
      await waitForText(page, '[data-agent="coder-001"] [data-testid="agent-status"]', 'busy');
      await expect(page.locator('[data-agent="coder-001"]').innerText()).resolves.toContain('task-1');
      await page
        .locator('[data-workflow="wf-7"] [data-step="plan"][data-state="completed"]')
        .waitFor({ timeout: pageTimeout });
      await expect(page.locator('[data-workflow="wf-7"] [data-step="plan"]').innerText()).resolves.toContain('1.5 s');
      await waitForText(page, '[data-task="task-9"] [data-testid="tdd-phase"]', 'green');
      await expect(page.locator('[data-task="task-9"]').innerText()).resolves.toContain('5/5 passing');

      // The log: all seven events, newest first; one event's whole payload in the drawer.
      await waitForText(page, '[data-testid="log-status"]', /^7 events · newest #7/);
      expect(await logIds(page)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      const detail = page.getByTestId('drawer');
      await page.locator('[data-event-id="5"]').click();
      expect(await detail.innerText()).toContain('#5 agent.status');
      expect(await detail.innerText()).toContain('"status": "busy"');
      await page.keyboard.press('Escape');
      await detail.waitFor({ state: 'detached', timeout: pageTimeout });

      // A topic filter is applied by the server: only the TDD task's events remain. The event in the drawer
      // still matches, so it stays open.
      await page.locator('[data-event-id="7"]').click();
      await waitForText(page, '#drawer-title', '#7 tdd.phase_changed');
      await page.getByLabel('Topic pattern').fill('tdd:*');
      await page.getByRole('button', { name: 'Apply' }).click();
      await waitForText(page, '[data-testid="log-status"]', /^2 events · newest #7/);
      expect(await logIds(page)).toEqual([4, 7]);
      expect(await detail.innerText()).toContain('#7 tdd.phase_changed');
      // A filter that no longer matches it closes the drawer.
      await page.getByLabel('Event type').selectOption('tdd.test_result');
      await waitForText(page, '[data-testid="log-status"]', /^0 events/);
      await detail.waitFor({ state: 'detached', timeout: pageTimeout });
      await page.close();
    } finally {
      await publisher.close(5_000);
    }
  });

  it('recovers after a server restart and replays what it missed, with every event in the log once', async () => {
    using dir = tempDir();
    const db = dir.file('switchboard.db');
    const first = await startTestServer({ db, dashboardDir: web.path });
    const { port } = first;
    let second: Awaited<ReturnType<typeof startTestServer>> | undefined;
    try {
      const before = publisherFor(first.url);
      await publishAll(
        before,
        Array.from({ length: 30 }, (_, i) => agentLog('coder-001', `before restart ${i + 1}`)),
      );
      await before.close(5_000);
      const page = await openPage(first.url);
      await waitForText(page, '[data-testid="log-status"]', /^30 events · newest #30/);
      await waitForText(page, '[data-testid="connection"]', 'live');

      await first.close();
      await waitForText(page, '[data-testid="connection"]', /reconnecting|offline/);

      // While the page is away, another writer stores 25 events in the same database.
      const store = createSqliteStore(openDatabase(db, 'normal'));
      await store.append(
        Array.from({ length: 25 }, (_, i) => publishInputSchema.parse(agentLog('coder-002', `while away ${i + 1}`))),
      );
      await store.close();

      second = await startTestServer({ db, port, dashboardDir: web.path });
      await waitForText(page, '[data-testid="caught-up"]', /caught up after reconnect · replayed 25 events/);
      await waitForText(page, '[data-testid="connection"]', 'live');

      // And it stays live afterwards.
      const after = publisherFor(second.url);
      await publishAll(
        after,
        Array.from({ length: 15 }, (_, i) => agentLog('coder-001', `after restart ${i + 1}`)),
      );
      await after.close(5_000);
      await waitForText(page, '[data-testid="log-status"]', /^70 events · newest #70/);
      expect(await logIds(page)).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
      await page.close();
    } finally {
      await first.close();
      await second?.close();
    }
  });

  it('asks for a token when the server requires one, and refuses a wrong one', async () => {
    const viewer = 'viewer-token-for-dashboard-test';
    await using server = await startTestServer({
      dashboardDir: web.path,
      tokens: [{ role: 'viewer', token: viewer, name: 'dashboard' }],
    });
    const page = await openPage(server.url);
    await page.getByText('This server needs a viewer (or admin) token.').waitFor({ timeout: pageTimeout });
    await page.locator('#token').fill('not-the-right-token-at-all');
    await page.getByRole('button', { name: 'Open dashboard' }).click();
    await page.getByText('That token was refused').waitFor({ timeout: pageTimeout });
    await page.locator('#token').fill(viewer);
    await page.getByRole('button', { name: 'Open dashboard' }).click();
    await waitForText(page, '[data-testid="connection"]', 'live');
    // The token lasts for the tab's session: a reload goes straight to the dashboard.
    await page.reload();
    await waitForText(page, '[data-testid="connection"]', 'live');
    await page.close();
  });

  it('stays readable under a busy orchestrator at 420, 1280 and 1600 px, and saves screenshots', async () => {
    await using server = await startTestServer({ dashboardDir: web.path });
    const publisher = publisherFor(server.url);
    try {
      const traffic = demoTraffic(12, 7);
      await publishAll(
        publisher,
        Array.from({ length: 900 }, () => traffic.next().value),
      );
      const page = await openPage(server.url);
      await waitForText(page, '[data-testid="connection"]', 'live');
      // The log holds its newest page from history; the DOM holds only the rows in view.
      await waitForText(page, '[data-testid="log-status"]', /^200 events · newest #900/);
      const rendered = await page.locator('[data-event-id]').count();
      expect(rendered).toBeGreaterThan(10);
      expect(rendered).toBeLessThan(80);
      // The agents panel fills from its own subscription, which can land after the log's page: wait for it.
      await vi.waitFor(
        async () => {
          expect(await page.locator('[data-agent]').count()).toBe(12);
        },
        { timeout: 15_000 },
      );
      // Scrolling to the end of the log loads the next page from history.
      await page.locator('[data-testid="log-scroll"]').evaluate((el) => {
        el.scrollTop = el.scrollHeight;
      });
      await waitForText(page, '[data-testid="log-status"]', /^400 events · newest #900/);

      // More traffic while the page watches, then the picture the README shows.
      await publishAll(
        publisher,
        Array.from({ length: 300 }, () => traffic.next().value),
      );
      await waitForText(page, '[data-testid="log-status"]', /^700 events · newest #1200/);
      await page.locator('[data-testid="log-scroll"]').evaluate((el) => {
        el.scrollTop = 0;
      });

      // A phone, a 1280×800 laptop and a wide screen, on the same page: nothing sticks out sideways, every
      // panel shows some of its content whole, and text cut short can be read on hover.
      mkdirSync(artifacts, { recursive: true });
      for (const viewport of [
        { width: 420, height: 900 },
        { width: 1280, height: 800 },
        { width: 1600, height: 1000 },
      ]) {
        await page.setViewportSize(viewport);
        await page.screenshot({ path: join(artifacts, `dashboard-${viewport.width}.png`), fullPage: true });
        // The layout settles in a frame or two; measure once every panel shows an item wholly.
        await vi.waitFor(
          async () => {
            const layout = await measureLayout(page);
            for (const panel of layout.panels) expect(panel.visibleItems, panel.panel).toBeGreaterThan(0);
          },
          { timeout: pageTimeout, interval: 50 },
        );
        const layout = await measureLayout(page);
        expect(layout.scrollWidth, `page width at ${viewport.width} px`).toBeLessThanOrEqual(layout.clientWidth);
        for (const panel of layout.panels) {
          const at = `${panel.panel} at ${viewport.width} px`;
          expect(panel.overflowing, at).toEqual([]);
          expect(panel.untitled, at).toEqual([]);
          expect(panel.width, at).toBeGreaterThan(300);
          expect(panel.height, at).toBeGreaterThan(150);
          expect(panel.items, at).toBeGreaterThan(0);
        }
        if (viewport.width === 1280) {
          // Dense enough to read at a glance: before this layout, 5 log rows, 2 agent cards and 1½ TDD tasks.
          const shown = Object.fromEntries(layout.panels.map((p) => [p.panel, p.visibleItems]));
          expect(shown.log, 'whole log rows at 1280×800').toBeGreaterThanOrEqual(10);
          expect(shown.agents, 'whole agent cards at 1280×800').toBeGreaterThanOrEqual(6);
          expect(shown.tdd, 'whole TDD tasks at 1280×800').toBeGreaterThanOrEqual(5);
        }

        // An event's detail opens within reach, readable, and Escape closes it.
        await page.locator('[data-event-id]').first().click();
        const detail = page.getByTestId('drawer');
        const box = await detail.boundingBox();
        if (!box) throw new Error(`no detail view at ${viewport.width} px`);
        expect(box.x + box.width).toBeLessThanOrEqual(viewport.width);
        expect(box.width).toBeGreaterThan(Math.min(300, viewport.width / 2));
        expect(box.height).toBeGreaterThan(150);
        await expect(detail.getByTestId('raw-json').innerText()).resolves.toMatch(/^\{\n {2}"id": "\d+"/);
        await page.screenshot({ path: join(artifacts, `dashboard-${viewport.width}-detail.png`) });
        await page.keyboard.press('Escape');
        await detail.waitFor({ state: 'detached', timeout: pageTimeout });
      }
      await page.close();
    } finally {
      await publisher.close(5_000);
    }
  });

  it('shows a Claude Code session from its hooks, and custom events with their summaries', async () => {
    await using server = await startTestServer({ dashboardDir: web.path, catalogue });
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
    };
    // Live, as a session is watched: the page is open before the hooks fire.
    const page = await openPage(server.url);
    await waitForText(page, '[data-testid="connection"]', 'live');
    const hook = { session_id: 'abc123', cwd: '/home/user/my-project', permission_mode: 'default' };
    const bash = { command: 'npm test', description: 'Run test suite' };
    for (const payload of [
      { ...hook, hook_event_name: 'SessionStart', source: 'startup', model: 'claude-sonnet-4-6' },
      { ...hook, hook_event_name: 'UserPromptSubmit', prompt: 'Fix the failing factorial test' },
      { ...hook, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: bash, tool_use_id: 'toolu_01' },
      {
        ...hook,
        hook_event_name: 'PostToolUseFailure',
        tool_name: 'Bash',
        tool_input: bash,
        tool_use_id: 'toolu_01',
        error: 'Command exited with non-zero status code 1',
      },
      {
        ...hook,
        hook_event_name: 'PostToolUse',
        tool_name: 'Edit',
        tool_input: { file_path: '/home/user/my-project/src/factorial.ts', old_string: 'n', new_string: 'n - 1' },
        tool_response: { filePath: '/home/user/my-project/src/factorial.ts', success: true },
        tool_use_id: 'toolu_02',
      },
      { ...hook, hook_event_name: 'SubagentStart', agent_id: 'agent-def456', agent_type: 'Explore' },
      {
        ...hook,
        hook_event_name: 'Notification',
        message: 'Claude needs your permission to use Bash',
        notification_type: 'permission_prompt',
      },
    ]) {
      await postHook(server.url, payload);
    }
    await post('/ingest', { type: 'pool.scaled', data: { poolId: 'gpu', from: 2, to: 6 } });
    await post('/ingest', {
      type: 'deploy.finished',
      data: { deployId: 'd-1', service: 'api', outcome: 'succeeded', durationMs: 42_000 },
    });

    // The hooks are 12 events: with prompts and subagents, steps start; with each tool call, the session is busy.
    await waitForText(page, '[data-testid="log-status"]', /^14 events · newest #14/);
    await waitForText(page, '[data-event-id="13"] .summary', 'gpu scaled 2 → 6 workers');
    // A summary written as a function stays in the module: the row shows the type and topic alone.
    await waitForText(page, '[data-event-id="14"] .topic', 'deploy:api');
    await expect(page.locator('[data-event-id="14"] .summary').innerText()).resolves.toBe('');
    await waitForText(page, '[data-agent="abc123"] [data-testid="agent-status"]', 'blocked');
    await waitForText(page, '[data-agent="agent-def456"] [data-testid="agent-status"]', 'busy');
    await waitForText(page, '[data-workflow="abc123"] li.block', /Bash failed: npm test/);
    // A page opened afterwards gets the session through the snapshot (its latest lifecycle event alone), and its
    // steps and blocks from history.
    const later = await openPage(server.url);
    await waitForText(later, '[data-workflow="abc123"] li.block', /Bash failed: npm test/);
    await later.close();
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'claude-code.png') });
    await page.close();
  });
});

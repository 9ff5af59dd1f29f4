/**
 * Digging into the dashboard in Chromium: the detail drawer (from a lane's block, a call, a step and a log row,
 * by mouse and by keyboard, with its raw JSON on the clipboard), every block of a lane behind "show all", the
 * live activity chart, and a Claude Code session's transcript picked from the session list.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PublishInput } from '@switchboard/shared';
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
import { agentLog, workflowStarted } from '../fixtures.js';
import { claudeCodeLogs, postOtlp } from '../otlp-fixtures.js';
import { startTestServer } from '../harness.js';

/** A summary far longer than a lane's step is wide. */
const longSummary = `read the whole failing test suite before touching anything: ${'factorial '.repeat(18)}end`;

/** Step `build` of `wf-dig`: a long text block, four more blocks, then one call in two halves. */
function digWorkflow(callStart: Date): PublishInput[] {
  const block = (data: object): PublishInput =>
    ({
      type: 'workflow.block',
      data: { workflowId: 'wf-dig', stepId: 'build', agentId: 'coder-001', ...data },
    }) as PublishInput;
  const tool = (toolName: string, summary: string, payload: object = {}) =>
    block({ blockType: 'tool_use', summary, payload: { toolName, ...payload } });
  return [
    workflowStarted('wf-dig'),
    { type: 'workflow.step_started', data: { workflowId: 'wf-dig', stepId: 'build', stepType: 'agent' } },
    block({ blockType: 'text', summary: longSummary, payload: { text: `${longSummary}\n\nand a second paragraph` } }),
    block({ blockType: 'thinking', summary: 'which test fails first', payload: { text: 'n = 0 should give 1' } }),
    tool('read_file', 'read src/factorial.ts', { inputPreview: '{"path":"src/factorial.ts"}' }),
    tool('edit_file', 'edit src/factorial.ts', { inputPreview: '{"path":"src/factorial.ts"}' }),
    tool('grep', 'grep factorial', { inputPreview: '{"pattern":"factorial"}' }),
    {
      ...tool('bash', 'bash called: npm test', { callId: 'call-1', inputPreview: '{"command":"npm test"}' }),
      timestamp: callStart,
    },
    {
      ...tool('bash', 'bash failed: npm test', {
        callId: 'call-1',
        inputPreview: '{"command":"npm test"}',
        output: 'Tests: 1 failed, 4 passed',
        isError: true,
      }),
      timestamp: new Date(callStart.getTime() + 1_234),
    },
  ];
}

/** Pixels of the chart's canvas drawn in `rgb`: a line the chart drew, not the grid or the axes. */
function pixelsOf(page: Page, rgb: [number, number, number]): Promise<number> {
  return page.locator('[data-testid="activity-chart"] canvas').evaluate((canvas, [r, g, b]) => {
    if (!(canvas instanceof HTMLCanvasElement)) throw new Error('no canvas');
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2d context');
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] === r && data[i + 1] === g && data[i + 2] === b && data[i + 3] === 255) n++;
    }
    return n;
  }, rgb);
}

describe.skipIf(!haveChromium)('digging into the dashboard', () => {
  let dashboard: DashboardBrowser | undefined;
  const browser = () => {
    if (!dashboard) throw new Error('no browser');
    return dashboard;
  };

  beforeAll(async () => {
    dashboard = await startDashboardBrowser();
  }, 120_000);

  afterAll(async () => {
    const errors = dashboard?.pageErrors ?? [];
    await dashboard?.[Symbol.asyncDispose]();
    expect(errors).toEqual([]);
  });

  it('shows every block of a lane behind "show all", and any block, call, step or event whole in the drawer', async () => {
    await using server = await startTestServer({ dashboardDir: browser().webDir });
    const publisher = publisherFor(server.url);
    try {
      await publishAll(publisher, digWorkflow(new Date(Date.now() - 10_000)));
      const page = await browser().open(server.url, { width: 1280, height: 800, clipboard: true });
      await waitForText(page, '[data-testid="connection"]', 'live');
      const step = page.locator('[data-workflow="wf-dig"] [data-step="build"]');

      // Six items (five blocks and one call made of two): the newest four show, the rest behind "show all".
      await waitForText(page, '[data-workflow="wf-dig"] [data-step="build"] .show-all', /^show all 6 \(2 earlier\)$/);
      await expect(step.locator('li.block').count()).resolves.toBe(4);
      await expect(step.innerText()).resolves.not.toContain('read the whole failing test suite');
      await step.locator('.show-all').click();
      await expect(step.locator('li.block').count()).resolves.toBe(6);
      const first = step.locator('li.block').first();
      await expect(first.innerText()).resolves.toContain('read the whole failing test suite');

      // The long text block: its summary and text whole in the drawer (the lane shows two lines of it), and its
      // raw JSON, which the copy button puts on the clipboard.
      const drawer = page.getByTestId('drawer');
      await first.locator('button').click();
      await waitForText(page, '#drawer-title', 'text block');
      await expect(drawer.locator('[data-section="Summary"] pre').innerText()).resolves.toBe(longSummary);
      await expect(drawer.locator('[data-section="Text"] pre').innerText()).resolves.toBe(
        `${longSummary}\n\nand a second paragraph`,
      );
      const raw = await drawer.getByTestId('raw-json').innerText();
      expect(JSON.parse(raw)).toMatchObject({ id: '3', type: 'workflow.block', data: { summary: longSummary } });
      await drawer.getByTestId('copy').click();
      await page.locator('[data-testid="copy"][data-state="copied"]').waitFor({ timeout: pageTimeout });
      await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toBe(raw);

      // The call, by keyboard: its two halves are one item, failed, with its duration, input and error; Escape
      // closes the drawer and gives the focus back to the call.
      const call = step.locator('li.block.call-failed button');
      await expect(call.innerText()).resolves.toMatch(/^bash ✕ bash failed: npm test · 1\.2 s$/);
      await call.focus();
      await page.keyboard.press('Enter');
      await waitForText(page, '#drawer-title', 'bash call');
      await expect(drawer.locator('[data-fact="outcome"] dd').innerText()).resolves.toBe('failed');
      await expect(drawer.locator('[data-fact="duration"] dd').innerText()).resolves.toBe('1.2 s');
      await expect(drawer.locator('[data-section="Input"] pre').innerText()).resolves.toBe(
        '{\n  "command": "npm test"\n}',
      );
      await expect(drawer.locator('[data-section="Error"] pre').innerText()).resolves.toBe('Tests: 1 failed, 4 passed');
      expect(JSON.parse(await drawer.getByTestId('raw-json').innerText())).toHaveLength(2);
      await page.keyboard.press('Escape');
      await drawer.waitFor({ state: 'detached', timeout: pageTimeout });
      await expect(call.evaluate((el) => el === document.activeElement)).resolves.toBe(true);

      // The step: its state and every item on a line of its own.
      await step.locator('.step-head').click();
      await waitForText(page, '#drawer-title', 'step build');
      await expect(drawer.locator('[data-fact="state"] dd').innerText()).resolves.toBe('running');
      const lines = (await drawer.locator('[data-section="Blocks (6)"] pre').innerText()).split('\n');
      expect(lines).toEqual([
        `text: ${longSummary}`,
        'thinking: which test fails first',
        'read_file: read src/factorial.ts',
        'edit_file: edit src/factorial.ts',
        'grep: grep factorial',
        'bash ✕: bash failed: npm test',
      ]);

      // A log row, by keyboard: Tab reaches it, Enter opens it.
      await page.locator('[data-event-id="9"]').focus();
      await page.keyboard.press('Enter');
      await waitForText(page, '#drawer-title', '#9 workflow.block');
      await expect(drawer.locator('[data-fact="topic"] dd').innerText()).resolves.toBe('workflow:wf-dig');
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'drawer-1280.png') });
      await page.keyboard.press('Escape');
      await drawer.waitFor({ state: 'detached', timeout: pageTimeout });
    } finally {
      await publisher.close(5_000);
    }
  });

  it('charts events per second by family and by agent as they arrive, and from history on load', async () => {
    await using server = await startTestServer({ dashboardDir: browser().webDir });
    const page = await browser().open(server.url, { width: 1280, height: 800 });
    await waitForText(page, '[data-testid="connection"]', 'live');
    const activity = page.getByTestId('activity');
    await expect(activity.getAttribute('data-events')).resolves.toBe('0');
    const agentColour: [number, number, number] = [0xd2, 0x99, 0x22];
    expect(await pixelsOf(page, agentColour)).toBe(0);

    // Live: 45 logs of three agents and one workflow start.
    const publisher = publisherFor(server.url);
    try {
      await publishAll(publisher, [
        ...Array.from({ length: 45 }, (_, i) => agentLog(`agent-${'abc'[i % 3] ?? ''}`, `line ${i}`)),
        workflowStarted('wf-chart'),
      ]);
    } finally {
      await publisher.close(5_000);
    }
    await vi.waitFor(
      async () => {
        expect(await activity.getAttribute('data-events')).toBe('46');
        // The agent family's line is on the canvas.
        expect(await pixelsOf(page, agentColour)).toBeGreaterThan(0);
      },
      { timeout: pageTimeout, interval: 100 },
    );
    await expect(activity.locator('[data-series="agent"]').textContent()).resolves.toBe('agent 45');
    await expect(activity.locator('[data-series="workflow"]').textContent()).resolves.toBe('workflow 1');

    // Every state the page commits on the way says which mode its legend shows: never "agent" over the families.
    await activity.evaluate((el) => {
      const mixed: string[] = [];
      (window as unknown as { mixedModes: string[] }).mixedModes = mixed;
      new MutationObserver(() => {
        const names = [...el.querySelectorAll('[data-series]')].map((li) => li.getAttribute('data-series') ?? '');
        if (el.getAttribute('data-mode') === 'agent' && names.some((n) => n === 'agent' || n === 'workflow'))
          mixed.push(names.join(' '));
      }).observe(el, { attributes: true, childList: true, subtree: true });
    });
    await page.getByRole('button', { name: 'by agent' }).click();
    await page.locator('[data-testid="activity"][data-mode="agent"]').waitFor({ timeout: pageTimeout });
    await expect(activity.locator('[data-series]').allTextContents()).resolves.toEqual([
      'agent-a 15',
      'agent-b 15',
      'agent-c 15',
    ]);
    expect(await page.evaluate(() => (window as unknown as { mixedModes: string[] }).mixedModes)).toEqual([]);

    // A page opened now counts the same from history.
    const later = await browser().open(server.url, { width: 1280, height: 800 });
    await vi.waitFor(
      async () => {
        expect(await later.getByTestId('activity').getAttribute('data-events')).toBe('46');
      },
      { timeout: pageTimeout, interval: 100 },
    );
  });

  it('lists Claude Code sessions, and reads one as a transcript: its prompt, each call with its result, failures', async () => {
    await using server = await startTestServer({ dashboardDir: browser().webDir });
    const page = await browser().open(`${server.url}/#/sessions`, { width: 1280, height: 800 });
    await waitForText(page, '[data-testid="connection"]', 'live');
    await page.getByText('No Claude Code session yet.').waitFor({ timeout: pageTimeout });

    // Another orchestrator's workflow is not a session.
    const publisher = publisherFor(server.url);
    try {
      await publishAll(publisher, [workflowStarted('wf-other')]);
    } finally {
      await publisher.close(5_000);
    }
    const hook = { session_id: 'sess-42', cwd: '/home/user/shop', permission_mode: 'default' };
    const bash = { command: 'npm test', description: 'Run the tests' };
    const read = { file_path: '/home/user/shop/src/cart.ts' };
    for (const payload of [
      { ...hook, hook_event_name: 'SessionStart', source: 'startup', model: 'claude-sonnet-4-6' },
      { ...hook, hook_event_name: 'UserPromptSubmit', prompt: 'Why does the cart total ignore discounts?' },
      { ...hook, hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: read, tool_use_id: 'toolu_r' },
      {
        ...hook,
        hook_event_name: 'PostToolUse',
        tool_name: 'Read',
        tool_input: read,
        tool_response: { content: 'export const total = (items) => sum(items)' },
        tool_use_id: 'toolu_r',
      },
      {
        ...hook,
        hook_event_name: 'Notification',
        message: 'Claude needs your permission to use Bash',
        notification_type: 'permission_prompt',
      },
      { ...hook, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: bash, tool_use_id: 'toolu_b' },
      {
        ...hook,
        hook_event_name: 'PostToolUseFailure',
        tool_name: 'Bash',
        tool_input: bash,
        tool_use_id: 'toolu_b',
        error: 'Command exited with non-zero status code 1',
      },
      { ...hook, hook_event_name: 'Stop', stop_hook_active: false },
    ]) {
      await postHook(server.url, payload);
    }
    // Claude Code's telemetry reports the Read call once more, whole, after its hooks: still one call, with the
    // hook's result and the duration the telemetry measured.
    const telemetry = claudeCodeLogs(
      'sess-42',
      [
        {
          name: 'tool_result',
          attributes: { tool_name: 'Read', tool_use_id: 'toolu_r', success: 'true', duration_ms: '840' },
        },
      ],
      new Date(),
    );
    expect((await postOtlp(server.url, 'logs', telemetry)).status).toBe(200);

    // The picker lists the session (live: it started after the page opened), idle once the turn is over.
    const entry = page.locator('a[data-session="sess-42"]');
    await waitForText(page, 'a[data-session="sess-42"] .chip', 'idle');
    await expect(page.locator('a[data-session]').count()).resolves.toBe(1);
    await entry.click();
    await page.waitForURL(/#\/sessions\/sess-42$/, { timeout: pageTimeout });

    const transcript = page.locator('section.transcript[data-session="sess-42"]');
    await waitForText(page, '[data-testid="transcript-counts"]', '1 prompt · 2 calls · 1 failed');
    const kinds = await transcript
      .locator('[data-entry]')
      .evaluateAll((els) =>
        els.map(
          (el) => `${el.getAttribute('data-entry') ?? ''} ${el.querySelector('.entry-label')?.textContent ?? ''}`,
        ),
      );
    expect(kinds).toEqual([
      'status idle',
      'session session',
      'prompt prompt',
      'call Read',
      'status blocked',
      'call Bash',
      'status idle',
    ]);
    const prompt = transcript.locator('[data-entry="prompt"]');
    await expect(prompt.innerText()).resolves.toContain('Why does the cart total ignore discounts?');
    const calls = transcript.locator('[data-entry="call"]');
    // The telemetry's report is live too: wait for it before reading the call.
    await waitForText(page, 'section.transcript[data-session="sess-42"] [data-entry="call"]', /done in 840 ms/);
    await expect(calls.nth(0).innerText()).resolves.toMatch(
      /Read done: \/home\/user\/shop\/src\/cart\.ts[\s\S]*done in 840 ms[\s\S]*input\s+\{"file_path":"\/home\/user\/shop\/src\/cart\.ts"\}[\s\S]*result\s+\{"content":"export const total = \(items\) => sum\(items\)"\}/,
    );
    await expect(calls.nth(1).innerText()).resolves.toMatch(
      /Bash failed: npm test[\s\S]*failed in [\d.]+ m?s[\s\S]*error\s+Command exited with non-zero status code 1/,
    );
    await expect(transcript.locator('[data-entry="status"]').nth(1).innerText()).resolves.toContain(
      'Claude needs your permission to use Bash',
    );

    // The failed call's detail in the drawer.
    await calls.nth(1).locator('.entry-head').click();
    const drawer = page.getByTestId('drawer');
    await waitForText(page, '#drawer-title', 'Bash call');
    await expect(drawer.locator('[data-section="Error"] pre').innerText()).resolves.toBe(
      'Command exited with non-zero status code 1',
    );
    await expect(drawer.locator('[data-section="Input"] pre').innerText()).resolves.toContain('"command": "npm test"');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'transcript-1280.png') });

    // On a phone and a wide screen: nothing reaches past the window, and the drawer stays inside it.
    for (const viewport of [
      { width: 420, height: 900 },
      { width: 1600, height: 1000 },
    ]) {
      await page.setViewportSize(viewport);
      await vi.waitFor(
        async () => {
          const { scrollWidth, clientWidth } = await page.evaluate(() => ({
            scrollWidth: document.documentElement.scrollWidth,
            clientWidth: document.documentElement.clientWidth,
          }));
          expect(scrollWidth, `page width at ${viewport.width} px`).toBeLessThanOrEqual(clientWidth);
          const box = await drawer.boundingBox();
          expect(box && box.x >= 0 && box.x + box.width <= viewport.width).toBe(true);
        },
        { timeout: pageTimeout, interval: 50 },
      );
      await page.screenshot({ path: join(artifacts, `transcript-${viewport.width}.png`) });
    }

    // Failures only: the failed call alone.
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached', timeout: pageTimeout });
    await transcript.getByLabel('failures only').check();
    await expect(transcript.locator('[data-entry]').allInnerTexts()).resolves.toEqual([
      expect.stringContaining('Bash failed: npm test'),
    ]);
  });
});

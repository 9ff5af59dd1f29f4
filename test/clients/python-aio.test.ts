/**
 * The Python client's asyncio forms (`switchboard.aio`: an async-iterator subscription, `history` and a
 * Publisher, without threads), through their unittest module against real servers that it starts and SIGKILLs
 * itself: clients/python/tests/test_aio.py, run as a user runs it. The rest of that suite runs from
 * test/clients/python.test.ts, in a worker of its own.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function unittest(): Promise<{ code: number | string | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      'python3',
      ['-m', 'unittest', '-v', 'test_aio'],
      // The tests start servers with this Node, the one running the suite.
      {
        cwd: 'clients/python/tests',
        env: { ...process.env, SWITCHBOARD_NODE: process.execPath },
        // A loaded two-core machine has taken up to 110 s for the module, with another suite running beside it.
        timeout: 180_000,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        resolve({ code: error ? (error.code ?? error.signal ?? 'failed') : 0, output: stdout + stderr });
      },
    );
  });
}

describe('the Python client for asyncio', () => {
  it('passes its unittest module against real servers', { timeout: 190_000 }, async (ctx) => {
    const python = await new Promise<boolean>((resolve) => {
      execFile('python3', ['--version'], (error) => {
        resolve(error === null);
      });
    });
    if (!python) {
      console.warn('SKIPPED: python3 is not installed, so the asyncio Python client was not tested');
      ctx.skip();
      return;
    }
    const run = await unittest();
    expect(run.output).toMatch(/\nOK\n/);
    expect(run.code, run.output).toBe(0);
    expect(run.output).not.toMatch(/skipped|FAIL|ERROR/);
    for (const name of [
      'test_publisher_and_subscription_in_one_loop_in_order_exactly_once_and_typed',
      'test_a_subscription_resumes_across_a_kill_and_a_restart_and_the_publisher_waits_for_the_hub',
      'test_history_pages_like_the_blocking_one_and_both_raise_the_same_errors',
      'test_refusals_raise_and_aclose_ends_a_read_that_waits',
      'test_events_of_a_type_without_a_class_go_to_on_unknown',
    ]) {
      expect(run.output).toMatch(new RegExp(`${name} \\(.*\\) \\.\\.\\. ok`));
    }
  });
});

/**
 * The Python client's own tests (clients/python/tests, `unittest`, standard library only), run as a user runs
 * them: `python3 -m unittest discover`, but for test_aio.py (test/clients/python-aio.test.ts). They start and
 * SIGKILL real servers themselves.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

interface Run {
  code: number | string | null;
  output: string;
}

function unittest(): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'python3',
      // test_aio.py runs from test/clients/python-aio.test.ts, in a worker of its own ([!a]: every other test_*.py).
      ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-p', 'test_[!a]*.py', '-v'],
      // The tests start servers with this Node, the one running the suite.
      // A loaded two-core machine has taken up to 115 s for the suite, with another one running beside it.
      { env: { ...process.env, SWITCHBOARD_NODE: process.execPath }, timeout: 180_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        resolve({ code: error ? (error.code ?? error.signal ?? 'failed') : 0, output: stdout + stderr });
      },
    );
  });
}

describe('the Python client', () => {
  it('passes its unittest suite against real servers', { timeout: 190_000 }, async (ctx) => {
    const python = await new Promise<boolean>((resolve) => {
      execFile('python3', ['--version'], (error) => {
        resolve(error === null);
      });
    });
    if (!python) {
      console.warn('SKIPPED: python3 is not installed, so the Python client was not tested');
      ctx.skip();
      return;
    }
    const run = await unittest();
    expect(run.output).toMatch(/\nOK\n/);
    expect(run.code, run.output).toBe(0);
    const ran = /Ran (\d+) tests? in/.exec(run.output);
    expect(Number(ran?.[1])).toBeGreaterThanOrEqual(18);
    expect(run.output).not.toMatch(/skipped|FAIL|ERROR/);
    for (const name of [
      'test_publisher_stores_each_event_once_in_order_and_subscriber_resumes_without_gap',
      'test_buffers_while_the_hub_is_away_and_drops_the_newest_when_full',
      'test_invalid_events_are_dropped_counted_and_reported_not_retried',
      'test_a_lost_answer_is_retried_under_the_same_key_and_stored_once',
      'test_filters_apply_and_items_are_typed_with_dates',
      'test_a_saved_cursor_gets_a_reset_from_a_replaced_database_and_a_bare_id_resumes_as_before',
      'test_marks_agents_without_an_event_and_says_which_are_live',
    ]) {
      expect(run.output).toMatch(new RegExp(`${name} \\(.*\\) \\.\\.\\. ok`));
    }
  });
});

/**
 * Enforces the retention policy in the background: every interval, delete the oldest events past the age or
 * row limit in small chunks, one short transaction each, yielding to the event loop between chunks so that
 * appends and reads are never held up for long.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from './log.js';
import type { EventStore } from '../core/store.js';

/** Events deleted per transaction. */
const chunk = 1_000;

export interface Retention {
  /** Runs one full pass now (tests and shutdown use it); resolves with how many events it deleted. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

export function startRetention(options: {
  store: EventStore;
  maxAgeMs: number;
  maxRows: number;
  intervalMs: number;
  log: Logger;
}): Retention {
  const { store, maxAgeMs, maxRows, log } = options;
  const enabled = maxAgeMs > 0 || maxRows > 0;
  let stopped = false;
  let running: Promise<number> = Promise.resolve(0);

  const pass = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      if (stopped) break;
      const result = await store.prune({ maxAgeMs, maxRows, limit: chunk, now: Date.now() });
      total += result.deleted;
      if (!result.more) break;
      await nextTurn();
    }
    if (total > 0) log.info({ deleted: total }, 'retention deleted old events');
    return total;
  };
  const runOnce = () => {
    running = running.then(pass, pass);
    return running;
  };

  const timer = enabled
    ? setInterval(() => {
        runOnce().catch((error: unknown) => {
          log.error({ err: error }, 'retention failed');
        });
      }, options.intervalMs)
    : undefined;
  // Retention never keeps the process alive by itself.
  timer?.unref();

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running.catch(() => 0);
    },
  };
}

/**
 * The sequencer's rules where a transport fails on purpose: a transport double that loses whatever it is told
 * while "down" (a fault injected on purpose), over a real SQLite store. Gaps over events retention deleted,
 * serving through the head check while the transport is down, and a failed gap fill retried by the next head
 * check (store reads failing on purpose, head checks driven by a fake clock).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BusMessage, BusTransport, TransportState } from '../../server/core/bus.js';
import { Sequencer, type Every } from '../../server/core/sequencer.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createLogger } from '../../server/ops/log.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import type { EventStore } from '../../server/core/store.js';
import { publishInputSchema } from '@switchboard/shared';
import { agentLog } from '../fixtures.js';

/** Loops messages back to this node while up; loses them while down. */
function faultyTransport() {
  let deliver: ((message: BusMessage) => void) | undefined;
  let report: ((state: TransportState) => void) | undefined;
  let up = true;
  const transport: BusTransport & { set: (state: TransportState) => void } = {
    name: 'faulty',
    publish(events) {
      if (up) deliver?.({ events });
    },
    start(onMessage, onState) {
      deliver = onMessage;
      report = onState;
      onState('up');
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
    set(state) {
      up = state === 'up';
      report?.(state);
    },
  };
  return transport;
}

/** A store whose next `failures` reads of events fail, as a networked store's do while it is unreachable. */
function failingReads(store: EventStore, failures: number): EventStore {
  let left = failures;
  const readAfter: EventStore['readAfter'] = (after, filter, limit) => {
    if (left > 0) {
      left--;
      return Promise.reject(new Error('injected read fault'));
    }
    return store.readAfter(after, filter, limit);
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'readAfter') return readAfter;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A fake clock for the head check: `tick()` runs it once, as the interval would, and lets its reads finish. */
function fakeClock() {
  const ticks = new Set<() => void>();
  const every: Every = (_ms, tick) => {
    ticks.add(tick);
    return () => ticks.delete(tick);
  };
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    every,
    async tick() {
      for (const tick of ticks) tick();
      await settle();
    },
  };
}

const logs = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => publishInputSchema.parse(agentLog('a-1', `${tag} ${i}`)));

describe('sequencer', () => {
  let store: EventStore | undefined;
  let sequencer: Sequencer | undefined;
  afterEach(async () => {
    await sequencer?.close();
    await store?.close();
  });

  async function start(headCheckMs: number, options: { readFailures?: number; every?: Every } = {}) {
    store = createSqliteStore(openDatabase(':memory:'));
    const transport = faultyTransport();
    const log = createLogger({ logLevel: 'silent', logFormat: 'json' });
    const reads = failingReads(store, options.readFailures ?? 0);
    sequencer = new Sequencer({ store: reads, transport, log, headCheckMs, every: options.every });
    await sequencer.start();
    const ids: number[] = [];
    sequencer.subscribe((events) => {
      for (const event of events) ids.push(Number(event.id));
    });
    return { store, sequencer, transport, ids };
  }

  it('skips ids retention deleted while filling a gap', async () => {
    // No head check during the test: the gap is found from the message alone.
    const { store, sequencer, ids } = await start(600_000);
    await store.append(logs(10, 'unannounced'));
    await store.prune({ maxAgeMs: 0, maxRows: 2, limit: 100, now: Date.now() });
    const { stored } = await store.append(logs(1, 'announced'));
    sequencer.publish(stored);
    await vi.waitFor(
      () => {
        expect(ids).toEqual([9, 10, 11]);
      },
      { timeout: 5_000, interval: 5 },
    );
    expect(sequencer.stats.gapFilled).toBe(2);
  });

  it('serves through the head check while the transport is down, and says so', async () => {
    const { store, sequencer, transport, ids } = await start(20);
    expect(sequencer.stats.transport).toBe('up');
    transport.set('down');
    expect(sequencer.stats.transport).toBe('down');
    // Another node's commit, whose message the transport lost: only the head check can find it.
    await store.append(logs(3, 'while down'));
    await vi.waitFor(
      () => {
        expect(ids).toEqual([1, 2, 3]);
      },
      { timeout: 5_000, interval: 5 },
    );
    transport.set('up');
    expect(sequencer.stats).toMatchObject({ transport: 'up', lag: 0 });
  });

  it('retries a failed gap fill on the next head check, also while traffic is quiet', async () => {
    const clock = fakeClock();
    const { store, sequencer, transport, ids } = await start(1_000, { readFailures: 1, every: clock.every });
    transport.set('down');
    // Another node's commits, whose messages were lost: the head check finds them, and the read for them fails.
    await store.append(logs(3, 'lost'));
    await clock.tick();
    expect(ids).toEqual([]);
    expect(sequencer.stats.lag).toBe(3);
    // No traffic follows: healthy head checks alone must deliver them.
    for (let i = 0; i < 5 && ids.length < 3; i++) await clock.tick();
    expect(ids).toEqual([1, 2, 3]);
    expect(sequencer.stats).toMatchObject({ lag: 0, gapFilled: 3 });
  });

  it('believes a bus message only as far as the store goes: a forged id past the head skips nothing', async () => {
    const clock = fakeClock();
    const { store, sequencer, transport, ids } = await start(1_000, { every: clock.every });
    const [real] = (await store.append(logs(1, 'real'))).stored;
    if (!real) throw new Error('nothing stored');
    // Anyone who can publish on the bus channel can say that event 1000 exists.
    transport.publish([{ ...real, id: '1000' }]);
    for (let i = 0; i < 3; i++) await clock.tick();
    const { stored } = await store.append(logs(2, 'after'));
    sequencer.publish(stored);
    for (let i = 0; i < 3 && ids.length < 3; i++) await clock.tick();
    expect(ids).toEqual([1, 2, 3]);
    expect(sequencer.stats.lag).toBe(0);
  });

  it('gives a filled gap to every listener once when one of them throws', async () => {
    const clock = fakeClock();
    const { store, sequencer, ids } = await start(1_000, { every: clock.every });
    sequencer.subscribe(() => {
      throw new Error('listener fault');
    });
    const { stored } = await store.append(logs(3, 'gap'));
    // Only the last is announced: 1 and 2 come from a fill, whose listeners run inside the read's try.
    sequencer.publish(stored.slice(2));
    for (let i = 0; i < 3; i++) await clock.tick();
    expect(ids).toEqual([1, 2, 3]);
  });
});

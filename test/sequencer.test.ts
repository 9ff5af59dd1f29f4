/**
 * The sequencer's rules where a transport fails on purpose: a transport double that loses whatever it is told
 * while "down" (a fault injected on purpose), over a real SQLite store. Gaps over events retention deleted, and
 * serving through the head check while the transport is down.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BusMessage, BusTransport, TransportState } from '../server/bus/types.js';
import { Sequencer } from '../server/core/sequencer.js';
import { openDatabase } from '../server/store/sqlite-db.js';
import { createLogger } from '../server/ops/log.js';
import { createSqliteStore } from '../server/store/sqlite.js';
import type { EventStore } from '../server/store/types.js';
import { publishInputSchema } from '@switchboard/shared';
import { agentLog } from './fixtures.js';

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

const logs = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => publishInputSchema.parse(agentLog('a-1', `${tag} ${i}`)));

describe('sequencer', () => {
  let store: EventStore | undefined;
  let sequencer: Sequencer | undefined;
  afterEach(async () => {
    await sequencer?.close();
    await store?.close();
  });

  async function start(headCheckMs: number) {
    store = createSqliteStore(openDatabase(':memory:'));
    const transport = faultyTransport();
    const log = createLogger({ logLevel: 'silent', logFormat: 'json' });
    sequencer = new Sequencer({ store, transport, log, headCheckMs });
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
});

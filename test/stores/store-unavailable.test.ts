/**
 * PostgreSQL lost while running: a publish fails with a clear, retryable SERVICE_UNAVAILABLE carrying reason
 * `store_unavailable`, and stores nothing. The database here is a loopback port nothing listens on, so this runs
 * without PostgreSQL too. A subscription catching up from the store when it goes away stays open and catches up
 * once it is back (the outage is a fault injected into a real SQLite store's reads).
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import * as schema from '../../drizzle/pg-schema.js';
import { createAuthenticator } from '../../server/security/auth.js';
import { createMemoryBus } from '../../server/bus/memory.js';
import { loadConfig } from '../../server/ops/config.js';
import { createHub } from '../../server/core/hub.js';
import { ConnectionLimits, PublishRates } from '../../server/security/limits.js';
import { createLogger } from '../../server/ops/log.js';
import { createMetrics } from '../../server/ops/metrics.js';
import { appRouter } from '../../server/routers/_app.js';
import { createPostgresStore } from '../../server/store/postgres.js';
import { StoreUnavailableError } from '../../server/core/unavailable.js';
import { errorReasons } from '@switchboard/shared';
import type { EventStore } from '../../server/core/store.js';
import { agentStatus } from '../fixtures.js';
import { openDatabase } from '../../server/store/sqlite-db.js';
import { createSqliteStore } from '../../server/store/sqlite.js';
import { drain } from '../harness.js';

describe('store unavailable', () => {
  it('fails a publish with SERVICE_UNAVAILABLE, reason store_unavailable, saying to retry', async () => {
    const pool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      connectionTimeoutMillis: 2_000,
    });
    const health: boolean[] = [];
    const store = createPostgresStore(
      Object.assign(drizzle(pool, { schema }), { $client: pool, epoch: 'unreachable' }),
      {
        onHealth: (ok) => health.push(ok),
      },
    );
    const hub = createHub({ store, bus: createMemoryBus() });
    const metrics = createMetrics({ connections: () => 0, databaseBytes: () => Promise.resolve(0) });
    const config = loadConfig([], {});
    const caller = appRouter.createCaller({
      hub,
      principal: createAuthenticator([]).authenticate(undefined),
      limits: new ConnectionLimits(config, metrics, null, new PublishRates(config).bucketOf('test')),
      metrics,
      log: createLogger({ logLevel: 'silent', logFormat: 'json' }),
    });
    try {
      const failure = caller.publish(agentStatus('a-1', 'busy', { key: 'k-1' }));
      await expect(failure).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(failure).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        message: expect.stringContaining('retry with the same idempotency keys') as unknown,
        cause: { reason: errorReasons.storeUnavailable },
      });
      await expect(store.headId()).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(health).toContain(false);
    } finally {
      await store.close();
    }
  });
});

describe('a subscription catching up while the store is away', () => {
  it('stays open, and delivers every event once in order when the store is back', async () => {
    const real = createSqliteStore(openDatabase(':memory:'));
    try {
      const events = Array.from({ length: 2_500 }, (_, i) => agentStatus(`agent-${i % 7}`));
      await createHub({ store: real, bus: createMemoryBus() }).append(events);
      // The store's reads fail twice in the middle of the catch-up (after the first page), as a lost database would.
      let reads = 0;
      const store: EventStore = Object.create(real) as EventStore;
      store.readAfter = (after, filter, limit) => {
        reads++;
        if (reads === 2 || reads === 3)
          return Promise.reject(new StoreUnavailableError('read', new Error('Connection terminated')));
        return real.readAfter(after, filter, limit);
      };
      const hub = createHub({ store, bus: createMemoryBus() });
      const controller = new AbortController();
      const stream = drain(hub.stream({ filter: {}, lastEventId: '0' }, controller.signal));
      await stream.atLeast(events.length);
      controller.abort();
      expect(reads).toBeGreaterThanOrEqual(4);
      expect(stream.items.map((item) => item.id)).toEqual(events.map((_, i) => String(i + 1)));
      expect(stream.errors).toEqual([]);
    } finally {
      await real.close();
    }
  });
});

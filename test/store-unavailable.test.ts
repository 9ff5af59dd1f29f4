/**
 * PostgreSQL lost while running: a publish fails with a clear, retryable SERVICE_UNAVAILABLE carrying reason
 * `store_unavailable`, and stores nothing. The database here is a loopback port nothing listens on, so this runs
 * without PostgreSQL too.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import * as schema from '../drizzle/pg-schema.js';
import { createAuthenticator } from '../server/security/auth.js';
import { createMemoryBus } from '../server/bus/memory.js';
import { loadConfig } from '../server/ops/config.js';
import { createHub } from '../server/core/hub.js';
import { ConnectionLimits } from '../server/ops/limits.js';
import { createLogger } from '../server/ops/log.js';
import { createMetrics } from '../server/ops/metrics.js';
import { appRouter } from '../server/routers/_app.js';
import { createPostgresStore } from '../server/store/postgres.js';
import { StoreUnavailableError } from '../server/store/unavailable.js';
import { errorReasons } from '@switchboard/shared';
import { agentStatus } from './fixtures.js';

describe('store unavailable', () => {
  it('fails a publish with SERVICE_UNAVAILABLE, reason store_unavailable, saying to retry', async () => {
    const pool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      connectionTimeoutMillis: 2_000,
    });
    const health: boolean[] = [];
    const store = createPostgresStore(Object.assign(drizzle(pool, { schema }), { $client: pool }), {
      onHealth: (ok) => health.push(ok),
    });
    const hub = createHub({ store, bus: createMemoryBus() });
    const metrics = createMetrics({ connections: () => 0, databaseBytes: () => Promise.resolve(0) });
    const caller = appRouter.createCaller({
      hub,
      principal: createAuthenticator([]).authenticate(undefined),
      limits: new ConnectionLimits(loadConfig([], {}), metrics, null),
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

/**
 * The external engines the cluster tests need: PostgreSQL and Redis on loopback. With `CI=true` they are
 * required (a suite that needs one fails when it is unreachable); elsewhere such a suite is skipped with a
 * banner saying why. Each test gets its own PostgreSQL schema and Redis channel prefix, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';
import { openPostgres, quoteIdent, type PgDb } from '../server/store/postgres-open.js';

import { pgUrl, reachable, redisUrl } from './engine-addresses.js';

export { pgUrl, redisUrl };

export const available = { postgres: await reachable(5432), redis: await reachable(6379) };

type Engine = keyof typeof available;
const names: Record<Engine, string> = { postgres: 'PostgreSQL on 127.0.0.1:5432', redis: 'Redis on 127.0.0.1:6379' };

/**
 * For a suite whose cases skip themselves without `engine`: under CI, one failing test says it is missing;
 * elsewhere a banner says what was skipped. Does nothing when the engine is reachable.
 */
export function requireEngine(engine: Engine, what: string): void {
  if (available[engine]) return;
  if (process.env.CI === 'true') {
    it(`needs ${names[engine]}`, () => {
      throw new Error(`${names[engine]} unreachable, and CI=true requires it`);
    });
  } else {
    console.warn(`\n  ⚠ SKIPPED ${what}: ${names[engine]} unreachable (under CI=true this fails)\n`);
  }
}

/** `describe` when every engine listed is reachable; otherwise skipped, and under CI a failing test instead. */
export function describeWith(engines: readonly Engine[], title: string, body: () => void): void {
  for (const engine of engines) requireEngine(engine, `"${title}"`);
  if (engines.every((e) => available[e])) describe(title, body);
  else describe.skip(title, body);
}

/** A name no other test uses: a PostgreSQL schema or a Redis channel prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** A fresh schema with the real migrations applied; dropped, with everything in it, on dispose. */
export function pgSchema(): { schema: string; open: () => Promise<PgDb> } & AsyncDisposable {
  const schema = uniqueName('sb_test');
  return {
    schema,
    open: () => openPostgres({ url: pgUrl, schema, poolSize: 4 }),
    async [Symbol.asyncDispose]() {
      await pgQuery(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    },
  };
}

/** One statement on a connection of its own (set-up, fault injection, clean-up). */
export async function pgQuery(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}

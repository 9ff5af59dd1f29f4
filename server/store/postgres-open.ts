/**
 * Connects to PostgreSQL and brings the schema up to date with the committed drizzle-kit migrations. Several
 * nodes may start at once: the migrations and the store's first rows are written under an advisory lock, so
 * exactly one node applies them and the others find them done.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import * as schema from '../../drizzle/pg-schema.js';
import { DatabaseOpenError } from './sqlite-db.js';
import { redactUrl } from '../ops/redact.js';
import { newEpoch } from './epoch.js';

/** The database, and its log's epoch, read once when it was opened (it never changes). */
export type PgDb = NodePgDatabase<typeof schema> & { $client: pg.Pool; epoch: string };

export interface PostgresOptions {
  /** `postgres://user@host:port/database` */
  url: string;
  /** The schema the tables live in (created if missing); `public` by default. Tests give each its own. */
  schema?: string | undefined;
  /** Connections this node holds at most. */
  poolSize?: number | undefined;
  /** `application_name` of every connection (pg_stat_activity), for operators to tell nodes apart. */
  applicationName?: string | undefined;
  /**
   * How long a link may stay silent. A query without a reply by then fails (as a lost connection, and the
   * connection is dropped), and the server rolls back a transaction of ours left idle half as long. Without
   * either, a black-holed link (sockets open, nothing arriving: a partition, not a crash) hangs the query for
   * as long as TCP takes to notice (hours), and a transaction cut after taking the head row lock holds every
   * node's appends for as long.
   */
  timeoutMs?: number | undefined;
}

/**
 * From server/store/ in the sources, and from dist/ (one folder below the package root) once bundled: the first
 * that exists is the package's.
 */
const migrationsFolder = [
  new URL('../../drizzle/pg-migrations', import.meta.url),
  new URL('../drizzle/pg-migrations', import.meta.url),
]
  .map((url) => fileURLToPath(url))
  .find((path) => existsSync(path));

/** The id every node's migration lock uses, per schema (`hashtext` of this plus the schema name). */
const lockName = 'switchboard.migrate.';

/**
 * The advisory lock a node holds while it migrates `schema` and reads its epoch, and `switchboard new-epoch`
 * while it replaces it: a node never reads an epoch half-way through its replacement.
 */
export const schemaLockKey = (schema: string) => lockName + schema;

export async function openPostgres({
  url,
  schema: schemaName,
  poolSize = 10,
  applicationName = 'switchboard',
  timeoutMs = 10_000,
}: PostgresOptions): Promise<PgDb> {
  if (migrationsFolder === undefined)
    throw new DatabaseOpenError('PostgreSQL migrations not found (drizzle/pg-migrations)');
  const searchPath = schemaName ?? 'public';
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    application_name: applicationName,
    // One connection stays open while idle (the rest close after 10 s), with TCP keepalive so that a link a
    // firewall dropped is found: a running node always shows in pg_stat_activity under its name, which is how
    // `switchboard new-epoch` knows the cluster is not stopped.
    min: 1,
    keepAlive: true,
    query_timeout: timeoutMs,
    // Statements sent together travel together: the store sends a commit's writes and its COMMIT without
    // waiting for each answer (one round trip instead of one per statement). Each statement still gets its own
    // answer or error, in order; one that fails inside a transaction aborts the rest of it.
    pipeline: true,
    // Every connection of this pool works in the one schema, so queries name tables without a schema. The
    // server ends a transaction idle for half the timeout, so one whose client was cut off releases its locks
    // (the head row above all) before another node's statement waiting on them times out itself.
    options: `-c search_path=${quoteIdent(searchPath)} -c idle_in_transaction_session_timeout=${Math.ceil(timeoutMs / 2)}`,
  });
  // An idle connection that dies (a restarted server, pg_terminate_backend) is reported here; without a
  // listener it would crash the process. The pool drops it and the next query opens a fresh one.
  pool.on('error', () => undefined);
  // The same for a connection that dies while checked out between two queries: its next query fails (and
  // the store reports that); the event itself would otherwise be an uncaught error that ends the process.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = drizzle(pool, { schema });
  let client: pg.PoolClient;
  let epoch: string | undefined;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end();
    throw new DatabaseOpenError(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${messageOf(error)}`);
  }
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [schemaLockKey(searchPath)]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(searchPath)}`);
      await migrate(drizzle(client), { migrationsFolder, migrationsSchema: searchPath });
      await client.query("INSERT INTO store_meta (key, value) VALUES ('head', 0) ON CONFLICT (key) DO NOTHING");
      // The first node to open this schema gives its log an epoch; the rest, and every restart, read that one.
      await client.query('INSERT INTO log_epoch (id, epoch) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [newEpoch()]);
      const row = await client.query<{ epoch: string }>('SELECT epoch FROM log_epoch WHERE id = 1');
      epoch = row.rows[0]?.epoch;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [schemaLockKey(searchPath)]);
    }
    if (epoch === undefined) throw new Error('the log_epoch row is missing after migration');
    client.release();
  } catch (error) {
    client.release(true);
    await pool.end();
    throw new DatabaseOpenError(`cannot use PostgreSQL at ${redactUrl(url)}: ${messageOf(error)}`);
  }
  return Object.assign(db, { $client: pool, epoch });
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return messageOf(error.errors[0]);
  return error instanceof Error ? error.message || error.name : String(error);
}

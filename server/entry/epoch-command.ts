/**
 * `switchboard new-epoch`: gives a log a new epoch (shared/cursor.ts), for a database restored from a backup. The
 * restored log numbers its next events from the backup's head again, so a cursor saved after the backup was
 * taken would resume in it once the log grew past it, in the middle of other events. With a new epoch, every
 * cursor that names the old one gets a `stream.reset` (reason `epoch`) and starts over from this log's first
 * event, as for a replaced database. Run with every server on the database stopped: each reads the epoch once,
 * when it opens the database.
 */
import { existsSync } from 'node:fs';
import pg from 'pg';
import type { ServerCommand } from '../../client/cli/run.js';
import { ConfigError, isPostgresUrl, loadConfig } from '../ops/config.js';
import { redactUrl } from '../ops/redact.js';
import { newEpoch } from '../store/epoch.js';
import { openPostgres } from '../store/postgres-open.js';
import { DatabaseOpenError, openDatabase } from '../store/sqlite-db.js';

/** No log where the command was pointed: renewing nothing would create a database, which is not what was asked. */
class NoLogError extends Error {}

/** Whether PostgreSQL at `url` holds a log in `schema` (its epoch table), without creating anything. */
async function hasPostgresLog(url: string, schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new DatabaseOpenError(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}`);
  }
  try {
    const found = await client.query(
      "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'log_epoch'",
      [schema],
    );
    return found.rowCount === 1;
  } finally {
    await client.end();
  }
}

/** Replaces the epoch of the log at `db` (a SQLite file, or PostgreSQL with its schema); the old and the new. */
async function renew(db: string, pgSchema: string, where: string): Promise<{ from: string; to: string }> {
  const to = newEpoch();
  if (isPostgresUrl(db)) {
    if (!(await hasPostgresLog(db, pgSchema))) throw new NoLogError(`no Switchboard log at ${where}: nothing to renew`);
    const open = await openPostgres({ url: db, schema: pgSchema, poolSize: 1 });
    try {
      await open.$client.query('UPDATE log_epoch SET epoch = $1 WHERE id = 1', [to]);
      return { from: open.epoch, to };
    } finally {
      await open.$client.end();
    }
  }
  if (db === ':memory:' || !existsSync(db)) throw new NoLogError(`no database at ${where}: nothing to renew`);
  const sqlite = openDatabase(db).$client;
  try {
    const row = sqlite.prepare<[], { epoch: string }>('SELECT epoch FROM log_epoch WHERE id = 1').get();
    if (!row) throw new NoLogError(`${where} has no log epoch`);
    sqlite.prepare('UPDATE log_epoch SET epoch = ? WHERE id = 1').run(to);
    return { from: row.epoch, to };
  } finally {
    sqlite.close();
  }
}

export const newEpochCommand: ServerCommand = {
  run: async (args, io) => {
    try {
      const config = loadConfig(args, io.env);
      const where = isPostgresUrl(config.db) ? `${redactUrl(config.db)} (schema ${config.pgSchema})` : config.db;
      const { from, to } = await renew(config.db, config.pgSchema, where);
      io.say(
        `${where}: epoch ${from} → ${to}. A cursor that names ${from} now gets a stream.reset (reason epoch) and ` +
          'starts over from the first event kept. Start the servers on this database again: each reads the ' +
          'epoch once, when it opens it.',
      );
      return 0;
    } catch (error) {
      if (!(error instanceof ConfigError || error instanceof DatabaseOpenError || error instanceof NoLogError))
        throw error;
      io.complain(error.message);
      return error instanceof ConfigError && error.usage ? 2 : 1;
    }
  },
  help: `Usage: switchboard new-epoch [--db PATH_OR_URL] [--pg-schema NAME]

Gives the log a new epoch, after restoring its database from a backup. The restored log numbers new events
from the backup's newest id again, so a cursor saved after the backup would otherwise resume in it once it grew
past that id, in the middle of other events. With a new epoch, every cursor that names the old one is answered
with a stream.reset (reason epoch) and starts over from the first event kept, as for a replaced database.

Stop every server on the database first (each reads the epoch once, when it opens it), run this once, then
start them. --db and --pg-schema (and their variables) are those of serve; other serve flags are accepted.

Examples:
  switchboard new-epoch --db ./switchboard.db
  switchboard new-epoch --db postgres://switchboard@db:5432/switchboard --pg-schema switchboard`,
};

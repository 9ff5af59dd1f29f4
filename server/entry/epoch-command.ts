/**
 * `switchboard new-epoch`: gives a log a new epoch (shared/cursor.ts), for a database restored from a backup. The
 * restored log numbers its next events from the backup's head again, so a cursor saved after the backup was
 * taken would resume in it once the log grew past it, in the middle of other events. With a new epoch, every
 * cursor that names the old one gets a `stream.reset` (reason `epoch`) and starts over from this log's first
 * event, as for a replaced database. Run with every server on the database stopped: each reads the epoch once,
 * when it opens the database. It refuses while a server holds the SQLite file, or while nodes of the cluster are
 * connected to PostgreSQL, and where there is no log (it creates nothing).
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import type { ServerCommand } from '../../client/cli/run.js';
import { ConfigError, isPostgresUrl, loadSettings } from '../ops/config.js';
import { redactUrl } from '../ops/redact.js';
import { newEpoch } from '../store/epoch.js';
import { quoteIdent, schemaLockKey } from '../store/postgres-open.js';
import { DatabaseOpenError, lockDatabaseFile, openDatabase } from '../store/sqlite-db.js';
import { nodeName } from '../topology.js';

/** Not done, and why: no log where the command was pointed, or servers still on it. */
class RefusedError extends Error {}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Whether the SQLite file at `path` holds a log (its epoch table), read without creating or changing anything. */
function hasSqliteLog(path: string): boolean {
  let file: Database.Database;
  try {
    file = new Database(path, { readonly: true, fileMustExist: true });
  } catch {
    return false;
  }
  try {
    return file.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_epoch'").get() !== undefined;
  } catch {
    // Not a SQLite database at all.
    return false;
  } finally {
    file.close();
  }
}

/**
 * Replaces the epoch of the log in `schema` at PostgreSQL `url`, under the lock a node takes while it reads the
 * epoch, and only while no node of the cluster `channel` is connected (a node keeps its connections open while it
 * runs, under `nodeName(channel)`: server/topology.ts, postgres-open.ts). Creates nothing.
 */
async function renewPostgres(
  url: string,
  schema: string,
  channel: string,
  where: string,
  to: string,
): Promise<{ from: string; to: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, query_timeout: 10_000 });
  // A connection lost between queries fails the next one; the event itself must not end the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new DatabaseOpenError(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${messageOf(error)}`);
  }
  try {
    const found = await client.query(
      "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'log_epoch'",
      [schema],
    );
    if (found.rowCount !== 1) throw new RefusedError(`no Switchboard log at ${where}: nothing to renew`);
    // Not waited for: a node holding it is opening the schema right now.
    const locked = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
      schemaLockKey(schema),
    ]);
    if (locked.rows[0]?.locked !== true) {
      throw new RefusedError(`a node is opening ${where} right now: stop every node first`);
    }
    try {
      const nodes = await client.query<{ count: string }>(
        'SELECT count(*) AS count FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
        [nodeName(channel)],
      );
      const count = Number(nodes.rows[0]?.count ?? 0);
      if (count > 0) {
        throw new RefusedError(
          `${count} connection${count === 1 ? '' : 's'} of nodes of cluster ${channel} ${count === 1 ? 'is' : 'are'} ` +
            `open on ${redactUrl(url)}: stop every node first (each reads the epoch once, when it opens the ` +
            'database; a node still running would go on with the old one, and clients moving between nodes would ' +
            'be reset again and again); another cluster on this database is told apart by its --bus-channel',
        );
      }
      const table = `${quoteIdent(schema)}.log_epoch`;
      const row = await client.query<{ epoch: string }>(`SELECT epoch FROM ${table} WHERE id = 1`);
      const from = row.rows[0]?.epoch;
      if (from === undefined) throw new RefusedError(`${where} has no log epoch: nothing to renew`);
      await client.query(`UPDATE ${table} SET epoch = $1 WHERE id = 1`, [to]);
      return { from, to };
    } finally {
      // Ending the session below frees the lock anyway: a failure here must not hide what happened above.
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [schemaLockKey(schema)]).catch(() => undefined);
    }
  } catch (error) {
    if (error instanceof RefusedError) throw error;
    throw new DatabaseOpenError(`cannot renew the epoch at ${where}: ${messageOf(error)}`);
  } finally {
    await client.end();
  }
}

/** Replaces the epoch of the log at `db` (a SQLite file, or PostgreSQL with its schema); the old and the new. */
async function renew(
  settings: { db: string; pgSchema: string; busChannel: string },
  where: string,
): Promise<{ from: string; to: string }> {
  const { db, pgSchema, busChannel } = settings;
  const to = newEpoch();
  if (isPostgresUrl(db)) return renewPostgres(db, pgSchema, busChannel, where, to);
  if (db === ':memory:' || !hasSqliteLog(db)) {
    throw new RefusedError(
      `no Switchboard log at ${where} (no such file, or not a Switchboard database): nothing to renew`,
    );
  }
  // The lock a server holds on its file: refused at once while one runs on it.
  const lock = lockDatabaseFile(db);
  try {
    const sqlite = openDatabase(db).$client;
    try {
      const row = sqlite.prepare<[], { epoch: string }>('SELECT epoch FROM log_epoch WHERE id = 1').get();
      if (!row) throw new RefusedError(`${where} has no log epoch: nothing to renew`);
      sqlite.prepare('UPDATE log_epoch SET epoch = ? WHERE id = 1').run(to);
      return { from: row.epoch, to };
    } finally {
      sqlite.close();
    }
  } finally {
    lock.release();
  }
}

export const newEpochCommand: ServerCommand = {
  run: async (args, io) => {
    try {
      // Only what finds the database: the server's other settings (its host, tokens, secrets) are not needed here.
      const settings = loadSettings(args, io.env, ['db', 'pgSchema', 'busChannel']);
      const where = isPostgresUrl(settings.db)
        ? `${redactUrl(settings.db)} (schema ${settings.pgSchema})`
        : settings.db;
      const { from, to } = await renew(settings, where);
      io.say(
        `${where}: epoch ${from} → ${to}. A cursor that names ${from} now gets a stream.reset (reason epoch) and ` +
          'starts over from the first event kept. Start the servers on this database again: each reads the ' +
          'epoch once, when it opens it.',
      );
      return 0;
    } catch (error) {
      if (!(error instanceof ConfigError || error instanceof DatabaseOpenError || error instanceof RefusedError))
        throw error;
      io.complain(error.message);
      return error instanceof ConfigError && error.usage ? 2 : 1;
    }
  },
  help: `Usage: switchboard new-epoch [--db PATH_OR_URL] [--pg-schema NAME] [--bus-channel NAME]

Gives the log a new epoch, after restoring its database from a backup. The restored log numbers new events
from the backup's newest id again, so a cursor saved after the backup would otherwise resume in it once it grew
past that id, in the middle of other events. With a new epoch, every cursor that names the old one is answered
with a stream.reset (reason epoch) and starts over from the first event kept, as for a replaced database.

Stop every server on the database first (each reads the epoch once, when it opens it), run this once, then
start them. It refuses while a server holds the SQLite file, or while nodes of the cluster (named by
--bus-channel) are connected to PostgreSQL. --db, --pg-schema and --bus-channel (and their variables) are
those of serve.

Examples:
  switchboard new-epoch --db ./switchboard.db
  switchboard new-epoch --db postgres://switchboard@db:5432/switchboard --pg-schema switchboard`,
};

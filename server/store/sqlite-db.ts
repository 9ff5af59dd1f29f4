/**
 * Opens the SQLite database and brings its schema up to date with the committed drizzle-kit migrations.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from '../../drizzle/schema.js';
import { fromPackageRoot } from '../ops/package-root.js';
import { newEpoch } from './epoch.js';

/** Resolved from this module, not the working directory, so the server starts from any folder. */
const migrationsFolder = fromPackageRoot('drizzle', 'migrations');

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError';
}

/** What holds a database file for this process; `release` lets the next process have it. */
export interface DatabaseLock {
  release(): void;
}

/**
 * Holds `<path>.lock` for as long as this process serves the database at `path`, so a second server on the same
 * file refuses to start: it would store events the first never delivers live (the in-process bus reaches only
 * its own process). The lock is SQLite's own exclusive file lock, taken through better-sqlite3 on a side file:
 * the operating system releases it when the process ends in any way, SIGKILL included, so nothing stale (a PID
 * that may be reused) can block the next start. A side file, because the database itself must stay readable by
 * other connections (a backup, `sqlite3` for a look). The file stays behind when released: deleting it would let
 * a process that opened it just before hold a lock on a file the next one no longer sees.
 */
export function lockDatabaseFile(path: string): DatabaseLock {
  const lockPath = `${path}.lock`;
  let lock: Database.Database;
  try {
    mkdirSync(dirname(path), { recursive: true });
    // No busy timeout: a lock someone else holds is an answer now, not something to wait for.
    lock = new Database(lockPath, { timeout: 0 });
  } catch (error) {
    // Whatever stops the lock file being created (no such folder, no permission) stops the database too.
    throw new DatabaseOpenError(
      `cannot open database ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    lock.pragma('journal_mode = OFF');
    // In exclusive locking mode the lock a write takes is kept until the connection closes.
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (error) {
    lock.close();
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) {
      throw new DatabaseOpenError(
        `database ${path} is in use by another process (it holds ${lockPath}); a SQLite file serves one server process: run several nodes on PostgreSQL (see docs/deploy.md)`,
      );
    }
    throw new DatabaseOpenError(`cannot lock ${lockPath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return {
    release: () => {
      lock.close();
    },
  };
}

/**
 * Databases opened with durability `full` whose write-ahead log the store syncs itself, after each commit and
 * off the event loop (server/store/sqlite.ts): the file's path, keyed by its connection.
 */
const walsToSync = new WeakMap<Database.Database, string>();

/** The WAL file the store must fsync after each commit for `full` durability; undefined: SQLite's setting is it. */
export function walToSync(sqlite: Database.Database): string | undefined {
  return walsToSync.get(sqlite);
}

/**
 * Durability `full`: an acknowledged event survives power loss. SQLite's own `synchronous = FULL` fsyncs the WAL
 * inside every COMMIT, holding the event loop for the disk's flush (10–12 ms a commit here), during which no
 * frame is read or written. So the connection runs at `NORMAL` (a commit writes the WAL, checkpoints sync as
 * before) and the store fsyncs the WAL file on the thread pool after each commit, answering the appends only
 * once that is done: the same guarantee, with the loop free while the disk works. `normal`: a crash of the
 * process loses nothing; power loss may lose the last commits.
 */
export function openDatabase(path: string, durability: 'full' | 'normal' = 'full'): Db {
  let sqlite: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    sqlite = new Database(path);
  } catch (error) {
    throw new DatabaseOpenError(
      `cannot open database ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    // WAL: readers never block the writer, and a commit is one append to the log.
    sqlite.pragma('journal_mode = WAL');
    const inMemory = path === ':memory:' || path === '';
    sqlite.pragma(`synchronous = ${durability === 'full' && inMemory ? 'FULL' : 'NORMAL'}`);
    if (durability === 'full' && !inMemory) walsToSync.set(sqlite, `${resolve(path)}-wal`);
    sqlite.pragma('busy_timeout = 5000');
    const db = drizzle(sqlite, { schema });
    // A migration that rebuilds a table must not cascade or fail on foreign keys half-way; check them after.
    sqlite.pragma('foreign_keys = OFF');
    migrate(db, { migrationsFolder });
    // The log's epoch is written once, by the first open of this file; every later open finds it.
    sqlite
      .prepare('INSERT OR IGNORE INTO log_epoch (id, epoch, created_at) VALUES (1, ?, ?)')
      .run(newEpoch(), Date.now());
    sqlite.pragma('foreign_keys = ON');
    const violations = sqlite.pragma('foreign_key_check') as unknown[];
    if (violations.length > 0)
      throw new Error(`foreign key check failed after migration: ${JSON.stringify(violations)}`);
    return db;
  } catch (error) {
    sqlite.close();
    throw new DatabaseOpenError(
      `cannot use database ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

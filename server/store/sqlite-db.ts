/**
 * Opens the SQLite database and brings its schema up to date with the committed drizzle-kit migrations.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
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
    sqlite.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
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

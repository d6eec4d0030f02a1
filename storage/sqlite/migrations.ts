/**
 * SQLite schema migrations. The applied version is `PRAGMA user_version`, which lives in the database
 * header and is written in the same transaction as the migration's DDL, so a crash never leaves a
 * half-applied migration with a version that claims otherwise.
 */
import type { Database } from 'better-sqlite3';
import { latestVersion, nextMigration, type Migration } from '../migrate.js';

/** The tables whose rows expire and are removed by garbage collection. */
export const expiringTables = [
  'auth_requests',
  'auth_codes',
  'refresh_tokens',
  'device_requests',
  'device_tokens',
] as const;

/** Every SQLite migration, in order. Never edit a released one; append a new one. */
export const sqliteMigrations: readonly Migration<Database>[] = [
  {
    version: 1,
    description: 'one table per entity: its key columns and the entity as tagged JSON (storage/codec.ts)',
    up: (db) =>
      db.exec(`
        CREATE TABLE auth_requests (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL) STRICT;
        CREATE TABLE auth_codes (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL) STRICT;
        CREATE TABLE refresh_tokens (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL) STRICT;
        CREATE TABLE offline_sessions (
          user_id TEXT NOT NULL, connector_id TEXT NOT NULL, data TEXT NOT NULL,
          PRIMARY KEY (user_id, connector_id)
        ) STRICT;
        CREATE TABLE clients (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL) STRICT;
        -- email is lower-cased by the code (JavaScript's toLowerCase, not SQLite's ASCII-only lower()).
        CREATE TABLE passwords (email TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL) STRICT;
        CREATE TABLE connectors (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL) STRICT;
        CREATE TABLE device_requests (user_code TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL) STRICT;
        CREATE TABLE device_tokens (device_code TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL) STRICT;
        -- The key set is a single row; the CHECK makes a second one impossible. Named signing_keys, not keys
        -- as before version 4, so a Dex database (whose own keys table has another shape) can hold both; a
        -- database created before that change got keys here, and migration 4 renames it.
        CREATE TABLE signing_keys (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL) STRICT;
      `),
  },
  {
    version: 2,
    description:
      'expiry as an indexed column (epoch ms), backfilled from the JSON, so garbage collection does not scan every row',
    up: (db) => {
      for (const table of expiringTables) {
        db.exec(`
          ALTER TABLE ${table} ADD COLUMN expiry INTEGER;
          UPDATE ${table} SET expiry = json_extract(data, '$.expiry."$date"');
          CREATE INDEX ${table}_expiry ON ${table} (expiry);
        `);
      }
    },
  },
  {
    version: 3,
    description: 'browser login sessions (single sign-on), keyed by their public id, with an indexed expiry',
    up: (db) =>
      db.exec(`
        CREATE TABLE sessions (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL, expiry INTEGER) STRICT;
        CREATE INDEX sessions_expiry ON sessions (expiry);
      `),
  },
  {
    version: 4,
    description:
      "the signing-key table is signing_keys (Dex's keys table has another shape), and a record of the one-time import of a Dex database's rows",
    up: (db) => {
      const idportKeys = db
        .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('keys') WHERE name = 'data'")
        .get();
      if (idportKeys !== undefined) db.exec('ALTER TABLE keys RENAME TO signing_keys');
      db.exec(
        'CREATE TABLE dex_import (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), imported_at INTEGER NOT NULL) STRICT',
      );
    },
  },
  {
    version: 5,
    description:
      'failed password attempts per account and per client IP (bruteForce), and access tokens revoked by jti, each with an indexed expiry',
    up: (db) =>
      db.exec(`
        CREATE TABLE password_failures (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL, expiry INTEGER) STRICT;
        CREATE INDEX password_failures_expiry ON password_failures (expiry);
        CREATE TABLE revoked_tokens (id TEXT NOT NULL PRIMARY KEY, data TEXT NOT NULL, expiry INTEGER) STRICT;
        CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expiry);
      `),
  },
];

/** The schema version this code writes and reads. */
export const sqliteSchemaVersion = latestVersion(sqliteMigrations);

/** Reads `PRAGMA user_version`: 0 for a new database. */
export const schemaVersionOf = (db: Database): number => {
  const version: unknown = db.pragma('user_version', { simple: true });
  if (typeof version !== 'number') throw new Error('PRAGMA user_version did not return a number');
  return version;
};

/**
 * Brings `db` to version `upTo` (the latest by default), one migration per `BEGIN IMMEDIATE`
 * transaction. The version is re-read after taking the write lock, so a second process opening the
 * same file concurrently waits and then finds the work done. Throws SchemaTooNewError when the file
 * is newer than `migrations`. Exported with `upTo` and `migrations` so tests can build old databases.
 */
export function migrateSqlite(
  db: Database,
  upTo: number = sqliteSchemaVersion,
  migrations: readonly Migration<Database>[] = sqliteMigrations,
): void {
  const step = db.transaction((): boolean => {
    const current = schemaVersionOf(db);
    const migration = nextMigration(current, migrations, upTo);
    if (migration === undefined) return false;
    migration.up(db);
    db.pragma(`user_version = ${migration.version}`);
    return true;
  });
  while (step.immediate()) {
    // each iteration applied one migration in its own transaction
  }
}

/**
 * PostgreSQL schema migrations. Applied versions are rows of `idport_migrations` in the schema that
 * holds the tables. Each migration runs in its own transaction that first takes a transaction-scoped
 * advisory lock and then re-reads the version, so replicas starting at once wait for each other and
 * exactly one applies each migration; a crash mid-migration rolls back DDL and version row together.
 */
import { Client, type ClientConfig } from 'pg';
import { latestVersion, nextMigration, type Migration } from '../migrate.js';
import { contractError, DriverFailure, queryOn, type Query } from './database.js';

/** A PostgreSQL migration: `up` runs its statements through the migration transaction's connection. */
export type PostgresMigration = Migration<Query, Promise<void>>;

/**
 * Advisory-lock key for migrations: "idport" in ASCII. One key for the whole database, so two
 * idports migrating different schemas of one database take turns, which costs nothing at startup.
 */
export const MIGRATION_LOCK_KEY = '115797186146932'; // 0x6964706f7274

/** Every PostgreSQL migration, in order. Never edit a released one; append a new one. */
export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    description:
      'one table per entity: key columns, expiry (indexed, for garbage collection) and the entity as tagged JSON text',
    up: async (query) => {
      // `text`, not `jsonb`: jsonb refuses the \u0000 escape that JSON uses for NUL characters in strings.
      // Keys use the C collation: ids compare byte by byte, whatever the database's locale.
      const byKey = (table: string, key: string, expiring: boolean): string => `
        CREATE TABLE ${table} (${key} text COLLATE "C" NOT NULL PRIMARY KEY, ${expiring ? 'expiry timestamptz, ' : ''}data text NOT NULL);
        ${expiring ? `CREATE INDEX ${table}_expiry ON ${table} (expiry);` : ''}`;
      await query(`
        ${byKey('auth_requests', 'id', true)}
        ${byKey('auth_codes', 'id', true)}
        ${byKey('refresh_tokens', 'id', true)}
        CREATE TABLE offline_sessions (
          user_id text COLLATE "C" NOT NULL, connector_id text COLLATE "C" NOT NULL, data text NOT NULL,
          PRIMARY KEY (user_id, connector_id)
        );
        ${byKey('clients', 'id', false)}
        -- email is lower-cased by the code (JavaScript's toLowerCase, the same rule as SQLite storage).
        ${byKey('passwords', 'email', false)}
        ${byKey('connectors', 'id', false)}
        ${byKey('device_requests', 'user_code', true)}
        ${byKey('device_tokens', 'device_code', true)}
        -- The key set is a single row. data is NULL only inside the transaction that creates the row,
        -- so that two replicas creating the first key can both insert-or-skip and then lock it. Named
        -- signing_keys, not keys as before version 3, so a Dex schema (whose keys table has another shape)
        -- can hold both; a schema created before that change got keys here, and migration 3 renames it.
        CREATE TABLE signing_keys (id integer NOT NULL PRIMARY KEY CHECK (id = 1), data text);
      `);
    },
  },
  {
    version: 2,
    description: 'browser login sessions (single sign-on), keyed by their public id, with an indexed expiry',
    up: async (query) => {
      await query(`
        CREATE TABLE sessions (id text COLLATE "C" NOT NULL PRIMARY KEY, expiry timestamptz, data text NOT NULL);
        CREATE INDEX sessions_expiry ON sessions (expiry);
      `);
    },
  },
  {
    version: 3,
    description:
      "the signing-key table is signing_keys (Dex's keys table has another shape), and a record of the one-time import of a Dex database's rows",
    up: async (query) => {
      const { rowCount } = await query(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'keys' AND column_name = 'data'",
      );
      if (rowCount !== 0) await query('ALTER TABLE keys RENAME TO signing_keys');
      await query(
        'CREATE TABLE dex_import (id integer NOT NULL PRIMARY KEY CHECK (id = 1), imported_at timestamptz NOT NULL)',
      );
    },
  },
  {
    version: 4,
    description:
      'failed password attempts per account and per client IP (bruteForce), and access tokens revoked by jti, each with an indexed expiry',
    up: async (query) => {
      await query(`
        CREATE TABLE password_failures (id text COLLATE "C" NOT NULL PRIMARY KEY, expiry timestamptz, data text NOT NULL);
        CREATE INDEX password_failures_expiry ON password_failures (expiry);
        CREATE TABLE revoked_tokens (id text COLLATE "C" NOT NULL PRIMARY KEY, expiry timestamptz, data text NOT NULL);
        CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expiry);
      `);
    },
  },
];

/** The schema version this code writes and reads. */
export const postgresSchemaVersion = latestVersion(postgresMigrations);

const hasVersionTable = async (query: Query): Promise<boolean> => {
  const { rows } = await query<{ exists: boolean }>("SELECT to_regclass('idport_migrations') IS NOT NULL AS exists");
  return rows[0]?.exists === true;
};

/** The applied version in the current schema: 0 when `idport_migrations` does not exist yet. */
export async function schemaVersionOf(query: Query): Promise<number> {
  if (!(await hasVersionTable(query))) return 0;
  const { rows: versions } = await query<{ version: number | null }>(
    'SELECT max(version) AS version FROM idport_migrations',
  );
  return versions[0]?.version ?? 0;
}

/** What `migratePostgres` should do; the defaults are what `openPostgres` uses. */
export interface MigrateOptions {
  /** Schema to create if missing (it is also the connection's search_path). */
  readonly schema?: string | undefined;
  /** Version to stop at; tests use it to build old schemas. */
  readonly upTo?: number;
  readonly migrations?: readonly PostgresMigration[];
}

/**
 * Brings the schema to `upTo` (the latest by default) over one dedicated connection, one migration per
 * transaction under the advisory lock. Resolves with the versions this call applied (empty when another
 * replica had done the work). Throws SchemaTooNewError when the schema is newer than `migrations`,
 * without changing it, and StorageUnavailableError when the database fails.
 */
export async function migratePostgres(config: ClientConfig, options: MigrateOptions = {}): Promise<number[]> {
  const migrations = options.migrations ?? postgresMigrations;
  const upTo = options.upTo ?? latestVersion(migrations);
  const client = new Client(config);
  // A connection dropped between statements must fail the migration, not crash the process.
  client.on('error', () => undefined);
  const applied: number[] = [];
  try {
    try {
      await client.connect();
    } catch (err: unknown) {
      throw new DriverFailure(err);
    }
    const query = queryOn(client);
    for (;;) {
      await query('BEGIN ISOLATION LEVEL READ COMMITTED');
      try {
        await query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
        const version = await step(query, options.schema, migrations, upTo);
        await query('COMMIT');
        if (version === undefined) return applied;
        applied.push(version);
      } catch (err: unknown) {
        await query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
  } catch (err: unknown) {
    throw contractError(err, 'database', 'migrate');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One migration under the lock; resolves with its version, or undefined when there was nothing to do. */
async function step(
  query: Query,
  schema: string | undefined,
  migrations: readonly PostgresMigration[],
  upTo: number,
): Promise<number | undefined> {
  // Checked before creating: CREATE … IF NOT EXISTS still needs the CREATE privilege, which a
  // production role may lack once the schema exists.
  if (schema !== undefined) {
    const { rowCount } = await query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    // The name was checked against an unquoted-identifier pattern when the settings were built.
    if (rowCount === 0) await query(`CREATE SCHEMA ${schema}`);
  }
  const current = await schemaVersionOf(query);
  // Before anything is written: a newer schema is refused untouched.
  const migration = nextMigration(current, migrations, upTo);
  if (migration === undefined) return undefined;
  if (current === 0 && !(await hasVersionTable(query))) {
    await query(`CREATE TABLE idport_migrations (
      version integer NOT NULL PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  }
  await migration.up(query);
  await query('INSERT INTO idport_migrations (version, description) VALUES ($1, $2)', [
    migration.version,
    migration.description,
  ]);
  return migration.version;
}

/**
 * PostgreSQL storage on a node-postgres pool (Dex's `storage.type: postgres`), for several replicas
 * behind one issuer. Tables have the same shape as SQLite's: key columns, an indexed `expiry` for
 * garbage collection, and the entity as tagged JSON text (storage/codec.ts). `update` is a
 * compare-and-swap: first optimistic (`SELECT`, fn, `UPDATE … WHERE data = <what was read>`: two
 * statements, no transaction), and when another writer got in between, by row lock (`BEGIN; SELECT …
 * FOR UPDATE; fn; UPDATE; COMMIT` under READ COMMITTED), so contended updaters queue on the row
 * instead of failing and retrying as under SERIALIZABLE (dexidp/dex#1341).
 */
import { Pool } from 'pg';
import { CodecError, decodeJson, encodeJson } from '../codec.js';
import { SchemaTooNewError } from '../migrate.js';
import { sameKey, tableSpecs, type TableSpec } from '../sql-tables.js';
import {
  NotFoundError,
  StorageUnavailableError,
  type AuthCode,
  type AuthRequest,
  type Client,
  type ConnectorRecord,
  type DeviceRequest,
  type DeviceToken,
  type GcResult,
  type Keys,
  type OfflineSession,
  type OfflineSessionKey,
  type Password,
  type PasswordFailures,
  type RevokedToken,
  type RefreshToken,
  type Session,
  type Storage,
  type Table,
} from '../storage.js';
import { connectionSettings, type PostgresOptions } from './connection.js';
import { Database, lostToAnotherWriter } from './database.js';
import { importDexPostgres } from './dex.js';
import { migratePostgres } from './migrations.js';

export {
  PostgresConfigError,
  type PostgresOptions,
  type PostgresSslMode,
  type PostgresSslOptions,
} from './connection.js';

/** Readiness must answer quickly even when connecting hangs; /healthz/ready waits a little longer. */
const PING_TIMEOUT_MS = 1_500;
/** Rows one garbage-collection statement deletes: milliseconds of work, well inside the statement timeout. */
export const GC_BATCH = 1_000;

type Row = { data: string };

// PostgreSQL text cannot hold NUL, so no stored key contains one; such a key (from a request
// parameter) is simply absent rather than a database error that would read as an outage.
const hasNul = (params: readonly string[]): boolean => params.some((p) => p.includes('\u0000'));

class PostgresTable<K, T> implements Table<K, T> {
  private readonly sql: {
    readonly insert: string;
    readonly select: string;
    readonly selectForUpdate: string;
    readonly selectAll: string;
    readonly update: string;
    /** `update` only where the row still holds the data read (the last parameter): the optimistic swap. */
    readonly swap: string;
    readonly delete: string;
  };

  constructor(
    private readonly db: Database,
    private readonly spec: TableSpec<K, T>,
  ) {
    // Identifiers come from the constant specs below, never from input.
    const { table, keyColumns } = spec;
    const hasExpiry = spec.expiryOf !== undefined;
    const columns = [...keyColumns, ...(hasExpiry ? ['expiry'] : []), 'data'];
    const where = keyColumns.map((c, i) => `${c} = $${i + 1}`).join(' AND ');
    const n = keyColumns.length;
    const set = hasExpiry ? `expiry = $${n + 1}, data = $${n + 2}` : `data = $${n + 1}`;
    this.sql = {
      insert: `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
      select: `SELECT data FROM ${table} WHERE ${where}`,
      selectForUpdate: `SELECT data FROM ${table} WHERE ${where} FOR UPDATE`,
      selectAll: `SELECT data FROM ${table} ORDER BY ${keyColumns.join(', ')}`,
      update: `UPDATE ${table} SET ${set} WHERE ${where}`,
      swap: `UPDATE ${table} SET ${set} WHERE ${where} AND data = $${n + (hasExpiry ? 3 : 2)}`,
      delete: `DELETE FROM ${table} WHERE ${where}`,
    };
  }

  // The row was written by encodeJson from a T, and only this code writes these tables.
  private decode(data: string): T {
    return decodeJson(data) as T;
  }

  private expiryParam(value: T): (Date | null)[] {
    if (this.spec.expiryOf === undefined) return [];
    return [this.spec.expiryOf(value) ?? null];
  }

  async create(value: T): Promise<void> {
    const data = encodeJson(value);
    const params = this.spec.keyParams(this.spec.keyOf(value));
    if (hasNul(params)) throw new CodecError(`cannot store a ${this.spec.what} whose key contains NUL`);
    await this.db.run(this.spec.what, 'create', (query) =>
      query(this.sql.insert, [...params, ...this.expiryParam(value), data]),
    );
  }

  async get(key: K): Promise<T | undefined> {
    const params = this.spec.keyParams(key);
    if (hasNul(params)) return undefined;
    const { rows } = await this.db.run(this.spec.what, 'get', (query) => query<Row>(this.sql.select, params));
    return rows[0] === undefined ? undefined : this.decode(rows[0].data);
  }

  async list(): Promise<T[]> {
    const { rows } = await this.db.run(this.spec.what, 'list', (query) => query<Row>(this.sql.selectAll));
    return rows.map((row) => this.decode(row.data));
  }

  async update(key: K, update: (old: T) => T): Promise<T> {
    const params = this.spec.keyParams(key);
    if (hasNul(params)) throw new NotFoundError(this.spec.what);
    // Optimistic first: an uncontended update (nearly all of them) costs two statements instead of four, and no
    // transaction of its own. When the row changed between the read and the swap, the locked path below runs
    // `update` again on what is there now (the contract allows a second run), queueing behind the other writer.
    const swapped = await this.db.run(this.spec.what, 'update', async (query) => {
      const { rows } = await query<Row>(this.sql.select, params);
      if (rows[0] === undefined) throw new NotFoundError(this.spec.what);
      const old = rows[0].data;
      const { next, data } = this.updated(old, update, params);
      // Outside a transaction the server's default isolation applies: under REPEATABLE READ or SERIALIZABLE a swap
      // that waited on another writer fails instead of finding the row changed. Either way the locked path decides.
      const { rowCount } = await query(this.sql.swap, [...params, ...this.expiryParam(next), data, old]).catch(
        (err: unknown) => {
          if (lostToAnotherWriter(err)) return { rowCount: 0 };
          throw err;
        },
      );
      return rowCount === 1 ? data : undefined;
    });
    if (swapped !== undefined) return this.decode(swapped);
    return this.db.transaction(this.spec.what, 'update', async (query) => {
      // The row lock is held until COMMIT: a concurrent updater waits here and then reads our result.
      const { rows } = await query<Row>(this.sql.selectForUpdate, params);
      if (rows[0] === undefined) throw new NotFoundError(this.spec.what);
      const { next, data } = this.updated(rows[0].data, update, params);
      await query(this.sql.update, [...params, ...this.expiryParam(next), data]);
      // Hand back what a later get would return, not the caller's object.
      return this.decode(data);
    });
  }

  /** The caller's update applied to a stored row, checked to keep its key, and encoded for storing. */
  private updated(stored: string, update: (old: T) => T, params: readonly string[]): { next: T; data: string } {
    const next = update(this.decode(stored));
    if (!sameKey(this.spec.keyParams(this.spec.keyOf(next)), params))
      throw new Error(`update must not change the ${this.spec.what} key`);
    return { next, data: encodeJson(next) };
  }

  async delete(key: K): Promise<boolean> {
    const params = this.spec.keyParams(key);
    if (hasNul(params)) return false;
    const { rowCount } = await this.db.run(this.spec.what, 'delete', (query) => query(this.sql.delete, params));
    return rowCount > 0;
  }

  /**
   * Deletes rows whose expiry is before `now` (rows without one stay), GC_BATCH rows per statement. A
   * backlog (the first pass after a long outage) would otherwise be one DELETE running into the
   * statement timeout on every pass and never shrinking. SKIP LOCKED leaves rows an update holds right
   * now for the next pass, and lets the passes of several replicas share the work instead of queueing.
   */
  async collect(now: Date): Promise<number> {
    if (this.spec.expiryOf === undefined) return 0;
    const { table, keyColumns } = this.spec;
    const key = keyColumns.join(', ');
    const sql = `DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE expiry < $1 LIMIT ${GC_BATCH} FOR UPDATE SKIP LOCKED)`;
    let removed = 0;
    for (;;) {
      const { rowCount } = await this.db.run('expired rows', 'delete', (query) => query(sql, [now]));
      removed += rowCount;
      if (rowCount < GC_BATCH) return removed;
    }
  }
}

// Written by encodeJson from a Keys in updateKeys; nothing else writes the keys table.
const decodeKeys = (data: string): Keys => decodeJson(data) as Keys;

class PostgresStorage implements Storage {
  readonly authRequests: PostgresTable<string, AuthRequest>;
  readonly authCodes: PostgresTable<string, AuthCode>;
  readonly refreshTokens: PostgresTable<string, RefreshToken>;
  readonly offlineSessions: PostgresTable<OfflineSessionKey, OfflineSession>;
  readonly clients: PostgresTable<string, Client>;
  readonly passwords: PostgresTable<string, Password>;
  readonly connectors: PostgresTable<string, ConnectorRecord>;
  readonly deviceRequests: PostgresTable<string, DeviceRequest>;
  readonly deviceTokens: PostgresTable<string, DeviceToken>;
  readonly sessions: PostgresTable<string, Session>;
  readonly passwordFailures: PostgresTable<string, PasswordFailures>;
  readonly revokedTokens: PostgresTable<string, RevokedToken>;

  constructor(readonly db: Database) {
    this.authRequests = new PostgresTable(db, tableSpecs.authRequests);
    this.authCodes = new PostgresTable(db, tableSpecs.authCodes);
    this.refreshTokens = new PostgresTable(db, tableSpecs.refreshTokens);
    this.offlineSessions = new PostgresTable(db, tableSpecs.offlineSessions);
    this.clients = new PostgresTable(db, tableSpecs.clients);
    this.passwords = new PostgresTable(db, tableSpecs.passwords);
    this.connectors = new PostgresTable(db, tableSpecs.connectors);
    this.deviceRequests = new PostgresTable(db, tableSpecs.deviceRequests);
    this.deviceTokens = new PostgresTable(db, tableSpecs.deviceTokens);
    this.sessions = new PostgresTable(db, tableSpecs.sessions);
    this.passwordFailures = new PostgresTable(db, tableSpecs.passwordFailures);
    this.revokedTokens = new PostgresTable(db, tableSpecs.revokedTokens);
  }

  async getKeys(): Promise<Keys | undefined> {
    const { rows } = await this.db.run('keys', 'get', (query) =>
      query<{ data: string | null }>('SELECT data FROM signing_keys WHERE id = 1'),
    );
    const data = rows[0]?.data;
    return data === undefined || data === null ? undefined : decodeKeys(data);
  }

  async updateKeys(update: (old: Keys | undefined) => Keys): Promise<Keys> {
    return this.db.transaction('keys', 'update', async (query) => {
      const lock = async (): Promise<{ data: string | null } | undefined> =>
        (await query<{ data: string | null }>('SELECT data FROM signing_keys WHERE id = 1 FOR UPDATE')).rows[0];
      let row = await lock();
      if (row === undefined) {
        // Two replicas creating the first key: FOR UPDATE cannot lock a row that does not exist yet,
        // so create a placeholder. The second inserter waits for the first to commit, skips, and
        // then locks (and sees) the committed key set.
        await query('INSERT INTO signing_keys (id, data) VALUES (1, NULL) ON CONFLICT (id) DO NOTHING');
        row = await lock();
      }
      const old = row?.data === undefined || row.data === null ? undefined : decodeKeys(row.data);
      const data = encodeJson(update(old));
      await query('UPDATE signing_keys SET data = $1 WHERE id = 1', [data]);
      return decodeKeys(data);
    });
  }

  async garbageCollect(now: Date): Promise<GcResult> {
    // Table by table, batch by batch: each statement commits on its own, so no pass holds locks for long.
    return {
      authRequests: await this.authRequests.collect(now),
      authCodes: await this.authCodes.collect(now),
      refreshTokens: await this.refreshTokens.collect(now),
      deviceRequests: await this.deviceRequests.collect(now),
      deviceTokens: await this.deviceTokens.collect(now),
      sessions: await this.sessions.collect(now),
      passwordFailures: await this.passwordFailures.collect(now),
      revokedTokens: await this.revokedTokens.collect(now),
    };
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StorageUnavailableError('postgres: ping timed out')), PING_TIMEOUT_MS);
    });
    try {
      const { rows } = await Promise.race([
        this.db.run('ping', 'run', (query) => query<{ one: number }>('SELECT 1 AS one')),
        deadline,
      ]);
      if (rows[0]?.one !== 1) throw new StorageUnavailableError('postgres: SELECT 1 did not return 1');
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/**
 * Connects, applies pending migrations (exactly once across replicas starting together) and returns
 * the storage. Rejects with SchemaTooNewError when the schema was migrated by a newer idport,
 * PostgresConfigError for settings that cannot work, and StorageUnavailableError when the database
 * cannot be reached.
 */
export async function openPostgres(options: PostgresOptions): Promise<Storage> {
  const settings = connectionSettings(options);
  try {
    // Migrations run on their own connection, before the pool exists, so a failure leaks nothing.
    await migratePostgres(settings.migration, { schema: settings.schema });
  } catch (err: unknown) {
    if (err instanceof SchemaTooNewError) throw err;
    // The driver's reason (refused, TLS, authentication, permission) is one level down, not two.
    const cause = err instanceof StorageUnavailableError ? err.cause : err;
    throw new StorageUnavailableError(`postgres: cannot open database ${settings.target}`, { cause });
  }
  const storage = new PostgresStorage(new Database(new Pool(settings.pool)));
  try {
    await importDexPostgres(storage.db, storage);
  } catch (err: unknown) {
    await storage.close();
    throw err;
  }
  return storage;
}

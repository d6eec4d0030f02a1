/**
 * SQLite storage on better-sqlite3 (Dex's `storage.type: sqlite3`). One table per entity holds the key
 * columns, the expiry (for garbage collection) and the entity as tagged JSON (storage/codec.ts), so
 * adding an optional entity field needs no migration. better-sqlite3 is synchronous, so a read,
 * the caller's update function and the write run with no await between them, inside `BEGIN IMMEDIATE`,
 * which also serialises writers in other processes sharing the file.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { decodeJson, encodeJson } from '../codec.js';
import { SchemaTooNewError } from '../migrate.js';
import { sameKey, tableSpecs, type TableSpec } from '../sql-tables.js';
import {
  AlreadyExistsError,
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
import { importDexSqlite } from './dex.js';
import { migrateSqlite } from './migrations.js';

/** Settings for `openSqlite`; the same keys as Dex's `storage.config` for sqlite3. */
export interface SqliteOptions {
  /** Database file path, or `:memory:` for a private in-memory database. Missing parent folders are created. */
  readonly file: string;
}

// How long a writer waits for another process's transaction before failing. better-sqlite3 blocks the
// event loop while waiting, so this stays short: a lock held longer means something is wrong.
const BUSY_TIMEOUT_MS = 5000;

type Db = Database.Database;
type Row = { data: string };

/** Runs a driver call and turns driver failures into the contract's errors; our own errors and the caller's pass through. */
function guard<R>(db: Db, what: string, action: string, run: () => R): R {
  if (!db.open) throw new StorageUnavailableError('sqlite storage is closed');
  try {
    return run();
  } catch (err: unknown) {
    if (!(err instanceof Database.SqliteError)) throw err;
    if (err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || err.code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new AlreadyExistsError(what, { cause: err });
    }
    // The driver message names tables and SQLite codes, never row values; it stays in `cause` for the log.
    throw new StorageUnavailableError(`sqlite: ${action} ${what} failed`, { cause: err });
  }
}

class SqliteTable<K, T> implements Table<K, T> {
  private readonly insertRow: Database.Statement;
  private readonly selectRow: Database.Statement<unknown[], Row>;
  private readonly selectAll: Database.Statement<[], Row>;
  private readonly updateRow: Database.Statement;
  private readonly deleteRow: Database.Statement;
  private readonly deleteExpired: Database.Statement | undefined;
  private readonly updateTx: Database.Transaction<(params: string[], update: (old: T) => T) => T>;

  constructor(
    private readonly db: Db,
    private readonly spec: TableSpec<K, T>,
  ) {
    // Identifiers come from the constant specs below, never from input.
    const { table, keyColumns } = spec;
    const hasExpiry = spec.expiryOf !== undefined;
    const columns = [...keyColumns, ...(hasExpiry ? ['expiry'] : []), 'data'];
    const where = keyColumns.map((c) => `${c} = ?`).join(' AND ');
    this.insertRow = db.prepare(
      `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
    );
    this.selectRow = db.prepare<unknown[], Row>(`SELECT data FROM ${table} WHERE ${where}`);
    this.selectAll = db.prepare<[], Row>(`SELECT data FROM ${table} ORDER BY ${keyColumns.join(', ')}`);
    this.updateRow = db.prepare(`UPDATE ${table} SET ${hasExpiry ? 'expiry = ?, ' : ''}data = ? WHERE ${where}`);
    this.deleteRow = db.prepare(`DELETE FROM ${table} WHERE ${where}`);
    this.deleteExpired = hasExpiry ? db.prepare(`DELETE FROM ${table} WHERE expiry < ?`) : undefined;
    this.updateTx = db.transaction((params: string[], update: (old: T) => T): T => {
      const row = this.selectRow.get(...params);
      if (row === undefined) throw new NotFoundError(spec.what);
      const next = update(this.decode(row.data));
      if (!sameKey(spec.keyParams(spec.keyOf(next)), params))
        throw new Error(`update must not change the ${spec.what} key`);
      const data = encodeJson(next);
      this.updateRow.run(...this.expiryParam(next), data, ...params);
      // Hand back what a later get would return, not the caller's object.
      return this.decode(data);
    });
  }

  // The row was written by encodeJson from a T, and only this code writes these tables.
  private decode(data: string): T {
    return decodeJson(data) as T;
  }

  private expiryParam(value: T): (number | null)[] {
    if (this.spec.expiryOf === undefined) return [];
    return [this.spec.expiryOf(value)?.getTime() ?? null];
  }

  async create(value: T): Promise<void> {
    const data = encodeJson(value);
    const params = this.spec.keyParams(this.spec.keyOf(value));
    guard(this.db, this.spec.what, 'create', () => this.insertRow.run(...params, ...this.expiryParam(value), data));
  }

  async get(key: K): Promise<T | undefined> {
    const row = guard(this.db, this.spec.what, 'get', () => this.selectRow.get(...this.spec.keyParams(key)));
    return row === undefined ? undefined : this.decode(row.data);
  }

  async list(): Promise<T[]> {
    return guard(this.db, this.spec.what, 'list', () => this.selectAll.all()).map((row) => this.decode(row.data));
  }

  async update(key: K, update: (old: T) => T): Promise<T> {
    // IMMEDIATE takes the write lock before the read, so no other connection can write between read and write.
    return guard(this.db, this.spec.what, 'update', () => this.updateTx.immediate(this.spec.keyParams(key), update));
  }

  async delete(key: K): Promise<boolean> {
    const result = guard(this.db, this.spec.what, 'delete', () => this.deleteRow.run(...this.spec.keyParams(key)));
    return result.changes > 0;
  }

  /** Deletes rows whose expiry is before `now` (rows without one stay); call inside a transaction. */
  collect(now: Date): number {
    return this.deleteExpired?.run(now.getTime()).changes ?? 0;
  }
}

class SqliteStorage implements Storage {
  readonly authRequests: SqliteTable<string, AuthRequest>;
  readonly authCodes: SqliteTable<string, AuthCode>;
  readonly refreshTokens: SqliteTable<string, RefreshToken>;
  readonly offlineSessions: SqliteTable<OfflineSessionKey, OfflineSession>;
  readonly clients: SqliteTable<string, Client>;
  readonly passwords: SqliteTable<string, Password>;
  readonly connectors: SqliteTable<string, ConnectorRecord>;
  readonly deviceRequests: SqliteTable<string, DeviceRequest>;
  readonly deviceTokens: SqliteTable<string, DeviceToken>;
  readonly sessions: SqliteTable<string, Session>;
  readonly passwordFailures: SqliteTable<string, PasswordFailures>;
  readonly revokedTokens: SqliteTable<string, RevokedToken>;
  private readonly selectKeys: Database.Statement<[], Row>;
  private readonly updateKeysTx: Database.Transaction<(update: (old: Keys | undefined) => Keys) => Keys>;
  private readonly gcTx: Database.Transaction<(now: Date) => GcResult>;
  private readonly selectOne: Database.Statement<[], unknown>;

  constructor(private readonly db: Db) {
    this.authRequests = new SqliteTable(db, tableSpecs.authRequests);
    this.authCodes = new SqliteTable(db, tableSpecs.authCodes);
    this.refreshTokens = new SqliteTable(db, tableSpecs.refreshTokens);
    this.offlineSessions = new SqliteTable(db, tableSpecs.offlineSessions);
    this.clients = new SqliteTable(db, tableSpecs.clients);
    this.passwords = new SqliteTable(db, tableSpecs.passwords);
    this.connectors = new SqliteTable(db, tableSpecs.connectors);
    this.deviceRequests = new SqliteTable(db, tableSpecs.deviceRequests);
    this.deviceTokens = new SqliteTable(db, tableSpecs.deviceTokens);
    this.sessions = new SqliteTable(db, tableSpecs.sessions);
    this.passwordFailures = new SqliteTable(db, tableSpecs.passwordFailures);
    this.revokedTokens = new SqliteTable(db, tableSpecs.revokedTokens);

    this.selectKeys = db.prepare<[], Row>('SELECT data FROM signing_keys WHERE id = 1');
    const upsertKeys = db.prepare(
      'INSERT INTO signing_keys (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data',
    );
    this.updateKeysTx = db.transaction((update: (old: Keys | undefined) => Keys): Keys => {
      const row = this.selectKeys.get();
      const data = encodeJson(update(row === undefined ? undefined : decodeKeys(row.data)));
      upsertKeys.run(data);
      return decodeKeys(data);
    });
    this.gcTx = db.transaction((now: Date): GcResult => ({
      authRequests: this.authRequests.collect(now),
      authCodes: this.authCodes.collect(now),
      refreshTokens: this.refreshTokens.collect(now),
      deviceRequests: this.deviceRequests.collect(now),
      deviceTokens: this.deviceTokens.collect(now),
      sessions: this.sessions.collect(now),
      passwordFailures: this.passwordFailures.collect(now),
      revokedTokens: this.revokedTokens.collect(now),
    }));
    this.selectOne = db.prepare<[], unknown>('SELECT 1').pluck();
  }

  async getKeys(): Promise<Keys | undefined> {
    const row = guard(this.db, 'keys', 'get', () => this.selectKeys.get());
    return row === undefined ? undefined : decodeKeys(row.data);
  }

  async updateKeys(update: (old: Keys | undefined) => Keys): Promise<Keys> {
    return guard(this.db, 'keys', 'update', () => this.updateKeysTx.immediate(update));
  }

  async garbageCollect(now: Date): Promise<GcResult> {
    return guard(this.db, 'expired rows', 'delete', () => this.gcTx.immediate(now));
  }

  async ping(): Promise<void> {
    const one = guard(this.db, 'ping', 'run', () => this.selectOne.get());
    if (one !== 1) throw new StorageUnavailableError('sqlite: SELECT 1 did not return 1');
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

// Written by encodeJson from a Keys in updateKeys; nothing else writes the keys table.
const decodeKeys = (data: string): Keys => decodeJson(data) as Keys;

/**
 * Opens (creating if needed) a SQLite database, applies pending migrations and returns the storage.
 * Rejects with SchemaTooNewError when the file was migrated by a newer idport, and with
 * StorageUnavailableError when the file cannot be opened or is not a database.
 */
export async function openSqlite(options: SqliteOptions): Promise<Storage> {
  const { file } = options;
  const inMemory = file === ':memory:' || file === '';
  let db: Db | undefined;
  try {
    if (!inMemory) mkdirSync(dirname(file), { recursive: true });
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    // Migrate before switching to WAL, so a file from a newer idport is refused without being touched.
    migrateSqlite(db);
    // WAL lets readers proceed while a writer commits; an in-memory database has no journal file to share.
    if (!inMemory) db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL syncs at checkpoints instead of every commit: the database can never be corrupted and a
    // process crash loses nothing; only an OS crash or power cut can drop the last commits (a refresh rotation the
    // client then cannot use: it logs in again). That trade doubles token-endpoint throughput (npm run bench).
    if (!inMemory) db.pragma('synchronous = NORMAL');
    const storage = new SqliteStorage(db);
    await importDexSqlite(db, storage);
    return storage;
  } catch (err: unknown) {
    db?.close();
    if (err instanceof SchemaTooNewError) throw err;
    throw new StorageUnavailableError(`sqlite: cannot open database ${file}`, { cause: err });
  }
}

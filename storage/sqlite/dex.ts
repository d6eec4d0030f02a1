/**
 * The one-time import of a Dex SQLite database (storage/dex-import.ts): when the file holds Dex's tables and no
 * import is recorded, Dex's rows are copied into idport's tables and the import is recorded. Dex's tables are
 * only read. A start that dies half-way imports again next time; rows already copied are kept.
 */
import type { Database } from 'better-sqlite3';
import { DEX_TABLES, fromDexTables, writeDexImport, type DexRow, type DexTables } from '../dex-import.js';
import type { Storage } from '../storage.js';

const hasTable = (db: Database, name: string): boolean =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;

/** Whether this is a Dex database: Dex's migrations table and every table that carries over. */
const isDexDatabase = (db: Database): boolean =>
  hasTable(db, 'migrations') && DEX_TABLES.every((table) => hasTable(db, table));

/** Imports Dex's rows once; returns whether it did. */
export async function importDexSqlite(db: Database, storage: Storage): Promise<boolean> {
  if (!isDexDatabase(db)) return false;
  if (db.prepare('SELECT 1 FROM dex_import WHERE id = 1').get() !== undefined) return false;
  // Table names come from the constant list above, never from input.
  const rows = (table: (typeof DEX_TABLES)[number]): DexRow[] => db.prepare<[], DexRow>(`SELECT * FROM ${table}`).all();
  const tables: DexTables = {
    keys: rows('keys'),
    client: rows('client'),
    password: rows('password'),
    connector: rows('connector'),
    offline_session: rows('offline_session'),
    refresh_token: rows('refresh_token'),
  };
  await writeDexImport({ storage }, fromDexTables(tables));
  db.prepare('INSERT OR IGNORE INTO dex_import (id, imported_at) VALUES (1, ?)').run(Date.now());
  return true;
}

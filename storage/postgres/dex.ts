/**
 * The one-time import of a Dex PostgreSQL schema (storage/dex-import.ts): when the schema idport uses holds Dex's
 * tables and no import is recorded, Dex's rows are copied into idport's tables and the import is recorded. Dex's
 * tables are only read. Replicas starting together may both copy; the copies agree and existing rows are kept.
 */
import { DEX_TABLES, fromDexTables, writeDexImport, type DexRow, type DexTables } from '../dex-import.js';
import type { Storage } from '../storage.js';
import type { Database } from './database.js';

/** Imports Dex's rows once; returns whether it did. */
export async function importDexPostgres(db: Database, storage: Storage): Promise<boolean> {
  const found = await db.run('dex tables', 'find', async (query) => {
    const { rows } = await query<{ name: string }>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1)',
      [['migrations', ...DEX_TABLES]],
    );
    const names = new Set(rows.map((row) => row.name));
    if (!['migrations', ...DEX_TABLES].every((name) => names.has(name))) return false;
    return (await query('SELECT 1 FROM dex_import WHERE id = 1')).rowCount === 0;
  });
  if (!found) return false;
  const tables = await db.run('dex tables', 'read', async (query) => {
    // Table names come from the constant list, never from input.
    const rows = async (table: (typeof DEX_TABLES)[number]): Promise<DexRow[]> =>
      (await query<DexRow>(`SELECT * FROM ${table}`)).rows;
    const read: DexTables = {
      keys: await rows('keys'),
      client: await rows('client'),
      password: await rows('password'),
      connector: await rows('connector'),
      offline_session: await rows('offline_session'),
      refresh_token: await rows('refresh_token'),
    };
    return read;
  });
  await writeDexImport({ storage }, fromDexTables(tables));
  await db.run('dex import', 'record', (query) =>
    query('INSERT INTO dex_import (id, imported_at) VALUES (1, now()) ON CONFLICT (id) DO NOTHING'),
  );
  return true;
}

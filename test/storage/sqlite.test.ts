import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { encodeJson } from '../../storage/codec.js';
import { SchemaTooNewError, type Migration } from '../../storage/migrate.js';
import { migrateSqlite, schemaVersionOf, sqliteSchemaVersion } from '../../storage/sqlite/migrations.js';
import { openSqlite } from '../../storage/sqlite/sqlite.js';
import { StorageUnavailableError, type Storage } from '../../storage/storage.js';
import { assertRejectsWith, runStorageConformance } from './conformance.js';
import * as fx from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const tempFile = (): string => join(dir, `idport-${++files}.db`);

runStorageConformance('sqlite storage in memory', () => openSqlite({ file: ':memory:' }));
runStorageConformance('sqlite storage in a file', () => openSqlite({ file: tempFile() }));

/** Opens `file` with the driver alone, to inspect or prepare what idport will find. */
const withRaw = <R>(file: string, use: (db: Database.Database) => R): R => {
  const db = new Database(file);
  try {
    return use(db);
  } finally {
    db.close();
  }
};

const columnsOf = (db: Database.Database, table: string): string[] =>
  db
    .prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`)
    .all()
    .map((c) => c.name);

/** One value of every entity plus a key set, to check that data survives. */
async function fill(storage: Storage): Promise<void> {
  await storage.authRequests.create(fx.authRequest(1));
  await storage.authCodes.create(fx.authCode(1));
  await storage.refreshTokens.create(fx.refreshToken(1));
  await storage.offlineSessions.create(fx.offlineSession(1));
  await storage.clients.create(fx.client(1));
  await storage.passwords.create(fx.password(1, 'Foo@Example.com'));
  await storage.connectors.create(fx.connector(1));
  await storage.deviceRequests.create(fx.deviceRequest(1));
  await storage.deviceTokens.create(fx.deviceToken(1));
  await storage.updateKeys(() => fx.keys('current', ['retired']));
}

async function assertFilled(storage: Storage): Promise<void> {
  assert.deepEqual(await storage.authRequests.list(), [fx.authRequest(1)]);
  assert.deepEqual(await storage.authCodes.list(), [fx.authCode(1)]);
  assert.deepEqual(await storage.refreshTokens.list(), [fx.refreshToken(1)]);
  assert.deepEqual(await storage.offlineSessions.list(), [fx.offlineSession(1)]);
  assert.deepEqual(await storage.clients.list(), [fx.client(1)]);
  assert.deepEqual(await storage.passwords.get('foo@example.com'), fx.password(1, 'Foo@Example.com'));
  assert.deepEqual(await storage.connectors.list(), [fx.connector(1)]);
  assert.deepEqual(await storage.deviceRequests.list(), [fx.deviceRequest(1)]);
  assert.deepEqual(await storage.deviceTokens.list(), [fx.deviceToken(1)]);
  assert.deepEqual(await storage.getKeys(), fx.keys('current', ['retired']));
}

describe('sqlite storage files', () => {
  it('keeps every entity and the keys across close and reopen', async () => {
    const file = tempFile();
    const first = await openSqlite({ file });
    await fill(first);
    await first.close();
    const second = await openSqlite({ file });
    await assertFilled(second);
    await second.close();
  });

  it('creates missing parent folders of the database file', async () => {
    const file = join(dir, 'nested', 'deeper', 'idport.db');
    const storage = await openSqlite({ file });
    await storage.clients.create(fx.client(1));
    await storage.close();
    assert.equal(
      withRaw(file, (db) => db.prepare('SELECT count(*) FROM clients').pluck().get()),
      1,
    );
  });

  it('switches a file database to WAL mode', async () => {
    const file = tempFile();
    await (await openSqlite({ file })).close();
    assert.equal(
      withRaw(file, (db) => db.pragma('journal_mode', { simple: true })),
      'wal',
    );
  });

  it('keys passwords by the lower-cased email and keeps the email as written in the data', async () => {
    const file = tempFile();
    const storage = await openSqlite({ file });
    await storage.passwords.create(fx.password(1, 'Foo@Example.com'));
    await storage.close();
    const row = withRaw(file, (db) =>
      db.prepare<[], { email: string; data: string }>('SELECT email, data FROM passwords').get(),
    );
    assert.equal(row?.email, 'foo@example.com');
    assert.equal(row?.data, encodeJson(fx.password(1, 'Foo@Example.com')));
  });

  it('serialises updates from two processes sharing the file without losing any', async () => {
    const file = tempFile();
    const storage = await openSqlite({ file });
    await storage.refreshTokens.create(fx.refreshToken(1));
    // Separate processes with their own connections really contend for the write lock.
    const writers = [0, 1].map(() =>
      fork(fileURLToPath(new URL('./sqlite-writer.ts', import.meta.url)), [file, '200'], {
        execArgv: ['--import', 'tsx'],
      }),
    );
    const exited = writers.map(
      (writer) =>
        new Promise<void>((resolve, reject) => {
          writer.once('error', reject);
          writer.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited with ${code}`))));
        }),
    );
    await Promise.all(writers.map((writer) => once(writer, 'message')));
    for (const writer of writers) writer.send('go');
    for (let i = 0; i < 200; i++) {
      await storage.refreshTokens.update('refresh-token-1', fx.useOnce);
    }
    await Promise.all(exited);
    assert.equal(fx.usesOf(await storage.refreshTokens.get('refresh-token-1')), 600);
    await storage.close();
  });
});

describe('sqlite storage errors', () => {
  it('refuses a file that is not a SQLite database with StorageUnavailableError', async () => {
    const file = tempFile();
    writeFileSync(file, 'this is not a database, just some text that is long enough to have a header'.repeat(20));
    await assertRejectsWith(openSqlite({ file }), StorageUnavailableError, `sqlite: cannot open database ${file}`);
  });

  it('turns a driver failure into StorageUnavailableError and keeps the driver error only as its cause', async () => {
    const file = tempFile();
    const storage = await openSqlite({ file });
    withRaw(file, (db) => db.exec('DROP TABLE clients'));
    await assert.rejects(storage.clients.get('client-1'), (err: unknown) => {
      assert.ok(err instanceof StorageUnavailableError);
      assert.equal(err.message, 'sqlite: get client failed');
      assert.ok(err.cause instanceof Database.SqliteError);
      return true;
    });
    await storage.close();
  });

  it('rejects calls after close with StorageUnavailableError, and a second close does nothing', async () => {
    const storage = await openSqlite({ file: ':memory:' });
    await storage.close();
    await assertRejectsWith(storage.ping(), StorageUnavailableError, 'sqlite storage is closed');
    await assertRejectsWith(storage.clients.list(), StorageUnavailableError, 'sqlite storage is closed');
    await storage.close();
  });
});

describe('sqlite migrations', () => {
  it('creates a new database at the latest schema version with expiry indexes', async () => {
    const file = tempFile();
    await (await openSqlite({ file })).close();
    assert.equal(sqliteSchemaVersion, 5);
    const indexes = withRaw(file, (db) => {
      assert.equal(schemaVersionOf(db), 5);
      return db
        .prepare<[], string>(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%_expiry' ORDER BY name",
        )
        .pluck()
        .all();
    });
    assert.deepEqual(indexes, [
      'auth_codes_expiry',
      'auth_requests_expiry',
      'device_requests_expiry',
      'device_tokens_expiry',
      'password_failures_expiry',
      'refresh_tokens_expiry',
      'revoked_tokens_expiry',
      'sessions_expiry',
    ]);
  });

  it('migrates a version 1 database to the latest version, keeping its data and backfilling expiry', async () => {
    const file = tempFile();
    withRaw(file, (db) => {
      migrateSqlite(db, 1);
      assert.equal(schemaVersionOf(db), 1);
      assert.deepEqual(columnsOf(db, 'auth_requests'), ['id', 'data']);
      // Rows as version 1 wrote them: key columns and the tagged JSON, no expiry column yet.
      const insert = (table: string, key: string, value: unknown): void => {
        db.prepare(`INSERT INTO ${table} VALUES (?, ?)`).run(key, encodeJson(value));
      };
      insert('auth_requests', 'auth-request-1', fx.authRequest(1, fx.at(-1)));
      insert('auth_requests', 'auth-request-2', fx.authRequest(2, fx.at(1)));
      insert('refresh_tokens', 'refresh-token-1', fx.refreshToken(1, null));
      insert('clients', 'client-1', fx.client(1));
      insert('passwords', 'foo@example.com', fx.password(1, 'Foo@Example.com'));
      db.prepare('INSERT INTO offline_sessions VALUES (?, ?, ?)').run(
        'user-1',
        'github',
        encodeJson(fx.offlineSession(1)),
      );
      // Migration 1 as released named this table keys; migration 4 renames it to signing_keys.
      db.exec('ALTER TABLE signing_keys RENAME TO keys');
      db.prepare('INSERT INTO keys VALUES (1, ?)').run(encodeJson(fx.keys('current', ['retired'])));
    });

    const storage = await openSqlite({ file });
    assert.deepEqual(await storage.authRequests.get('auth-request-2'), fx.authRequest(2, fx.at(1)));
    assert.deepEqual(await storage.refreshTokens.get('refresh-token-1'), fx.refreshToken(1, null));
    assert.deepEqual(await storage.clients.get('client-1'), fx.client(1));
    assert.deepEqual(await storage.passwords.get('FOO@example.com'), fx.password(1, 'Foo@Example.com'));
    assert.deepEqual(
      await storage.offlineSessions.get({ userId: 'user-1', connectorId: 'github' }),
      fx.offlineSession(1),
    );
    assert.deepEqual(await storage.getKeys(), fx.keys('current', ['retired']));
    // Only the backfilled expiry column lets garbage collection find the expired version 1 row.
    assert.deepEqual(await storage.garbageCollect(fx.at(0)), {
      authRequests: 1,
      authCodes: 0,
      refreshTokens: 0,
      deviceRequests: 0,
      deviceTokens: 0,
      sessions: 0,
      passwordFailures: 0,
      revokedTokens: 0,
    });
    assert.deepEqual(
      (await storage.authRequests.list()).map((r) => r.id),
      ['auth-request-2'],
    );
    await storage.close();

    withRaw(file, (db) => {
      assert.equal(schemaVersionOf(db), 5);
      assert.deepEqual(columnsOf(db, 'signing_keys'), ['id', 'data']);
      assert.deepEqual(columnsOf(db, 'auth_requests'), ['id', 'data', 'expiry']);
      assert.deepEqual(columnsOf(db, 'sessions'), ['id', 'data', 'expiry']);
      assert.deepEqual(db.prepare('SELECT id, expiry FROM auth_requests').all(), [
        { id: 'auth-request-2', expiry: fx.baseTime + 1 },
      ]);
      assert.deepEqual(db.prepare('SELECT expiry FROM refresh_tokens').all(), [{ expiry: null }]);
    });
  });

  it('refuses to open a database whose schema version is newer than this code, without touching it', async () => {
    const file = tempFile();
    withRaw(file, (db) => db.pragma('user_version = 7'));
    await assert.rejects(openSqlite({ file }), (err: unknown) => {
      assert.ok(err instanceof SchemaTooNewError);
      assert.equal(
        err.message,
        `database schema version 7 is newer than this idport supports (${sqliteSchemaVersion}); upgrade idport`,
      );
      return true;
    });
    withRaw(file, (db) => {
      assert.equal(schemaVersionOf(db), 7);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'delete');
      assert.equal(db.prepare('SELECT count(*) FROM sqlite_master').pluck().get(), 0);
    });
  });

  it('applies each migration in its own transaction, so a failing one leaves the previous version intact', () => {
    const failure = new Error('migration 2 failed halfway');
    const migrations: Migration<Database.Database>[] = [
      { version: 1, description: 'first table', up: (db) => db.exec('CREATE TABLE first (id TEXT) STRICT') },
      {
        version: 2,
        description: 'second table, then a failure',
        up: (db) => {
          db.exec('CREATE TABLE second (id TEXT) STRICT');
          throw failure;
        },
      },
    ];
    const db = new Database(':memory:');
    assert.throws(
      () => migrateSqlite(db, 2, migrations),
      (err: unknown) => err === failure,
    );
    assert.equal(schemaVersionOf(db), 1);
    assert.deepEqual(db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(), [
      'first',
    ]);
    db.close();
  });

  it('rejects a migration list that is not numbered 1, 2, 3 without gaps', () => {
    const db = new Database(':memory:');
    const gap: Migration<Database.Database>[] = [{ version: 2, description: 'starts at 2', up: () => undefined }];
    assert.throws(() => migrateSqlite(db, 1, gap), { message: 'migration at position 0 has version 2, expected 1' });
    assert.equal(schemaVersionOf(db), 0);
    db.close();
  });
});

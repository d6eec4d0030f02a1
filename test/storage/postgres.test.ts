import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client } from 'pg';
import { CodecError, encodeJson } from '../../storage/codec.js';
import { SchemaTooNewError } from '../../storage/migrate.js';
import { connectionSettings } from '../../storage/postgres/connection.js';
import { PostgresError } from '../../storage/postgres/database.js';
import {
  migratePostgres,
  postgresMigrations,
  postgresSchemaVersion,
  type PostgresMigration,
} from '../../storage/postgres/migrations.js';
import { GC_BATCH, openPostgres, type PostgresOptions } from '../../storage/postgres/postgres.js';
import { AlreadyExistsError, StorageUnavailableError, type Keys, type Storage } from '../../storage/storage.js';
import { adminQuery, freshSchema, postgresSkip, postgresUrl } from '../support/postgres.js';
import { assertRejectsWith, runStorageConformance } from './conformance.js';
import * as fx from './fixtures.js';

/** Options for a storage in `schema` (a fresh one by default); the test server has TLS off. */
const optionsFor = (schema: string = freshSchema(), extra: Partial<PostgresOptions> = {}): PostgresOptions => ({
  url: postgresUrl ?? '',
  ssl: { mode: 'disable' },
  schema,
  ...extra,
});
const opened: Storage[] = [];
/** Opens a storage that is closed at the end of the file even when its test fails (open pools keep the process alive). */
const open = async (schema?: string, extra?: Partial<PostgresOptions>): Promise<Storage> => {
  const storage = await openPostgres(optionsFor(schema, extra));
  opened.push(storage);
  return storage;
};
after(async () => Promise.all(opened.map((s) => s.close())));

// The conformance suite runs its tests one after another, so one schema emptied before each test
// gives every test an empty storage; a new schema per test would cost ~130 ms of DDL each.
const conformanceSchema = freshSchema('conformance');
const entityTables = [
  'auth_requests',
  'auth_codes',
  'refresh_tokens',
  'offline_sessions',
  'clients',
  'passwords',
  'connectors',
  'device_requests',
  'device_tokens',
  'sessions',
  'password_failures',
  'revoked_tokens',
  'signing_keys',
];
runStorageConformance(
  'postgres storage',
  async () => {
    const storage = await open(conformanceSchema);
    await adminQuery(entityTables.map((t) => `DELETE FROM ${conformanceSchema}.${t};`).join(' '));
    return storage;
  },
  { skip: postgresSkip },
);

/** Rows of `sql` run with `search_path` set to `schema`, on a connection of its own. */
const inSchema = async <R extends Record<string, unknown>>(
  schema: string,
  sql: string,
  values?: unknown[],
): Promise<R[]> => {
  const client = new Client({ connectionString: postgresUrl ?? '' });
  await client.connect();
  try {
    await client.query(`SET search_path = ${schema}`);
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
};

const migrationRows = (schema: string): Promise<{ version: number; description: string }[]> =>
  inSchema(schema, 'SELECT version, description FROM idport_migrations ORDER BY version');

describe('postgres storage', { skip: postgresSkip }, () => {
  it('keeps every entity and the keys across close and reopen', async () => {
    const schema = freshSchema();
    const first = await open(schema);
    await first.clients.create(fx.client(1));
    await first.refreshTokens.create(fx.refreshToken(1));
    await first.offlineSessions.create(fx.offlineSession(1));
    await first.passwords.create(fx.password(1, 'Foo@Example.com'));
    await first.updateKeys(() => fx.keys('current', ['retired']));
    await first.close();
    const second = await open(schema);
    assert.deepEqual(await second.clients.list(), [fx.client(1)]);
    assert.deepEqual(await second.refreshTokens.get('refresh-token-1'), fx.refreshToken(1));
    assert.deepEqual(await second.offlineSessions.list(), [fx.offlineSession(1)]);
    assert.deepEqual(await second.passwords.get('FOO@example.com'), fx.password(1, 'Foo@Example.com'));
    assert.deepEqual(await second.getKeys(), fx.keys('current', ['retired']));
    await second.close();
  });

  it('keys passwords by the lower-cased email, keeps the entity as JSON text and expiry as timestamptz', async () => {
    const schema = freshSchema();
    const storage = await open(schema);
    await storage.passwords.create(fx.password(1, 'Foo@Example.com'));
    await storage.authRequests.create(fx.authRequest(1));
    await storage.close();
    assert.deepEqual(await inSchema(schema, 'SELECT email, data FROM passwords'), [
      { email: 'foo@example.com', data: encodeJson(fx.password(1, 'Foo@Example.com')) },
    ]);
    const [row] = await inSchema<{ expiry: Date }>(schema, 'SELECT expiry FROM auth_requests');
    assert.equal(row?.expiry.getTime(), fx.authRequest(1).expiry.getTime());
  });

  it('treats a key containing NUL as absent instead of failing, since PostgreSQL text cannot hold it', async () => {
    const storage = await open();
    assert.equal(await storage.refreshTokens.get('family\u0000id'), undefined);
    assert.equal(await storage.clients.delete('a\u0000b'), false);
    await assertRejectsWith(
      storage.clients.create({ ...fx.client(1), id: 'a\u0000b' }),
      CodecError,
      'cannot store a client whose key contains NUL',
    );
    assert.equal(await storage.ping(), undefined);
    await storage.close();
  });

  it('garbage-collects a backlog larger than one batch, in batches', async () => {
    const schema = freshSchema();
    const storage = await open(schema);
    const backlog = GC_BATCH * 2 + 500;
    // Rows as an outage would leave them: many auth requests that expired long ago.
    await inSchema(
      schema,
      `INSERT INTO auth_requests (id, expiry, data) SELECT 'old-' || n, $1, $2 FROM generate_series(1, ${backlog}) AS n`,
      [fx.at(-86_400_000), encodeJson(fx.authRequest(0))],
    );
    await storage.authRequests.create(fx.authRequest(1, fx.at(1)));
    const result = await storage.garbageCollect(fx.at(0));
    assert.equal(result.authRequests, backlog);
    assert.deepEqual(
      (await storage.authRequests.list()).map((r) => r.id),
      ['auth-request-1'],
    );
  });

  it('leaves an expired row that an update holds for the next pass instead of waiting for it', async () => {
    const schema = freshSchema();
    const storage = await open(schema);
    await storage.refreshTokens.create(fx.refreshToken(1, fx.at(-1)));
    await storage.refreshTokens.create(fx.refreshToken(2, fx.at(-1)));
    const holder = new Client({ connectionString: postgresUrl ?? '' });
    await holder.connect();
    try {
      await holder.query(
        `SET search_path = ${schema}; BEGIN; SELECT 1 FROM refresh_tokens WHERE id = 'refresh-token-1' FOR UPDATE`,
      );
      assert.equal((await storage.garbageCollect(fx.at(0))).refreshTokens, 1);
      await holder.query('ROLLBACK');
      assert.equal((await storage.garbageCollect(fx.at(0))).refreshTokens, 1);
      assert.deepEqual(await storage.refreshTokens.list(), []);
    } finally {
      await holder.end();
    }
  });

  it('applies 100 parallel updates from two pools on one row and ends at 100', async () => {
    const schema = freshSchema();
    const [a, b] = [await open(schema), await open(schema)] as const;
    await a.refreshTokens.create(fx.refreshToken(1));
    const bump = (s: Storage) => s.refreshTokens.update('refresh-token-1', fx.useOnce);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => bump(i % 2 === 0 ? a : b)));
    // Every update saw the one before it: each count was handed out once, across both pools.
    assert.deepEqual(
      results.map((r) => fx.usesOf(r) ?? 0).sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.equal(fx.usesOf(await b.refreshTokens.get('refresh-token-1')), 100);
    await Promise.all([a.close(), b.close()]);
  });

  // The server's default isolation applies to the optimistic statements, which run outside a transaction; an operator
  // may have set it on the database or role. The pool sets it here the way such a default would arrive.
  for (const isolation of ['read committed', 'repeatable read', 'serializable']) {
    it(`runs an update again on what another writer committed between its read and its write, losing neither (server default ${isolation})`, async () => {
      const schema = freshSchema();
      const options = `-c default_transaction_isolation=${isolation.replace(' ', '\\ ')}`;
      const url = new URL(postgresUrl ?? '');
      url.searchParams.set('options', options);
      const storage = await open(schema, { url: url.href });
      await storage.refreshTokens.create(fx.refreshToken(1));
      const stored = await storage.refreshTokens.get('refresh-token-1');
      assert.ok(stored);
      const holder = new Client({ connectionString: postgresUrl ?? '' });
      await holder.connect();
      try {
        // Another replica's update, not yet committed: this update reads the committed row, and its write waits.
        await holder.query(`SET search_path = ${schema}; BEGIN`);
        await holder.query('UPDATE refresh_tokens SET data = $1 WHERE id = $2', [
          encodeJson(fx.useOnce(stored)),
          'refresh-token-1',
        ]);
        const seen: (number | undefined)[] = [];
        const updating = storage.refreshTokens.update('refresh-token-1', (old) => {
          seen.push(fx.usesOf(old));
          return fx.useOnce(old);
        });
        const holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        const waiting = async (): Promise<boolean> =>
          (await adminQuery('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [holderPid]))
            .length > 0;
        for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 10));
        assert.ok(await waiting(), 'the write waits on the other writer');
        await holder.query('COMMIT');
        const updated = await updating;
        // The first run saw the row before the other write; the write found the row changed, so the update ran again on it.
        assert.deepEqual(seen, [0, 1]);
        assert.equal(fx.usesOf(updated), 2);
        assert.equal(fx.usesOf(await storage.refreshTokens.get('refresh-token-1')), 2);
      } finally {
        await holder.end();
      }
    });
  }

  it('creates the first key set exactly once when two pools race to create it, then serialises the rest', async () => {
    const schema = freshSchema();
    const [a, b] = [await open(schema), await open(schema)] as const;
    const seenEmpty: number[] = [];
    const add = (s: Storage, i: number) =>
      s.updateKeys((old: Keys | undefined): Keys => {
        if (old === undefined) seenEmpty.push(i);
        return fx.keys('current', [...(old?.verificationKeys ?? []).map((k) => String(k.publicKey.kid)), `kid-${i}`]);
      });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => add(i % 2 === 0 ? a : b, i)));
    // Only the very first writer saw no keys; a second one would have replaced its key set.
    assert.equal(new Set(seenEmpty).size, 1);
    assert.deepEqual(
      results.map((r) => r.verificationKeys.length).sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    assert.equal((await a.getKeys())?.verificationKeys.length, 40);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('postgres storage errors', { skip: postgresSkip }, () => {
  it('refuses an unreachable server with StorageUnavailableError naming the target, without the password', async () => {
    const started = Date.now();
    await assert.rejects(
      openPostgres({
        host: '127.0.0.1',
        port: 1,
        database: 'test',
        user: 'u',
        password: 's3cret',
        ssl: { mode: 'disable' },
      }),
      (err: unknown) => {
        assert.ok(err instanceof StorageUnavailableError);
        assert.equal(err.message, 'postgres: cannot open database 127.0.0.1:1/test');
        assert.doesNotMatch(JSON.stringify(err, Object.getOwnPropertyNames(err)), /s3cret/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5_000);
  });

  it('turns a driver failure into StorageUnavailableError with a sanitised cause', async () => {
    const schema = freshSchema();
    const storage = await open(schema);
    await inSchema(schema, 'DROP TABLE clients');
    await assert.rejects(storage.clients.get('client-1'), (err: unknown) => {
      assert.ok(err instanceof StorageUnavailableError);
      assert.equal(err.message, 'postgres: get client failed');
      assert.ok(err.cause instanceof PostgresError);
      assert.equal(err.cause.code, '42P01');
      return true;
    });
    await storage.close();
  });

  it('maps a unique violation to AlreadyExistsError whose cause does not repeat the key', async () => {
    const storage = await open();
    await storage.passwords.create(fx.password(1, 'secret-person@example.com'));
    await assert.rejects(storage.passwords.create(fx.password(2, 'secret-person@example.com')), (err: unknown) => {
      assert.ok(err instanceof AlreadyExistsError);
      assert.equal(err.message, 'password already exists');
      assert.ok(err.cause instanceof PostgresError);
      assert.equal(err.cause.code, '23505');
      assert.doesNotMatch(JSON.stringify(err.cause, Object.getOwnPropertyNames(err.cause)), /secret-person/);
      return true;
    });
    // The connection survived the error and went back to the pool.
    assert.equal((await storage.passwords.list()).length, 1);
    await storage.close();
  });

  it('gives up on a row lock held elsewhere after the statement timeout instead of hanging', async () => {
    const schema = freshSchema();
    const storage = await open(schema, { statementTimeoutMs: 300 });
    await storage.refreshTokens.create(fx.refreshToken(1));
    const holder = new Client({ connectionString: postgresUrl ?? '' });
    await holder.connect();
    try {
      await holder.query(`SET search_path = ${schema}; BEGIN; SELECT 1 FROM refresh_tokens FOR UPDATE`);
      const started = Date.now();
      await assertRejectsWith(
        storage.refreshTokens.update('refresh-token-1', (old) => old),
        StorageUnavailableError,
        'postgres: update refresh token failed',
      );
      const waited = Date.now() - started;
      assert.ok(waited >= 250 && waited < 2_000, `waited ${waited} ms`);
      await holder.query('ROLLBACK');
      // The pool recovers as soon as the lock is gone.
      assert.equal(
        (await storage.refreshTokens.update('refresh-token-1', (old) => ({ ...old, nonce: 'after-the-lock' }))).nonce,
        'after-the-lock',
      );
    } finally {
      await holder.end();
      await storage.close();
    }
  });

  it('rejects calls after close with StorageUnavailableError, and a second close does nothing', async () => {
    const storage = await open();
    await storage.close();
    await assertRejectsWith(storage.ping(), StorageUnavailableError, 'postgres storage is closed');
    await assertRejectsWith(storage.clients.list(), StorageUnavailableError, 'postgres storage is closed');
    await assertRejectsWith(
      storage.updateKeys(() => fx.keys('x')),
      StorageUnavailableError,
      'postgres storage is closed',
    );
    await storage.close();
  });
});

describe('postgres migrations', { skip: postgresSkip }, () => {
  const migrationConfig = (schema: string) => connectionSettings(optionsFor(schema)).migration;

  it('creates a new schema at the latest version, recording each migration once', async () => {
    const schema = freshSchema();
    await (await open(schema)).close();
    assert.equal(postgresSchemaVersion, 4);
    assert.deepEqual(
      await migrationRows(schema),
      postgresMigrations.map((m) => ({ version: m.version, description: m.description })),
    );
    const indexes = await adminQuery<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE '%_expiry' ORDER BY indexname",
      [schema],
    );
    assert.deepEqual(
      indexes.map((r) => r.indexname),
      [
        'auth_codes_expiry',
        'auth_requests_expiry',
        'device_requests_expiry',
        'device_tokens_expiry',
        'password_failures_expiry',
        'refresh_tokens_expiry',
        'revoked_tokens_expiry',
        'sessions_expiry',
      ],
    );
  });

  it('migrates exactly once when eight replicas open a fresh schema at the same moment', async () => {
    const schema = freshSchema();
    const config = migrationConfig(schema);
    const applied = await Promise.all(Array.from({ length: 8 }, () => migratePostgres(config, { schema })));
    // Each migration was applied by exactly one of them.
    assert.deepEqual(applied.flat().sort(), [1, 2, 3, 4]);
    assert.equal((await migrationRows(schema)).length, 4);
    // And through openPostgres, on another fresh schema: every replica starts and works.
    const other = freshSchema();
    const storages = await Promise.all(Array.from({ length: 6 }, () => open(other)));
    await storages[0]?.clients.create(fx.client(1));
    for (const s of storages) assert.deepEqual(await s.clients.list(), [fx.client(1)]);
    await Promise.all(storages.map((s) => s.close()));
    assert.equal((await migrationRows(other)).length, 4);
  });

  it('migrates a version 1 schema to the latest version, keeping its data', async () => {
    const schema = freshSchema();
    assert.deepEqual(await migratePostgres(migrationConfig(schema), { schema, upTo: 1 }), [1]);
    // Rows as version 1 wrote them.
    await inSchema(schema, 'INSERT INTO auth_requests (id, expiry, data) VALUES ($1, $2, $3)', [
      'auth-request-1',
      fx.at(600_000),
      encodeJson(fx.authRequest(1)),
    ]);
    // Migration 1 as released named this table keys; migration 3 renames it to signing_keys.
    await inSchema(schema, 'ALTER TABLE signing_keys RENAME TO keys');
    await inSchema(schema, 'INSERT INTO keys (id, data) VALUES (1, $1)', [encodeJson(fx.keys('current', ['retired']))]);

    const storage = await open(schema);
    assert.deepEqual(await storage.authRequests.get('auth-request-1'), fx.authRequest(1));
    assert.deepEqual(await storage.getKeys(), fx.keys('current', ['retired']));
    await storage.sessions.create(fx.session(1));
    assert.deepEqual(await storage.sessions.get('session-1'), fx.session(1));
    await storage.close();
    assert.deepEqual(
      (await migrationRows(schema)).map((r) => r.version),
      [1, 2, 3, 4],
    );
    assert.deepEqual(await migratePostgres(migrationConfig(schema), { schema }), [], 'nothing left to apply');
  });

  it('refuses a schema newer than this code, with the same message as SQLite, without touching it', async () => {
    const schema = freshSchema();
    await (await open(schema)).close();
    await inSchema(schema, "INSERT INTO idport_migrations (version, description) VALUES (7, 'from the future')");
    await assert.rejects(open(schema), (err: unknown) => {
      assert.ok(err instanceof SchemaTooNewError);
      assert.equal(
        err.message,
        `database schema version 7 is newer than this idport supports (${postgresSchemaVersion}); upgrade idport`,
      );
      return true;
    });
    assert.deepEqual(
      (await migrationRows(schema)).map((r) => r.version),
      [1, 2, 3, 4, 7],
    );
  });

  it('applies each migration in its own transaction, so a failing one leaves the previous version intact', async () => {
    const schema = freshSchema();
    const failure = new Error('migration 2 failed halfway');
    const migrations: PostgresMigration[] = [
      {
        version: 1,
        description: 'first table',
        up: async (query) => void (await query('CREATE TABLE first (id text)')),
      },
      {
        version: 2,
        description: 'second table, then a failure',
        up: async (query) => {
          await query('CREATE TABLE second (id text)');
          throw failure;
        },
      },
    ];
    await assert.rejects(
      migratePostgres(migrationConfig(schema), { schema, migrations }),
      (err: unknown) => err === failure,
    );
    assert.deepEqual(
      (await migrationRows(schema)).map((r) => r.version),
      [1],
    );
    const tables = await adminQuery<{ tablename: string }>(
      'SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename',
      [schema],
    );
    assert.deepEqual(
      tables.map((t) => t.tablename),
      ['first', 'idport_migrations'],
    );
  });
});

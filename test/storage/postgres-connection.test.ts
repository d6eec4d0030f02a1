/** Dex's postgres keys, the url form and TLS modes, as node-postgres settings. No database needed. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connectionSettings, PostgresConfigError, tlsOptionsOf } from '../../storage/postgres/connection.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-pg-conn-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const pem = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const caFile = pem('ca.pem', 'CA PEM');
const certFile = pem('client.pem', 'CERT PEM');
const keyFile = pem('client.key', 'KEY PEM');

describe('postgres connection settings', () => {
  it("maps Dex's keys and defaults onto the pool, with every wait bounded", () => {
    const { pool, target } = connectionSettings({
      host: 'db.internal',
      port: 5433,
      database: 'idport',
      user: 'idport',
      password: 'pw',
      connectionTimeout: 0,
      maxOpenConns: 10,
      maxIdleConns: 3,
      connMaxLifetime: 600,
      ssl: { mode: 'disable' },
    });
    assert.equal(target, 'db.internal:5433/idport');
    assert.equal(pool.host, 'db.internal');
    assert.equal(pool.port, 5433);
    assert.equal(pool.max, 10);
    assert.equal(pool.min, 3);
    assert.equal(pool.maxLifetimeSeconds, 600);
    // Dex's connectionTimeout 0 would wait forever; idport bounds it.
    assert.equal(pool.connectionTimeoutMillis, 5_000);
    assert.equal(pool.statement_timeout, 5_000);
    assert.equal(pool.query_timeout, 6_000);
    assert.equal(pool.idle_in_transaction_session_timeout, 10_000);
    assert.equal(pool.ssl, false);
  });

  it('takes connectionTimeout in seconds and the statement timeout from the options', () => {
    const { pool } = connectionSettings({
      host: 'db',
      connectionTimeout: 2,
      statementTimeoutMs: 800,
      ssl: { mode: 'disable' },
    });
    assert.equal(pool.connectionTimeoutMillis, 2_000);
    assert.equal(pool.statement_timeout, 800);
    assert.equal(pool.query_timeout, 1_800);
    assert.equal(pool.max, 5);
    assert.equal(pool.min, 5);
  });

  it('gives migrations their own long timeouts, since DDL on a big table may take minutes', () => {
    const { migration } = connectionSettings({ host: 'db', ssl: { mode: 'disable' } });
    assert.equal(migration.statement_timeout, 600_000);
  });

  it('accepts the "host:port" form Dex keeps for backwards compatibility, and socket directories', () => {
    assert.deepEqual(
      [connectionSettings({ host: 'db.internal:6432', ssl: { mode: 'disable' } }).pool].map((p) => [p.host, p.port]),
      [['db.internal', 6432]],
    );
    assert.deepEqual(
      [connectionSettings({ host: '[::1]:6432', ssl: { mode: 'disable' } }).pool].map((p) => [p.host, p.port]),
      [['::1', 6432]],
    );
    assert.equal(
      connectionSettings({ host: '/var/run/postgresql', ssl: { mode: 'disable' } }).pool.host,
      '/var/run/postgresql',
    );
    // As in Dex, a port in host wins over the port key.
    assert.equal(
      connectionSettings({ host: 'db.internal:6432', port: 5432, ssl: { mode: 'disable' } }).pool.port,
      6432,
    );
    assert.equal(connectionSettings({ host: 'db.internal', port: 5433, ssl: { mode: 'disable' } }).pool.port, 5433);
  });

  it('puts the schema into search_path, keeping options already in the url', () => {
    const withSchema = connectionSettings({
      url: 'postgres://u@db/idport?options=-c%20work_mem%3D8MB',
      schema: 'tenant_a',
      ssl: { mode: 'disable' },
    });
    assert.equal(withSchema.pool.options, '-c work_mem=8MB -c search_path=tenant_a');
    assert.equal(withSchema.pool.connectionString, 'postgres://u@db/idport');
    assert.throws(
      () => connectionSettings({ url: 'postgres://db/x', schema: 'Robert"); DROP', ssl: { mode: 'disable' } }),
      PostgresConfigError,
    );
  });

  it('reads sslmode and certificate files from the url, overriding the ssl block, and strips them for the driver', () => {
    const { pool, target } = connectionSettings({
      url: `postgres://idport:pw@db.internal:5432/idport?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}&application_name=x`,
      ssl: { mode: 'disable' },
    });
    assert.equal(target, 'db.internal:5432/idport');
    assert.equal(pool.connectionString, 'postgres://idport:pw@db.internal:5432/idport?application_name=x');
    assert.deepEqual(pool.ssl, { ca: 'CA PEM', rejectUnauthorized: true });
  });

  it('refuses sslmodes that could fall back to plaintext, naming the ones it takes', () => {
    assert.throws(() => connectionSettings({ url: 'postgres://db/x?sslmode=prefer' }), {
      message: 'postgres: unsupported sslmode "prefer" in url (use disable, require, verify-ca, verify-full)',
    });
  });

  it('maps the four sslmodes as libpq (and so Dex) does', () => {
    assert.equal(tlsOptionsOf({ mode: 'disable', caFile }), false);
    assert.deepEqual(tlsOptionsOf({ mode: 'require' }), { rejectUnauthorized: false });
    const requireWithCa = tlsOptionsOf({ mode: 'require', caFile });
    assert.ok(requireWithCa !== false);
    // libpq: require with a root certificate verifies the chain (verify-ca), but not the host name.
    assert.equal(requireWithCa.rejectUnauthorized, true);
    assert.equal(typeof requireWithCa.checkServerIdentity, 'function');
    const verifyCa = tlsOptionsOf({ mode: 'verify-ca', caFile, certFile, keyFile });
    assert.ok(verifyCa !== false);
    assert.deepEqual(
      [verifyCa.ca, verifyCa.cert, verifyCa.key, verifyCa.rejectUnauthorized],
      ['CA PEM', 'CERT PEM', 'KEY PEM', true],
    );
    assert.equal(typeof verifyCa.checkServerIdentity, 'function');
    // verify-full leaves node's host name check in place.
    assert.deepEqual(tlsOptionsOf({ mode: 'verify-full', caFile }), { ca: 'CA PEM', rejectUnauthorized: true });
    assert.deepEqual(tlsOptionsOf({}), { rejectUnauthorized: true });
  });

  it('refuses verify-ca without a CA file, and names an unreadable certificate file', () => {
    assert.throws(() => tlsOptionsOf({ mode: 'verify-ca' }), {
      message: 'postgres: ssl mode verify-ca needs ssl.caFile (or use verify-full)',
    });
    assert.throws(
      () => tlsOptionsOf({ mode: 'verify-full', keyFile: join(dir, 'missing.key') }),
      (err: unknown) => {
        assert.ok(err instanceof PostgresConfigError);
        assert.equal(err.message, `postgres: cannot read ssl.keyFile ${join(dir, 'missing.key')}`);
        return true;
      },
    );
  });
});

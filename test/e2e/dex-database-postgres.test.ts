/**
 * A Dex PostgreSQL schema reused as it is: idport pointed at the schema a running Dex v2.45.1 left behind keeps
 * Dex's signing key and refresh token (same `sub`), and leaves Dex's tables as they were.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { Client } from 'pg';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { start, type Started } from '../server/support.js';
import { DEX, dexRefreshToken, dexRows, dexSigningKey } from '../support/dex-database.js';
import { freshSchema, postgresSkip, requirePostgresUrl } from '../support/postgres.js';

const freePort = async (): Promise<number> =>
  new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/** Runs `use` on a connection whose search_path is `schema`, as Dex's connection would see its tables. */
const inSchema = async <R>(schema: string, use: (client: Client) => Promise<R>): Promise<R> => {
  const client = new Client({ connectionString: requirePostgresUrl(), options: `-c search_path=${schema}` });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
};

describe('a Dex PostgreSQL schema reused as it is', { skip: postgresSkip }, () => {
  let idport: Started;
  let issuer: string;
  let schema: string;

  before(async () => {
    schema = freshSchema('dex');
    const keys = await dexSigningKey();
    await inSchema(schema, async (client) => {
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(readFileSync(new URL('../fixtures/dex/postgres-v2.45.1.sql', import.meta.url), 'utf8'));
      const rows = dexRows(keys, { now: new Date(), time: (date) => date.toISOString(), bool: (v) => String(v) });
      for (const insert of rows) {
        let n = 0;
        await client.query(
          insert.sql.replace(/\?/g, () => `$${++n}`),
          [...insert.params],
        );
      }
    });
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}/dex`;
    const url = new URL(requirePostgresUrl());
    url.searchParams.set('sslmode', 'disable');
    url.searchParams.set('options', `-c search_path=${schema}`);
    idport = await start(`issuer: ${issuer}
storage: {type: postgres, config: {url: "${url.href}"}}
web: {http: 127.0.0.1:${port}}
enablePasswordDB: true
logger: {format: json}
`);
  });
  after(() => idport?.close());

  it("refreshes Dex's refresh token with Dex's sub, signed with Dex's key, and leaves Dex's rows alone", async () => {
    const jwks = (await (await fetch(`${issuer}/keys`)).json()) as { keys: { kid?: string }[] };
    assert.ok(jwks.keys.some((key) => key.kid === DEX.kid));
    const client = await oidc.discovery(new URL(issuer), DEX.clientId, DEX.clientSecret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const tokens = await oidc.refreshTokenGrant(client, dexRefreshToken(DEX.refreshId, DEX.refreshSecret));
    assert.equal(tokens.claims()?.sub, encodeSubject(DEX.userId, 'local'));
    assert.equal(decodeProtectedHeader(tokens.id_token ?? '').kid, DEX.kid);
    const dexToken = await inSchema(
      schema,
      async (c) => (await c.query('select token from refresh_token where id = $1', [DEX.refreshId])).rows,
    );
    assert.deepEqual(dexToken, [{ token: DEX.refreshSecret }]);
    const imported = await inSchema(schema, async (c) => (await c.query('select id from dex_import')).rowCount);
    assert.equal(imported, 1);
  });
});

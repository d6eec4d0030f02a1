/**
 * A Dex SQLite database reused as it is: idport pointed at the file a running Dex v2.45.1 left behind keeps Dex's
 * signing key, client, password user and refresh token, and leaves Dex's tables as they were (a rollback to Dex).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { start, type Started } from '../server/support.js';
import { Browser, loginThroughPages } from '../support/browser.js';
import {
  DEX,
  dexRefreshToken,
  dexRows,
  dexSigningKey,
  dexSqliteSchema,
  goSqliteTime,
} from '../support/dex-database.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-dex-db-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'dex.db');
const REDIRECT = 'http://127.0.0.1:5555/callback';
const DEX_SUB = encodeSubject(DEX.userId, 'local');

const freePort = async (): Promise<number> =>
  new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

const dexTableRows = () => {
  const db = new Database(file, { readonly: true });
  try {
    return {
      refresh: db.prepare('select id, token, last_used from refresh_token').all(),
      keys: db.prepare('select id, signing_key, next_rotation from keys').all(),
      tables: db.prepare("select name from sqlite_master where type = 'table' order by name").pluck().all(),
    };
  } finally {
    db.close();
  }
};

describe('a Dex SQLite database reused as it is', () => {
  let idport: Started;
  let issuer: string;
  let client: oidc.Configuration;
  let yaml: string;
  let dexTablesBefore: ReturnType<typeof dexTableRows>['refresh'];

  before(async () => {
    const db = new Database(file);
    db.exec(dexSqliteSchema());
    // Dex master's extra tables (a Dex newer than v2.45.1 ran here too): present, holding a row, and ignored.
    db.exec(`
      create table user_identity (user_id text not null, connector_id text not null, consents blob not null,
        primary key (user_id, connector_id));
      insert into user_identity values ('${DEX.userId}', 'local', '{}');
      create table auth_session (id text not null primary key, user_id text not null, client_states blob not null);
      insert into auth_session values ('s1', '${DEX.userId}', '{}');
    `);
    const keys = await dexSigningKey();
    for (const insert of dexRows(keys, { now: new Date(), time: goSqliteTime, bool: (v) => (v ? 1 : 0) }))
      db.prepare(insert.sql).run(...insert.params);
    db.close();
    dexTablesBefore = dexTableRows().refresh;
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}/dex`;
    yaml = `issuer: ${issuer}
storage: {type: sqlite3, config: {file: ${file}}}
web: {http: 127.0.0.1:${port}}
enablePasswordDB: true
oauth2: {skipApprovalScreen: true}
logger: {format: json}
`;
    idport = await start(yaml);
    client = await oidc.discovery(new URL(issuer), DEX.clientId, DEX.clientSecret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(() => idport.close());

  it("publishes Dex's signing key and signs new tokens with it until its rotation time", async () => {
    const jwks = (await (await fetch(`${issuer}/keys`)).json()) as { keys: { kid?: string }[] };
    assert.ok(jwks.keys.some((key) => key.kid === DEX.kid));
  });

  it("refreshes a refresh token Dex handed out, with Dex's sub, then continues as idport's rotation", async () => {
    const tokens = await oidc.refreshTokenGrant(client, dexRefreshToken(DEX.refreshId, DEX.refreshSecret));
    assert.equal(tokens.claims()?.sub, DEX_SUB);
    assert.equal(tokens.claims()?.email, DEX.email);
    assert.equal(decodeProtectedHeader(tokens.id_token ?? '').kid, DEX.kid);
    assert.ok(tokens.refresh_token);
    const again = await oidc.refreshTokenGrant(client, tokens.refresh_token);
    assert.equal(again.claims()?.sub, DEX_SUB);
  });

  it('refreshes a raw refresh id from before Dex stored tokens, as Dex reads a token that does not decode', async () => {
    const tokens = await oidc.refreshTokenGrant(client, DEX.legacyRefreshId);
    assert.equal(tokens.claims()?.sub, DEX_SUB);
  });

  it('refuses a Dex token with a wrong secret, and a raw id whose token is not empty', async () => {
    for (const token of [dexRefreshToken(DEX.refreshId, 'guessed'), DEX.refreshId]) {
      await assert.rejects(oidc.refreshTokenGrant(client, token), (err: unknown) => {
        assert.ok(err instanceof oidc.ResponseBodyError);
        assert.equal(err.error, 'invalid_grant');
        return true;
      });
    }
  });

  it("logs Dex's password user in through openid-client with the same sub", async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st',
    });
    const callback = await loginThroughPages(new Browser(), url, REDIRECT, {
      login: DEX.email,
      password: DEX.password,
    });
    const tokens = await oidc.authorizationCodeGrant(client, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedState: 'st',
    });
    assert.equal(tokens.claims()?.sub, DEX_SUB);
  });

  it("leaves Dex's tables as they were, so Dex can be started on the file again", () => {
    const now = dexTableRows();
    assert.deepEqual(now.refresh, dexTablesBefore);
    assert.equal(now.keys.length, 1);
    assert.ok(now.tables.includes('signing_keys') && now.tables.includes('keys') && now.tables.includes('dex_import'));
    assert.ok(now.tables.includes('user_identity') && now.tables.includes('auth_session'));
  });

  it('imports once: a restart keeps what idport changed since', async () => {
    const first = await oidc
      .refreshTokenGrant(client, dexRefreshToken(DEX.refreshId, DEX.refreshSecret))
      .catch((err: unknown) => err);
    // The Dex token was rotated above and reused after the reuse interval would revoke; either way it is spent.
    assert.ok(first instanceof oidc.ResponseBodyError);
    await idport.close();
    idport = await start(yaml);
    await assert.rejects(oidc.refreshTokenGrant(client, dexRefreshToken(DEX.refreshId, DEX.refreshSecret)));
  });
});

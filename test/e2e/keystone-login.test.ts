/**
 * Keystone login end to end: idport started from Dex's documented `keystone` example (keystoneHost
 * pointed at a fake Keystone on loopback), the Browser on idport's password page, openid-client as the
 * application; refresh through the admin account until the user is deleted in Keystone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser, formsOf } from '../support/browser.js';
import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import { type FakeKeystone, startFakeKeystone } from '../support/fake-keystone.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';
const USER_ID = 'a7f0b5d3c2e14f6b9d8e7c6b5a4f3e2d';
const ALICE = {
  id: USER_ID,
  name: 'alice',
  password: 'alice-pass',
  domainId: 'default',
  email: 'alice@example.com',
  groups: ['devs'],
};

describe('Keystone login through idport', () => {
  let keystone: FakeKeystone;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    keystone = await startFakeKeystone({
      domains: { default: 'Default' },
      users: [ALICE, { id: 'ad01', name: 'demo', password: 'DEMO_PASS', domainId: 'default', groups: [], admin: true }],
    });
    idport = await startFromConfig(
      `issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['${REDIRECT}']
connectors:
  - type: keystone
    id: keystone
    name: Keystone
    config:
      keystoneHost: ${keystone.origin}
      domain: default
      keystoneUsername: demo
      keystonePassword: DEMO_PASS
`,
    );
    app = await oidc.discovery(new URL(idport.issuer), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await idport?.close();
    await keystone?.close();
  });

  const login = async (password: string) => {
    const browser = new Browser();
    const url = oidc.buildAuthorizationUrl(app, {
      redirect_uri: REDIRECT,
      scope: 'openid email profile groups offline_access',
      state: 'st',
    });
    const first = await browser.follow(url.href, REDIRECT);
    const [form] = formsOf(first.page);
    assert.ok(form, 'the single connector leads straight to the password page');
    assert.match(first.page.body, /username/i);
    return browser.submit(form, { login: 'alice', password }, REDIRECT);
  };

  it("issues Dex's sub for Keystone's user id, group names, and refreshes until the user is deleted", async () => {
    const result = await login('alice-pass');
    assert.ok(result.location, `redirected to the client (got status ${result.page.status})`);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(result.location), { expectedState: 'st' });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'app',
    });
    // base64url of protobuf { user_id: "a7f0b5d3…", conn_id: "keystone" }.
    assert.equal(payload.sub, 'CiBhN2YwYjVkM2MyZTE0ZjZiOWQ4ZTdjNmI1YTRmM2UyZBIIa2V5c3RvbmU');
    assert.equal(payload.name, 'alice');
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.email_verified, true);
    assert.deepEqual(payload.groups, ['devs']);

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, payload.sub);

    keystone.deleteUser(USER_ID);
    await assert.rejects(oidc.refreshTokenGrant(app, refreshed.refresh_token ?? ''), (err: unknown) => {
      assert.ok(err instanceof oidc.ResponseBodyError);
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
    keystone.setUser(ALICE);
  });

  it('shows the password page again with status 401 for a wrong password', async () => {
    const result = await login('not-her-password');
    assert.equal(result.location, undefined);
    assert.equal(result.page.status, 401);
    assert.match(result.page.body, /Invalid username or password/);
  });
});

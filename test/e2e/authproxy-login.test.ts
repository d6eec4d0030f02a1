/**
 * AuthProxy login end to end: an authenticating reverse proxy (test/support/auth-proxy.ts) in front of
 * idport guards `<issuer>/callback/authproxy` and sets the user's headers there; openid-client is the
 * application. The same headers sent by a client anywhere else, or for a login started with another
 * connector, must not log anybody in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.js';
import { type AuthProxy, startAuthProxy } from '../support/auth-proxy.js';
import { freePort, startFromConfig, type ConfigServer } from '../support/config-server.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';
const IDENTITY_HEADERS = [
  'X-Remote-User',
  'X-Remote-User-Id',
  'X-Remote-User-Name',
  'X-Remote-User-Email',
  'X-Remote-Group',
];
/** What an attacker sends directly: a full set of identity headers naming the admin. */
const SPOOFED = {
  'X-Remote-User': 'admin',
  'X-Remote-User-Id': 'admin-id',
  'X-Remote-User-Email': 'admin@example.com',
  'X-Remote-Group': 'admins',
};

describe('AuthProxy login through idport', () => {
  let proxy: AuthProxy;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    // The issuer is the proxy's address: browsers and the application only ever talk to the proxy.
    const proxyPort = await freePort();
    proxy = await startAuthProxy({
      port: proxyPort,
      guardedPath: '/dex/callback/authproxy',
      identityHeaders: IDENTITY_HEADERS,
    });
    idport = await startFromConfig(
      `issuer: http://127.0.0.1:${proxyPort}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['${REDIRECT}']
connectors:
- type: authproxy
  id: authproxy
  name: Corporate login
  config:
    groupHeaderSeparator: ';'
    staticGroups: [employees]
- type: mockCallback
  id: mock
  name: Mock
`,
    );
    proxy.setTarget(idport.port);
    app = await oidc.discovery(new URL(`${proxy.origin}/dex`), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await idport?.close();
    await proxy?.close();
  });

  const authUrl = (connectorId: string, scope = 'openid email profile groups offline_access'): string =>
    oidc.buildAuthorizationUrl(app, { redirect_uri: REDIRECT, scope, state: 'st', connector_id: connectorId }).href;

  /** Starts a login with `connectorId` and returns the browser and the auth request id (the `state` idport uses). */
  const startLogin = async (connectorId: string): Promise<{ browser: Browser; req: string }> => {
    const browser = new Browser();
    const first = await browser.request(authUrl(connectorId));
    const toConnector = new URL(first.headers.get('location') ?? '', first.url);
    const req = toConnector.searchParams.get('req');
    assert.ok(req, `redirected to the connector: ${toConnector.href}`);
    return { browser, req };
  };

  it("logs in the user the proxy names, with Dex's sub, header then static groups, and no refresh token", async () => {
    proxy.signIn({
      'x-remote-user': 'jdoe',
      'x-remote-user-id': 'jdoe-42',
      'x-remote-user-name': 'John Doe',
      'x-remote-user-email': 'john.doe@example.com',
      'x-remote-group': 'dev ; ops',
    });
    const browser = new Browser();
    // The client's own attempt to name another user on the guarded path is overwritten by the proxy.
    const step = await browser.follow(authUrl('authproxy'), REDIRECT);
    assert.ok(step.location, `the login ended at the application (last page ${step.page.url}: ${step.page.status})`);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(step.location), { expectedState: 'st' });
    const { payload } = await jwtVerify(
      tokens.id_token ?? '',
      createRemoteJWKSet(new URL(`${proxy.origin}/dex/keys`)),
      {
        issuer: `${proxy.origin}/dex`,
        audience: 'app',
      },
    );
    assert.equal(
      payload.sub,
      'CgdqZG9lLTQyEglhdXRocHJveHk',
      'base64url of protobuf {user_id: "jdoe-42", conn_id: "authproxy"}',
    );
    assert.equal(payload.name, 'jdoe');
    assert.equal(payload.preferred_username, 'John Doe');
    assert.equal(payload.email, 'john.doe@example.com');
    assert.equal(payload.email_verified, true);
    assert.deepEqual(payload.groups, ['dev', 'ops', 'employees']);
    assert.equal(tokens.refresh_token, undefined, 'Dex has no refresh for authproxy');
  });

  it('falls back to X-Remote-User for the id, name and email, as Dex does', async () => {
    proxy.signIn({ 'x-remote-user': 'alice@example.com' });
    const step = await new Browser().follow(authUrl('authproxy', 'openid email profile groups'), REDIRECT);
    assert.ok(step.location);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(step.location), { expectedState: 'st' });
    const claims = tokens.claims();
    assert.equal(claims?.email, 'alice@example.com');
    assert.equal(claims?.preferred_username, 'alice@example.com');
    assert.deepEqual(claims?.groups, ['employees']);
  });

  it('shows an error page when the proxy lets a request through without the user header', async () => {
    proxy.signIn({ 'x-remote-group': 'dev' });
    const step = await new Browser().follow(authUrl('authproxy'), REDIRECT);
    assert.equal(step.location, undefined);
    assert.equal(step.page.status, 502);
    assert.match(step.page.body, /authenticating proxy did not say who you are/);
  });

  it('ignores identity headers at GET <issuer>/callback without the connector id', async () => {
    const { browser, req } = await startLogin('authproxy');
    await browser.request(`${proxy.origin}/dex/auth/authproxy?req=${encodeURIComponent(req)}`);
    const page = await browser.request(`${proxy.origin}/dex/callback?state=${encodeURIComponent(req)}`, {
      headers: SPOOFED,
    });
    assert.equal(page.status, 502);
    assert.equal(page.headers.get('location'), null);
    assert.match(page.body, /authenticating proxy did not say who you are/);
  });

  it('ignores identity headers for a login started with another connector', async () => {
    proxy.signIn({ 'x-remote-user': 'admin' });
    const { browser, req } = await startLogin('mock');
    // The guarded path with the proxy's headers, but the login belongs to the mock connector: refused.
    const wrongPath = await browser.request(`${proxy.origin}/dex/callback/authproxy?state=${encodeURIComponent(req)}`);
    assert.equal(wrongPath.headers.get('location'), null);
    assert.match(wrongPath.body, /belongs to another connector/);
    // Its own callback with the headers sent along: the mock connector's user, not the headers'.
    const own = await browser.follow(`${proxy.origin}/dex/callback/mock?state=${encodeURIComponent(req)}`, REDIRECT);
    assert.ok(own.location);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(own.location), { expectedState: 'st' });
    assert.equal(tokens.claims()?.email, 'kilgore@kilgore.trout');
  });

  it('ignores identity headers on every other route', async () => {
    const browser = new Browser();
    // /auth with the headers still asks which connector to use, and the connector route still redirects.
    const choose = await browser.request(
      oidc.buildAuthorizationUrl(app, { redirect_uri: REDIRECT, scope: 'openid', state: 'st' }).href,
      { headers: SPOOFED },
    );
    assert.equal(choose.status, 200);
    assert.match(choose.body, /Corporate login/);
    for (const path of ['/dex/userinfo', '/dex/token/introspect']) {
      const response = await fetch(`${proxy.origin}${path}`, { method: 'POST', headers: SPOOFED });
      assert.ok(response.status === 400 || response.status === 401, `${path}: ${response.status}`);
    }
    const token = await fetch(`${proxy.origin}/dex/token`, {
      method: 'POST',
      headers: { ...SPOOFED, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=admin&password=x&client_id=app&client_secret=app-secret&scope=openid',
    });
    assert.equal(token.status >= 400, true);
    assert.equal(((await token.json()) as { access_token?: string }).access_token, undefined);
  });
});

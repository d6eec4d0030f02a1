/**
 * Generic OAuth 2.0 login end to end: idport started from Dex's documented `oauth` example (pointed
 * at a fake provider on loopback), openid-client as the application, the Browser following
 * idport → provider → idport → application. Dex gives this connector no refresh, so neither does idport.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.js';
import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import { type FakeOAuth2, startFakeOAuth2 } from '../support/fake-oauth2.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';

describe('generic OAuth 2.0 login through idport', () => {
  let provider: FakeOAuth2;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    provider = await startFakeOAuth2({
      firstLogin: 'jane',
      authorizePath: '/api/v1/authorize',
      tokenPath: '/api/v1/access_token',
      resources: ({ path, login }) => {
        if (path !== '/api/v1/me') return undefined;
        if (login === undefined) return { status: 401, body: { message: 'Unauthorized', error: 401 } };
        if (login === 'broken') return { status: 200, body: { name: 'no id member' } };
        return {
          status: 200,
          body: { id: 12345678, name: 'jane', email: 'jane@example.com', verified: true, groups: ['mods', 'users'] },
        };
      },
    });
    // Dex's documented example (Reddit), with the URLs pointed at the fake and the optional mapping filled in.
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
- type: oauth
  id: reddit
  name: reddit
  config:
    clientID: $REDDIT_CLIENT_ID
    clientSecret: $REDDIT_CLIENT_SECRET
    redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
    tokenURL: ${provider.origin}/api/v1/access_token
    authorizationURL: ${provider.origin}/api/v1/authorize
    userInfoURL: ${provider.origin}/api/v1/me
    scopes:
    - identity
    claimMapping:
      userNameKey: name
      preferredUsernameKey: name
      emailVerifiedKey: verified
`,
      { env: { REDDIT_CLIENT_ID: provider.clientId, REDDIT_CLIENT_SECRET: provider.clientSecret } },
    );
    app = await oidc.discovery(new URL(idport.issuer), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await idport?.close();
    await provider?.close();
  });

  const start = (scope: string): string =>
    oidc.buildAuthorizationUrl(app, { redirect_uri: REDIRECT, scope, state: 'st' }).href;

  it("issues Dex's sub for a numeric id formatted as Go's %v, with groups, and no refresh token", async () => {
    provider.loginAs('jane');
    const step = await new Browser().follow(start('openid email profile groups offline_access'), REDIRECT);
    assert.ok(step.location, `the login ended at the application (last page ${step.page.url}: ${step.page.status})`);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(step.location), { expectedState: 'st' });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'app',
    });
    // base64url of the protobuf { user_id: "1.2345678e+07", conn_id: "reddit" }: the sub Dex issued this user.
    assert.equal(payload.sub, 'Cg0xLjIzNDU2NzhlKzA3EgZyZWRkaXQ');
    assert.equal(payload.name, 'jane');
    assert.equal(payload.preferred_username, 'jane');
    assert.equal(payload.email, 'jane@example.com');
    assert.equal(payload.email_verified, true);
    assert.deepEqual(payload.groups, ['mods', 'users']);
    assert.equal(tokens.refresh_token, undefined, 'Dex has no refresh for the oauth connector');
    assert.ok(provider.requests.some((r) => r.path === '/api/v1/authorize' && r.query.get('scope') === 'identity'));
  });

  it('shows an error page, not a code, when the user denies access or the userinfo has no id', async () => {
    for (const login of ['deny', 'broken']) {
      provider.loginAs(login);
      const step = await new Browser().follow(start('openid email'), REDIRECT);
      assert.equal(step.location, undefined, login);
      assert.ok(step.page.status >= 400, `${login}: ${step.page.status}`);
      assert.match(step.page.body, /identity provider could not complete the login/);
    }
  });
});

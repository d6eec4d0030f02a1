/**
 * Atlassian Crowd login end to end: idport started from Dex's documented `atlassian-crowd` example
 * (baseURL pointed at a fake Crowd on loopback), the Browser on idport's password page, openid-client as
 * the application; refresh until the user is removed from Crowd.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser, formsOf } from '../support/browser.js';
import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import { type FakeCrowd, startFakeCrowd } from '../support/fake-crowd.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';

describe('Atlassian Crowd login through idport', () => {
  let crowd: FakeCrowd;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    crowd = await startFakeCrowd({
      users: [
        {
          key: '8a3c2f1e-crowd-key-0001',
          name: 'jane',
          password: 'jane-pass',
          email: 'jane@example.com',
          groups: ['jira-users', 'my-group'],
        },
        {
          key: 'outsider-key',
          name: 'outsider',
          password: 'outsider-pass',
          email: 'o@example.com',
          groups: ['jira-users'],
        },
      ],
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
- type: atlassian-crowd
  id: crowd
  name: Crowd
  config:
    baseURL: ${crowd.baseURL}
    clientID: $ATLASSIAN_CROWD_APPLICATION_ID
    clientSecret: $ATLASSIAN_CROWD_CLIENT_SECRET
    groups:
    - my-group
    usernamePrompt: Login
    preferredUsernameField: name
`,
      { env: { ATLASSIAN_CROWD_APPLICATION_ID: crowd.appName, ATLASSIAN_CROWD_CLIENT_SECRET: crowd.appPassword } },
    );
    app = await oidc.discovery(new URL(idport.issuer), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await idport?.close();
    await crowd?.close();
  });

  const login = async (username: string, password: string) => {
    const browser = new Browser();
    const url = oidc.buildAuthorizationUrl(app, {
      redirect_uri: REDIRECT,
      scope: 'openid email profile groups offline_access',
      state: 'st',
    });
    const first = await browser.follow(url.href, REDIRECT);
    const [form] = formsOf(first.page);
    assert.ok(form, 'the single connector leads straight to the password page');
    assert.match(first.page.body, /Login/);
    return browser.submit(form, { login: username, password }, REDIRECT);
  };

  it("issues Dex's sub for the Crowd user key, the allowed groups, and refreshes until the user is removed", async () => {
    const result = await login('jane', 'jane-pass');
    assert.ok(result.location, `redirected to the client (got status ${result.page.status})`);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(result.location), { expectedState: 'st' });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'app',
    });
    // base64url of protobuf { user_id: "8a3c2f1e-crowd-key-0001", conn_id: "crowd" }.
    assert.equal(payload.sub, 'Chc4YTNjMmYxZS1jcm93ZC1rZXktMDAwMRIFY3Jvd2Q');
    assert.equal(payload.name, 'jane');
    assert.equal(payload.preferred_username, 'jane');
    assert.equal(payload.email, 'jane@example.com');
    assert.deepEqual(payload.groups, ['my-group']);

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, payload.sub);

    crowd.deleteUser('jane');
    await assert.rejects(oidc.refreshTokenGrant(app, refreshed.refresh_token ?? ''), (err: unknown) => {
      assert.ok(err instanceof oidc.ResponseBodyError);
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
  });

  it('refuses a user outside the configured groups with an error page, and a wrong password with the form', async () => {
    const outsider = await login('outsider', 'outsider-pass');
    assert.equal(outsider.location, undefined);
    assert.equal(outsider.page.status, 502);
    assert.match(outsider.page.body, /not in a group allowed to log in here/);
    const wrong = await login('outsider', 'wrong');
    assert.equal(wrong.location, undefined);
    assert.equal(wrong.page.status, 401);
  });
});

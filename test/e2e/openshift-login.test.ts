/**
 * OpenShift login end to end: idport started from Dex's documented `openshift` example (issuer pointed
 * at a fake cluster on loopback), openid-client as the application, the Browser following
 * idport → OpenShift OAuth server → idport → application; refresh until the user is deleted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.js';
import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import { type FakeOpenshift, startFakeOpenshift } from '../support/fake-openshift.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';

describe('OpenShift login through idport', () => {
  let cluster: FakeOpenshift;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    cluster = await startFakeOpenshift({
      users: [
        { name: 'jdoe', uid: '9f2d1c34-5b6a-4e7f-8a9b-0c1d2e3f4a5b', groups: ['users', 'cluster-admins'] },
        { name: 'visitor', uid: 'c0c0c0c0-0000-4000-8000-000000000002', groups: ['guests'] },
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
  - type: openshift
    id: openshift
    name: OpenShift
    config:
      issuer: ${cluster.origin}
      clientID: $OPENSHIFT_OAUTH_CLIENT_ID
      clientSecret: $OPENSHIFT_OAUTH_CLIENT_SECRET
      redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
      insecureCA: false
      groups:
        - users
`,
      { env: { OPENSHIFT_OAUTH_CLIENT_ID: cluster.clientId, OPENSHIFT_OAUTH_CLIENT_SECRET: cluster.clientSecret } },
    );
    app = await oidc.discovery(new URL(idport.issuer), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await idport?.close();
    await cluster?.close();
  });

  const start = (scope: string): string =>
    oidc.buildAuthorizationUrl(app, { redirect_uri: REDIRECT, scope, state: 'st' }).href;

  it("issues Dex's sub for the User's uid, all its groups, and refreshes until the user is deleted", async () => {
    cluster.loginAs('jdoe');
    const step = await new Browser().follow(start('openid email profile groups offline_access'), REDIRECT);
    assert.ok(step.location, `the login ended at the application (last page ${step.page.url}: ${step.page.status})`);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(step.location), { expectedState: 'st' });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'app',
    });
    // base64url of protobuf { user_id: "9f2d1c34-…", conn_id: "openshift" }.
    assert.equal(payload.sub, 'CiQ5ZjJkMWMzNC01YjZhLTRlN2YtOGE5Yi0wYzFkMmUzZjRhNWISCW9wZW5zaGlmdA');
    assert.equal(payload.name, 'jdoe');
    assert.equal(payload.preferred_username, 'jdoe');
    assert.equal(payload.email, 'jdoe');
    assert.equal(payload.email_verified, false);
    assert.deepEqual(payload.groups, ['users', 'cluster-admins']);

    cluster.setUser({ name: 'jdoe', uid: '9f2d1c34-5b6a-4e7f-8a9b-0c1d2e3f4a5b', groups: ['users', 'sre'] });
    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, payload.sub);
    assert.deepEqual(refreshed.claims()?.groups, ['users', 'sre']);

    cluster.deleteUser('jdoe');
    await assert.rejects(oidc.refreshTokenGrant(app, refreshed.refresh_token ?? ''), (err: unknown) => {
      assert.ok(err instanceof oidc.ResponseBodyError);
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
  });

  it('refuses a user outside the required groups with an error page, not a redirect to the app', async () => {
    cluster.loginAs('visitor');
    const step = await new Browser().follow(start('openid email'), REDIRECT);
    assert.equal(step.location, undefined);
    assert.equal(step.page.status, 502);
    assert.match(step.page.body, /not in a group allowed to log in here/);
  });
});

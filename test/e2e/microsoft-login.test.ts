/**
 * Microsoft login end to end: idport started from Dex's documented `microsoft` config (tenant and
 * groups), with apiURL and graphURL pointed at the fake identity platform and Graph, openid-client as
 * the application and the Browser following idport → Microsoft → idport → application.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import * as oidc from 'openid-client';

import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import {
  APP_CLIENT_YAML,
  discoverApp,
  loginThroughIdport,
  mustLogin,
  refreshRefused,
} from '../support/downstream-app.js';
import { type FakeMicrosoft, startFakeMicrosoft } from '../support/fake-microsoft.js';

describe('Microsoft login through idport', () => {
  let microsoft: FakeMicrosoft;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    microsoft = await startFakeMicrosoft({
      tenant: 'myorg.onmicrosoft.com',
      users: [
        {
          id: '8f2c5d4e-1b3a-4c6d-9e8f-0a1b2c3d4e5f',
          displayName: 'Ada Lovelace',
          userPrincipalName: 'Ada@MyOrg.onmicrosoft.com',
          mailNickname: 'ada',
          groups: [
            { id: 'g-1', displayName: 'developers', securityEnabled: true },
            { id: 'g-2', displayName: 'devops', securityEnabled: true },
            { id: 'g-3', displayName: 'All Company', securityEnabled: false },
          ],
        },
        {
          id: '00000000-0000-0000-0000-000000000099',
          displayName: 'Mallory',
          userPrincipalName: 'mallory@myorg.onmicrosoft.com',
          mailNickname: 'mallory',
          groups: [{ id: 'g-9', displayName: 'sales', securityEnabled: true }],
        },
      ],
    });
    // Dex's documented example (groups, emailToLowercase), plus apiURL and graphURL for the fake.
    idport = await startFromConfig(
      `issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
${APP_CLIENT_YAML}connectors:
  - type: microsoft
    id: microsoft
    name: Microsoft
    config:
      clientID: $MICROSOFT_APPLICATION_ID
      clientSecret: $MICROSOFT_CLIENT_SECRET
      redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
      tenant: myorg.onmicrosoft.com
      groups:
        - developers
        - devops
      emailToLowercase: true
      apiURL: ${microsoft.origin}
      graphURL: ${microsoft.origin}
`,
      { env: { MICROSOFT_APPLICATION_ID: microsoft.clientId, MICROSOFT_CLIENT_SECRET: microsoft.clientSecret } },
    );
    app = await discoverApp(idport);
  });
  after(async () => {
    await idport?.close();
    await microsoft?.close();
  });

  it("issues Dex's sub for the Graph object id, the user's groups, and refreshes until the token is revoked", async () => {
    microsoft.loginAs('Ada@MyOrg.onmicrosoft.com');
    const { tokens, claims } = await mustLogin(app, idport, 'openid email profile groups offline_access');
    assert.equal(claims.sub, 'CiQ4ZjJjNWQ0ZS0xYjNhLTRjNmQtOWU4Zi0wYTFiMmMzZDRlNWYSCW1pY3Jvc29mdA');
    assert.equal(claims.name, 'Ada Lovelace');
    assert.equal(claims.email, 'ada@myorg.onmicrosoft.com');
    assert.equal(claims.email_verified, true);
    assert.deepEqual(claims.groups, ['developers', 'devops', 'All Company']);

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, claims.sub);
    assert.deepEqual(refreshed.claims()?.groups, ['developers', 'devops', 'All Company']);
    assert.ok(refreshed.refresh_token);

    assert.ok(microsoft.revokeTokens('Ada@MyOrg.onmicrosoft.com') > 0);
    await refreshRefused(app, refreshed.refresh_token);
  });

  it('refuses a user in none of the configured groups with an error page', async () => {
    microsoft.loginAs('mallory@myorg.onmicrosoft.com');
    const result = await loginThroughIdport(app, idport, 'openid email');
    assert.equal(result.login, undefined);
    assert.equal(result.page?.status, 502);
    assert.match(result.page?.body ?? '', /not in a group allowed to log in here/);
  });
});

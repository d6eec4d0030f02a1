/**
 * Bitbucket Cloud login end to end: idport started from Dex's documented `bitbucket-cloud` config (teams,
 * the deprecated includeTeamGroups) with baseURL and apiURL pointed at the fake Bitbucket, openid-client
 * as the application and the Browser following idport → Bitbucket → idport → application.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import * as oidc from 'openid-client';

import { freePort, startFromConfig, type ConfigServer } from '../support/config-server.js';
import {
  APP_CLIENT_YAML,
  discoverApp,
  loginThroughIdport,
  mustLogin,
  refreshRefused,
} from '../support/downstream-app.js';
import { type FakeBitbucket, startFakeBitbucket } from '../support/fake-bitbucket.js';

describe('Bitbucket Cloud login through idport', () => {
  let bitbucket: FakeBitbucket;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    bitbucket = await startFakeBitbucket({
      users: [
        {
          uuid: '{e5a4f4b2-1c3d-4e5f-8a9b-0c1d2e3f4a5b}',
          username: 'alice',
          emails: [{ email: 'alice@example.com', isPrimary: true, isConfirmed: true }],
          workspaces: { 'my-team': 'member', 'side-project': 'owner', third: 'collaborator' },
        },
        {
          uuid: '{00000000-0000-0000-0000-000000000009}',
          username: 'eve',
          emails: [{ email: 'eve@example.com', isPrimary: true, isConfirmed: true }],
          workspaces: { elsewhere: 'owner' },
        },
      ],
    });
    const port = await freePort();
    // Bitbucket returns to the consumer's registered callback URL: idport's.
    bitbucket.registerCallback(`http://127.0.0.1:${port}/dex/callback`);
    // Dex's documented example, with baseURL and apiURL pointed at the fake.
    idport = await startFromConfig(
      `issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
${APP_CLIENT_YAML}connectors:
- type: bitbucket-cloud
  id: bitbucket-cloud
  name: Bitbucket Cloud
  config:
    clientID: $BITBUCKET_CLIENT_ID
    clientSecret: $BITBUCKET_CLIENT_SECRET
    redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
    teams:
    - my-team
    includeTeamGroups: true
    baseURL: ${bitbucket.origin}
    apiURL: ${bitbucket.apiURL}
`,
      { port, env: { BITBUCKET_CLIENT_ID: bitbucket.clientId, BITBUCKET_CLIENT_SECRET: bitbucket.clientSecret } },
    );
    app = await discoverApp(idport);
  });
  after(async () => {
    await idport?.close();
    await bitbucket?.close();
  });

  it("issues Dex's sub for the {uuid}, the allowed workspaces, and refreshes until Bitbucket revokes", async () => {
    bitbucket.loginAs('alice');
    const { tokens, claims } = await mustLogin(app, idport, 'openid email profile groups offline_access');
    assert.equal(claims.sub, 'CiZ7ZTVhNGY0YjItMWMzZC00ZTVmLThhOWItMGMxZDJlM2Y0YTVifRIPYml0YnVja2V0LWNsb3Vk');
    assert.equal(claims.name, 'alice');
    assert.equal(claims.email, 'alice@example.com');
    assert.deepEqual(claims.groups, ['my-team']);

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, claims.sub);
    assert.deepEqual(refreshed.claims()?.groups, ['my-team']);

    assert.ok(bitbucket.revokeTokens('alice') > 0);
    await refreshRefused(app, refreshed.refresh_token ?? '');
  });

  it('refuses a user outside the configured teams with an error page', async () => {
    bitbucket.loginAs('eve');
    const result = await loginThroughIdport(app, idport, 'openid email');
    assert.equal(result.login, undefined);
    assert.equal(result.page?.status, 502);
    assert.match(result.page?.body ?? '', /not in a workspace allowed to log in here/);
  });
});

/**
 * Gitea login end to end: idport started from Dex's documented `gitea` config with baseURL pointed at
 * the fake Gitea, openid-client as the application and the Browser following idport → Gitea → idport →
 * application.
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
import { type FakeGitea, startFakeGitea } from '../support/fake-gitea.js';

describe('Gitea login through idport', () => {
  let gitea: FakeGitea;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    gitea = await startFakeGitea({
      pageSize: 2,
      users: [
        {
          id: 3,
          login: 'tea',
          fullName: 'Tea Drinker',
          email: 'tea@example.com',
          teams: [
            { org: 'acme', team: 'devs' },
            { org: 'acme', team: 'Owners' },
            { org: 'globex', team: 'research' },
          ],
        },
        {
          id: 4,
          login: 'visitor',
          fullName: 'Visitor',
          email: 'visitor@example.com',
          teams: [{ org: 'umbrella', team: 'x' }],
        },
      ],
    });
    // Dex's documented example, with baseURL pointed at the fake and orgs to gate the login.
    idport = await startFromConfig(
      `issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
${APP_CLIENT_YAML}connectors:
- type: gitea
  id: gitea
  name: Gitea
  config:
    clientID: $GITEA_CLIENT_ID
    clientSecret: $GITEA_CLIENT_SECRET
    redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
    baseURL: ${gitea.origin}
    orgs:
    - name: acme
      teams: [devs]
`,
      { env: { GITEA_CLIENT_ID: gitea.clientId, GITEA_CLIENT_SECRET: gitea.clientSecret } },
    );
    app = await discoverApp(idport);
  });
  after(async () => {
    await idport?.close();
    await gitea?.close();
  });

  it("issues Dex's sub for the numeric id, org and team groups, and refreshes until Gitea revokes", async () => {
    gitea.loginAs('tea');
    const { tokens, claims } = await mustLogin(app, idport, 'openid email profile groups offline_access');
    assert.equal(claims.sub, 'CgEzEgVnaXRlYQ');
    assert.equal(claims.name, 'Tea Drinker');
    assert.equal(claims.preferred_username, 'tea');
    assert.equal(claims.email, 'tea@example.com');
    assert.deepEqual(claims.groups, ['acme', 'acme:devs']);

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, claims.sub);
    assert.deepEqual(refreshed.claims()?.groups, ['acme', 'acme:devs']);

    assert.ok(gitea.revokeTokens('tea') > 0);
    await refreshRefused(app, refreshed.refresh_token ?? '');
  });

  it('refuses a user outside the configured groups with an error page', async () => {
    gitea.loginAs('visitor');
    const result = await loginThroughIdport(app, idport, 'openid email');
    assert.equal(result.login, undefined);
    assert.equal(result.page?.status, 502);
    assert.match(result.page?.body ?? '', /not in an organization or team allowed to log in here/);
  });
});

/**
 * GitLab login end to end: idport started from Dex's documented `gitlab` config with baseURL pointed at
 * the fake GitLab, openid-client as the application and the Browser following idport → GitLab → idport →
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
import { type FakeGitlab, startFakeGitlab } from '../support/fake-gitlab.js';

describe('GitLab login through idport', () => {
  let gitlab: FakeGitlab;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    gitlab = await startFakeGitlab({
      users: [
        {
          id: 15,
          username: 'tanuki',
          name: 'Tanuki',
          email: 'tanuki@example.com',
          groups: [
            { id: 1, fullPath: 'my-group', accessLevel: 40, direct: true },
            { id: 2, fullPath: 'other-group', accessLevel: 30, direct: true },
          ],
        },
        { id: 16, username: 'visitor', name: 'Visitor', email: 'visitor@example.com', groups: [] },
      ],
    });
    // Dex's documented example, with baseURL pointed at the fake.
    idport = await startFromConfig(
      `issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
${APP_CLIENT_YAML}connectors:
  - type: gitlab
    id: gitlab
    name: GitLab
    config:
      baseURL: ${gitlab.origin}
      clientID: $GITLAB_APPLICATION_ID
      clientSecret: $GITLAB_CLIENT_SECRET
      redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
      groups:
      - my-group
      useLoginAsID: false
      getGroupsPermission: false
`,
      { env: { GITLAB_APPLICATION_ID: gitlab.clientId, GITLAB_CLIENT_SECRET: gitlab.clientSecret } },
    );
    app = await discoverApp(idport);
  });
  after(async () => {
    await idport?.close();
    await gitlab?.close();
  });

  it("issues Dex's sub for the numeric id, the allowed groups, and refreshes until GitLab revokes", async () => {
    gitlab.loginAs('tanuki');
    const { tokens, claims } = await mustLogin(app, idport, 'openid email profile groups offline_access');
    assert.equal(claims.sub, 'CgIxNRIGZ2l0bGFi');
    assert.equal(claims.name, 'Tanuki');
    assert.equal(claims.preferred_username, 'tanuki');
    assert.equal(claims.email, 'tanuki@example.com');
    assert.deepEqual(claims.groups, ['my-group']);

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, claims.sub);
    assert.deepEqual(refreshed.claims()?.groups, ['my-group']);

    assert.ok(gitlab.revokeTokens('tanuki') > 0);
    await refreshRefused(app, refreshed.refresh_token ?? '');
  });

  it('refuses a user outside the configured groups with an error page', async () => {
    gitlab.loginAs('visitor');
    const result = await loginThroughIdport(app, idport, 'openid email');
    assert.equal(result.login, undefined);
    assert.equal(result.page?.status, 502);
    assert.match(result.page?.body ?? '', /not in a group allowed to log in here/);
  });
});

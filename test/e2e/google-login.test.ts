/**
 * Google login end to end: idport started from Dex's documented `google` config (hostedDomains, groups
 * through a service account), with `issuer` and `adminAPIURL` pointed at the fake Google, openid-client as
 * the application and the Browser following idport → Google → idport → application.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { type FakeGoogle, startFakeGoogle } from '../support/fake-google.js';

describe('Google login through idport', () => {
  let google: FakeGoogle;
  let idport: ConfigServer;
  let app: oidc.Configuration;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idport-google-e2e-'));
    google = await startFakeGoogle({
      dir,
      users: [
        {
          sub: '110169484474386276334',
          email: 'jane@example.com',
          emailVerified: true,
          name: 'Jane Doe',
          hd: 'example.com',
        },
        { sub: '2', email: 'sam@example.com', emailVerified: true, name: 'Sam', hd: 'example.com' },
        { sub: '3', email: 'joe@gmail.com', emailVerified: true, name: 'Joe' },
      ],
      superAdmins: ['super-user@example.com'],
      memberships: {
        'jane@example.com': ['admins@example.com', 'eng@example.com'],
        'sam@example.com': ['sales@example.com'],
      },
    });
    // Dex's documented example with its commented options switched on, plus issuer and adminAPIURL.
    idport = await startFromConfig(
      `issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
${APP_CLIENT_YAML}connectors:
- type: google
  id: google
  name: Google
  config:
    clientID: $GOOGLE_CLIENT_ID
    clientSecret: $GOOGLE_CLIENT_SECRET
    redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
    hostedDomains:
     - example.com
    groups:
     - admins@example.com
     - eng@example.com
    serviceAccountFilePath: ${google.serviceAccountFile}
    domainToAdminEmail:
      "*": super-user@example.com
    issuer: ${google.origin}
    adminAPIURL: ${google.origin}
`,
      { env: { GOOGLE_CLIENT_ID: google.clientId, GOOGLE_CLIENT_SECRET: google.clientSecret } },
    );
    app = await discoverApp(idport);
  });
  after(async () => {
    await idport?.close();
    await google?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("issues Dex's sub for the ID token's sub, Workspace groups, and refreshes until Google revokes", async () => {
    google.loginAs('jane@example.com');
    const { tokens, claims } = await mustLogin(app, idport, 'openid email profile groups offline_access');
    assert.equal(claims.sub, 'ChUxMTAxNjk0ODQ0NzQzODYyNzYzMzQSBmdvb2dsZQ');
    assert.equal(claims.name, 'Jane Doe');
    assert.equal(claims.email, 'jane@example.com');
    assert.equal(claims.email_verified, true);
    assert.deepEqual(claims.groups, ['admins@example.com', 'eng@example.com']);

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, claims.sub);
    assert.deepEqual(refreshed.claims()?.groups, ['admins@example.com', 'eng@example.com']);

    assert.ok(google.revokeTokens('jane@example.com') > 0);
    await refreshRefused(app, refreshed.refresh_token ?? '');
  });

  it('refuses users outside the hosted domain or the groups with an error page', async () => {
    for (const [user, message] of [
      ['joe@gmail.com', /not in a domain allowed to log in here/],
      ['sam@example.com', /not in a group allowed to log in here/],
    ] as const) {
      google.loginAs(user);
      const result = await loginThroughIdport(app, idport, 'openid email');
      assert.equal(result.login, undefined, user);
      assert.equal(result.page?.status, 502);
      assert.match(result.page?.body ?? '', message);
    }
  });
});

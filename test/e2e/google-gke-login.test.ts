/**
 * Google login end to end on Google Cloud without a key file (GKE workload identity): the config Dex runs
 * there — domainToAdminEmail and groups, no serviceAccountFilePath — with $GCE_METADATA_HOST pointing at the
 * fake Google, which plays the metadata server and the IAM Credentials API too. openid-client is the
 * application; the groups come from the Directory API as the metadata server's account acting for the admin.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type * as oidc from 'openid-client';

import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import { APP_CLIENT_YAML, discoverApp, loginThroughIdport, mustLogin } from '../support/downstream-app.js';
import { type FakeGoogle, startFakeGoogle } from '../support/fake-google.js';

describe('Google login through idport with metadata-server credentials', () => {
  let google: FakeGoogle;
  let idport: ConfigServer;
  let app: oidc.Configuration;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idport-google-gke-'));
    google = await startFakeGoogle({
      dir,
      users: [
        { sub: '110', email: 'jane@example.com', emailVerified: true, name: 'Jane Doe', hd: 'example.com' },
        { sub: '2', email: 'sam@example.com', emailVerified: true, name: 'Sam', hd: 'example.com' },
      ],
      superAdmins: ['super-user@example.com'],
      memberships: { 'jane@example.com': ['admins@example.com'], 'sam@example.com': ['sales@example.com'] },
    });
    // This test file runs in a process of its own; the connector reads Go's variables from the environment.
    process.env['GCE_METADATA_HOST'] = google.metadataHost;
    delete process.env['GOOGLE_APPLICATION_CREDENTIALS'];
    process.env['CLOUDSDK_CONFIG'] = join(dir, 'no-gcloud');
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
    clientID: ${google.clientId}
    clientSecret: ${google.clientSecret}
    redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
    groups:
     - admins@example.com
    domainToAdminEmail:
      "*": super-user@example.com
    issuer: ${google.origin}
    adminAPIURL: ${google.origin}
    iamCredentialsURL: ${google.origin}
    delegationTokenURL: ${google.origin}/token
`,
    );
    app = await discoverApp(idport);
  });
  after(async () => {
    await idport?.close();
    await google?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("issues Dex's sub and the Workspace groups read as the metadata server's account", async () => {
    google.loginAs('jane@example.com');
    const { claims } = await mustLogin(app, idport, 'openid email profile groups');
    assert.equal(claims.sub, 'CgMxMTASBmdvb2dsZQ', 'base64url of protobuf {user_id: "110", conn_id: "google"}');
    assert.deepEqual(claims.groups, ['admins@example.com']);
    assert.equal(google.signedPayloads.at(-1)?.iss, google.serviceAccountEmail);
    assert.equal(google.signedPayloads.at(-1)?.sub, 'super-user@example.com');
  });

  it('refuses a user outside the groups with an error page', async () => {
    google.loginAs('sam@example.com');
    const result = await loginThroughIdport(app, idport, 'openid email');
    assert.equal(result.login, undefined);
    assert.equal(result.page?.status, 502);
    assert.match(result.page?.body ?? '', /not in a group allowed to log in here/);
  });
});

/**
 * LinkedIn login end to end: idport started from Dex's documented `linkedin` example plus the
 * idport-only baseURL/apiURL keys pointing at a fake LinkedIn on loopback; openid-client as the
 * application; refresh re-reads the member until the token is revoked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.js';
import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import { type FakeLinkedin, startFakeLinkedin } from '../support/fake-linkedin.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';
const MEMBER = { id: 'Xy12AbCdEf', firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' };

describe('LinkedIn login through idport', () => {
  let linkedin: FakeLinkedin;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    linkedin = await startFakeLinkedin([
      MEMBER,
      { id: 'NoName', firstName: '', lastName: '', email: 'anon@example.com' },
    ]);
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
  - type: linkedin
    id: linkedin
    name: LinkedIn
    config:
      clientID: $LINKEDIN_APPLICATION_ID
      clientSecret: $LINKEDIN_CLIENT_SECRET
      redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
      baseURL: ${linkedin.origin}
      apiURL: ${linkedin.origin}/v2
`,
      { env: { LINKEDIN_APPLICATION_ID: linkedin.clientId, LINKEDIN_CLIENT_SECRET: linkedin.clientSecret } },
    );
    app = await oidc.discovery(new URL(idport.issuer), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await idport?.close();
    await linkedin?.close();
  });

  const login = async (member: string) => {
    linkedin.loginAs(member);
    const url = oidc.buildAuthorizationUrl(app, {
      redirect_uri: REDIRECT,
      scope: 'openid email profile groups offline_access',
      state: 'st',
    });
    return new Browser().follow(url.href, REDIRECT);
  };

  it("issues Dex's sub for the member id, and refreshes until LinkedIn revokes the token", async () => {
    const step = await login(MEMBER.id);
    assert.ok(step.location, `the login ended at the application (last page ${step.page.url}: ${step.page.status})`);
    assert.ok(
      linkedin.requests.some(
        (r) => r.path === '/oauth/v2/authorization' && r.query.get('scope') === 'r_liteprofile r_emailaddress',
      ),
    );
    const tokens = await oidc.authorizationCodeGrant(app, new URL(step.location), { expectedState: 'st' });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'app',
    });
    // base64url of protobuf { user_id: "Xy12AbCdEf", conn_id: "linkedin" }.
    assert.equal(payload.sub, 'CgpYeTEyQWJDZEVmEghsaW5rZWRpbg');
    assert.equal(payload.name, 'Ada Lovelace');
    assert.equal(payload.email, 'ada@example.com');
    assert.equal(payload.email_verified, true);
    assert.deepEqual(payload.groups, [], 'LinkedIn has no groups');

    linkedin.setMember({ ...MEMBER, lastName: 'King' });
    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.name, 'Ada King');

    assert.ok(linkedin.revokeTokens(MEMBER.id) > 0);
    await assert.rejects(oidc.refreshTokenGrant(app, refreshed.refresh_token ?? ''), (err: unknown) => {
      assert.ok(err instanceof oidc.ResponseBodyError);
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
  });

  it('uses the email as the name when LinkedIn has none', async () => {
    const step = await login('NoName');
    assert.ok(step.location);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(step.location), { expectedState: 'st' });
    assert.equal(tokens.claims()?.name, 'anon@example.com');
  });

  it('shows an error page when the member refuses', async () => {
    const step = await login('deny');
    assert.equal(step.location, undefined);
    assert.ok(step.page.status >= 400);
    assert.match(step.page.body, /LinkedIn could not complete the login/);
  });
});

/**
 * GitHub login end to end: idport started from a Dex-style config.yaml with a `github` connector
 * (GitHub Enterprise mode, pointed at the fake GitHub on loopback), openid-client as the application,
 * and the Browser following idport → GitHub → idport → application.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.js';
import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import { type FakeGithub, startFakeGithub } from '../support/fake-github.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';

describe('GitHub login through idport', () => {
  let github: FakeGithub;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    github = await startFakeGithub({
      users: [
        {
          id: 2342749,
          login: 'octocat',
          name: 'The Octocat',
          email: null,
          emails: [{ email: 'octocat@github.com', primary: true, verified: true, visibility: 'private' }],
          orgs: ['acme', 'globex'],
          teams: [
            { name: 'Platform', slug: 'platform', org: 'acme' },
            { name: 'Research', slug: 'research', org: 'globex' },
            { name: 'Security', slug: 'security', org: 'acme' },
          ],
        },
        {
          id: 99,
          login: 'outsider',
          name: 'Out Sider',
          email: 'outsider@example.org',
          emails: [],
          orgs: ['umbrella'],
          teams: [],
        },
      ],
    });
    // As in Dex's documentation, except hostName: a loopback http GitHub Enterprise stand-in.
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
- type: github
  id: github
  name: GitHub
  config:
    clientID: $GITHUB_CLIENT_ID
    clientSecret: $GITHUB_CLIENT_SECRET
    redirectURI: http://127.0.0.1:{{PORT}}/dex/callback
    hostName: ${github.origin}
    orgs:
    - name: acme
      teams: [Platform, Security]
    - name: globex
`,
      { env: { GITHUB_CLIENT_ID: github.clientId, GITHUB_CLIENT_SECRET: github.clientSecret } },
    );
    app = await oidc.discovery(new URL(idport.issuer), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await idport?.close();
    await github?.close();
  });

  it("issues Dex's sub for the GitHub user, org:team groups, and refreshes until GitHub revokes the token", async () => {
    github.loginAs('octocat');
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(app, {
      redirect_uri: REDIRECT,
      scope: 'openid email profile groups offline_access',
      state,
    });
    const browser = new Browser();
    const step = await browser.follow(url.href, REDIRECT);
    assert.ok(step.location, `the login ended at the application (last page ${step.page.url}: ${step.page.status})`);
    assert.ok(
      github.requests.some(
        (r) => r.path === '/login/oauth/authorize' && r.query.get('scope') === 'user:email read:org',
      ),
      'the browser went through GitHub',
    );

    const tokens = await oidc.authorizationCodeGrant(app, new URL(step.location), { expectedState: state });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'app',
    });
    assert.equal(
      payload.sub,
      'CgcyMzQyNzQ5EgZnaXRodWI',
      "Dex's documented subject for user 2342749 on connector github",
    );
    assert.equal(payload.name, 'The Octocat');
    assert.equal(payload.preferred_username, 'octocat');
    assert.equal(payload.email, 'octocat@github.com');
    assert.equal(payload.email_verified, true);
    assert.deepEqual(payload.groups, ['acme:Platform', 'acme:Security', 'globex:Research']);

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, 'CgcyMzQyNzQ5EgZnaXRodWI');
    assert.ok(refreshed.refresh_token);

    // The user removes the OAuth app on GitHub: the next refresh must fail.
    assert.ok(github.revokeTokens('octocat') > 0);
    await assert.rejects(oidc.refreshTokenGrant(app, refreshed.refresh_token), (err: unknown) => {
      assert.ok(err instanceof oidc.ResponseBodyError);
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
  });

  it('refuses a GitHub user outside the configured orgs with an error page, not a redirect to the app', async () => {
    github.loginAs('outsider');
    const url = oidc.buildAuthorizationUrl(app, { redirect_uri: REDIRECT, scope: 'openid email', state: 's' });
    const step = await new Browser().follow(url.href, REDIRECT);
    assert.equal(step.location, undefined);
    assert.equal(step.page.status, 502);
    assert.match(step.page.body, /not a member of an organization or team allowed to log in here/);
  });

  it('shows an error page when the user denies access on GitHub', async () => {
    github.loginAs('deny');
    const url = oidc.buildAuthorizationUrl(app, { redirect_uri: REDIRECT, scope: 'openid email', state: 's' });
    const step = await new Browser().follow(url.href, REDIRECT);
    assert.equal(step.location, undefined);
    assert.match(step.page.body, /GitHub did not authorize the login/);
  });
});

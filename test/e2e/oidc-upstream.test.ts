/**
 * Issue 5 end to end: idport with a Dex-style `oidc` connector in front of an independent OpenID provider
 * (panva's oidc-provider), and idport chained behind idport; openid-client is the downstream application.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { Browser, formsOf } from '../support/browser.js';
import { freePort, startFromConfig, type ConfigServer } from '../support/config-server.js';
import { DEMO_HASH, DEMO_PASSWORD } from '../support/idport.js';
import { startUpstreamOp, type UpstreamOp } from '../support/upstream-op.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';

const downstreamYaml = (
  connector: Record<string, unknown>,
  extra = '',
): string => `issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['${REDIRECT}']
connectors:
- type: oidc
  id: upstream
  name: Upstream
  config: ${JSON.stringify(connector)}
${extra}`;

const discover = async (issuer: string): Promise<oidc.Configuration> =>
  oidc.discovery(new URL(issuer), 'app', 'app-secret', undefined, { execute: [oidc.allowInsecureRequests] });

/** Follows the whole chain in one browser, submitting any password form on the way, until the app's callback. */
const login = async (
  browser: Browser,
  url: string,
  credentials?: { login: string; password: string },
): Promise<string> => {
  let step = await browser.follow(url, REDIRECT);
  for (let i = 0; i < 4 && step.location === undefined; i++) {
    const [form] = formsOf(step.page);
    assert.ok(
      form,
      `expected a form at ${step.page.url} (status ${step.page.status}): ${step.page.body.slice(0, 200)}`,
    );
    // The upstream connector sends prompt=consent (Dex's default promptType), so the upper idport asks.
    const values: Record<string, string> = 'req' in form.fields ? { approval: 'approve' } : (credentials ?? {});
    step = await browser.submit(form, values, REDIRECT);
  }
  assert.ok(step.location, 'the chain ended at the application');
  return step.location;
};

describe('upstream OpenID provider through idport', () => {
  let upstream: UpstreamOp;
  let idport: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    const port = await freePort();
    upstream = await startUpstreamOp({
      redirectUris: [`http://127.0.0.1:${port}/dex/callback`],
      accounts: [
        {
          sub: 'alice-upstream-id',
          name: 'Alice Liddell',
          preferred_username: 'alice',
          email: 'alice@example.net',
          email_verified: true,
          groups: ['wonderland', 'admins'],
        },
        { sub: 'mallory', name: 'Mallory', email: 'mallory@example.net', email_verified: false, groups: ['admins'] },
      ],
    });
    idport = await startFromConfig(
      downstreamYaml({
        issuer: upstream.issuer,
        clientID: upstream.clientId,
        clientSecret: upstream.clientSecret,
        redirectURI: `http://127.0.0.1:${port}/dex/callback`,
        scopes: ['profile', 'email', 'groups', 'offline_access'],
        insecureEnableGroups: true,
        allowedGroups: ['wonderland', 'admins'],
        getUserInfo: true,
      }),
      { port },
    );
    app = await discover(idport.issuer);
  });
  after(async () => {
    await idport?.close();
    await upstream?.close();
  });

  it('carries the upstream user mapped claims and groups into idport tokens, and refreshes through the upstream', async () => {
    upstream.setDefaultAccount('alice-upstream-id');
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(app, {
      redirect_uri: REDIRECT,
      scope: 'openid email profile groups offline_access',
      state,
    });
    const callback = await login(new Browser(), url.href);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(callback), { expectedState: state });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'app',
    });
    assert.equal(payload.sub, encodeSubject('alice-upstream-id', 'upstream'));
    assert.equal(payload.email, 'alice@example.net');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.name, 'Alice Liddell');
    assert.equal(payload.preferred_username, 'alice');
    assert.deepEqual([...(payload.groups as string[])].sort(), ['admins', 'wonderland']);

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.ok(refreshed.refresh_token);

    // The upstream revokes the grant: idport's next refresh must fail.
    assert.ok((await upstream.revokeGrants('alice-upstream-id')) > 0);
    await assert.rejects(oidc.refreshTokenGrant(app, refreshed.refresh_token), (err: unknown) => {
      assert.ok(err instanceof oidc.ResponseBodyError);
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
  });

  it('refuses an upstream user whose email is not verified, with an error page', async () => {
    upstream.setDefaultAccount('mallory');
    const url = oidc.buildAuthorizationUrl(app, { redirect_uri: REDIRECT, scope: 'openid email', state: 's' });
    const browser = new Browser();
    const step = await browser.follow(url.href, REDIRECT);
    assert.equal(step.location, undefined, 'no redirect to the application');
    assert.equal(step.page.status, 502);
    assert.match(step.page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(step.page.body, /We could not log you in/);
  });
});

describe('idport chained behind idport', () => {
  let upper: ConfigServer;
  let lower: ConfigServer;
  let app: oidc.Configuration;

  before(async () => {
    const lowerPort = await freePort();
    upper = await startFromConfig(`issuer: http://127.0.0.1:{{PORT}}/upstream
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
enablePasswordDB: true
staticPasswords:
- email: admin@example.com
  hash: '${DEMO_HASH}'
  username: admin
  userID: upper-admin-id
  groups: [platform]
staticClients:
- id: lower-idport
  name: Lower idport
  secret: lower-secret
  redirectURIs: ['http://127.0.0.1:${lowerPort}/dex/callback']
`);
    lower = await startFromConfig(
      downstreamYaml({
        issuer: upper.issuer,
        clientID: 'lower-idport',
        clientSecret: 'lower-secret',
        redirectURI: `http://127.0.0.1:${lowerPort}/dex/callback`,
        scopes: ['profile', 'email', 'groups', 'offline_access'],
        insecureEnableGroups: true,
      }),
      { port: lowerPort },
    );
    app = await discover(lower.issuer);
  });
  after(async () => {
    await lower?.close();
    await upper?.close();
  });

  it('logs in through the upper idport password page and gets the upper user in the lower token', async () => {
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(app, {
      redirect_uri: REDIRECT,
      scope: 'openid email profile groups offline_access',
      state,
    });
    const callback = await login(new Browser(), url.href, { login: 'admin@example.com', password: DEMO_PASSWORD });
    const tokens = await oidc.authorizationCodeGrant(app, new URL(callback), { expectedState: state });
    const claims = tokens.claims();
    assert.ok(claims);
    // The upper idport's sub (itself Dex-encoded) becomes the lower's user id.
    assert.equal(claims.sub, encodeSubject(encodeSubject('upper-admin-id', 'local'), 'upstream'));
    assert.equal(claims.email, 'admin@example.com');
    assert.deepEqual(claims.groups, ['platform']);
    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token ?? '');
    assert.equal(refreshed.claims()?.sub, claims.sub);
  });
});

/** Issue 4 end to end: a Dex-style LDAP connector config, a real slapd, a login through idport's password page. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { refreshFamilyIdOf } from '../../src/oauth/grants/refresh-family.js';
import { Browser, formsOf } from '../support/browser.js';
import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import { FIXTURE, fixtureConnectorConfig, startSlapd, type Slapd } from '../support/slapd.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';

describe('LDAP login through idport', () => {
  let slapd: Slapd;
  let idport: ConfigServer;
  let client: oidc.Configuration;

  before(async () => {
    slapd = await startSlapd();
    const yaml = `issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
oauth2: { skipApprovalScreen: true }
staticClients:
- id: example-app
  name: Example App
  secret: example-secret
  redirectURIs: ['${REDIRECT}']
connectors:
- type: ldap
  id: ldap
  name: OpenLDAP
  config: ${JSON.stringify(fixtureConnectorConfig(slapd, 'ldaps'))}
`;
    idport = await startFromConfig(yaml);
    client = await oidc.discovery(new URL(idport.issuer), 'example-app', 'example-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await idport?.close();
    await slapd?.stop();
  });

  const authorize = async (browser: Browser, password: string) => {
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT,
      scope: 'openid email profile groups offline_access',
      state,
    });
    const first = await browser.follow(url.href, REDIRECT);
    const [form] = formsOf(first.page);
    assert.ok(form, 'the single connector leads straight to the password page');
    assert.match(first.page.body, /Username/);
    return { state, result: await browser.submit(form, { login: FIXTURE.users.jane.uid, password }, REDIRECT) };
  };

  it('logs jane in over LDAPS and puts her nested groups in the ID token', async () => {
    const { state, result } = await authorize(new Browser(), FIXTURE.users.jane.password);
    assert.ok(result.location, `redirected to the client (got status ${result.page.status})`);
    const tokens = await oidc.authorizationCodeGrant(client, new URL(result.location), { expectedState: state });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'example-app',
    });
    assert.equal(payload.sub, encodeSubject(FIXTURE.users.jane.uid, 'ldap'));
    assert.equal(payload.email, FIXTURE.users.jane.mail);
    assert.equal(payload.name, FIXTURE.users.jane.cn);
    assert.deepEqual([...(payload.groups as string[])].sort(), ['developers', 'engineering', 'ops', 'staff']);

    // Refresh goes back to the directory (the connector re-searches the user).
    const refreshed = await oidc.refreshTokenGrant(client, tokens.refresh_token ?? '');
    assert.ok(refreshed.id_token);
  });

  it('shows the password page again with status 401 for a wrong password', async () => {
    const { result } = await authorize(new Browser(), 'not-her-password');
    assert.equal(result.location, undefined);
    assert.equal(result.page.status, 401);
    assert.match(result.page.body, /Invalid username or password/);
  });

  it('answers a refresh with 503 temporarily_unavailable while the directory is down, and keeps the token usable', async () => {
    const { state, result } = await authorize(new Browser(), FIXTURE.users.jane.password);
    const tokens = await oidc.authorizationCodeGrant(client, new URL(result.location ?? ''), { expectedState: state });
    await slapd.stop();
    const response = await fetch(`${idport.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('example-app:example-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '' }),
    });
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), {
      error: 'temporarily_unavailable',
      error_description: 'the login service is unavailable; try again later',
    });
    // The family was not revoked: it is the directory that failed, not the user.
    assert.ok(await idport.server.provider.storage.refreshTokens.get(refreshFamilyIdOf(tokens.refresh_token ?? '')));
  });
});

describe('LDAP directory that does not answer', () => {
  let silent: Server;
  let idport: ConfigServer;

  before(async () => {
    // Accepts connections and never says a word: the worst kind of dead directory.
    silent = createNetServer(() => undefined).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    idport = await startFromConfig(`issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
staticClients:
- id: example-app
  name: Example App
  secret: example-secret
  redirectURIs: ['${REDIRECT}']
connectors:
- type: ldap
  id: ldap
  name: OpenLDAP
  config:
    host: 127.0.0.1:${port}
    insecureNoSSL: true
    timeout: 500ms
    bindDN: cn=idport,dc=example,dc=org
    bindPW: secret
    userSearch: { baseDN: 'dc=example,dc=org', username: uid, idAttr: uid, emailAttr: mail, nameAttr: cn }
`);
  });
  after(async () => {
    await idport?.close();
    silent?.close();
  });

  it('shows the user an error page within the configured timeout, and the server keeps serving', async () => {
    const browser = new Browser();
    const url = `${idport.issuer}/auth?${new URLSearchParams({ client_id: 'example-app', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid' }).toString()}`;
    const first = await browser.follow(url, REDIRECT);
    const [form] = formsOf(first.page);
    assert.ok(form);
    const started = Date.now();
    const result = await browser.submit(form, { login: 'jane', password: 'whatever' }, REDIRECT);
    const elapsed = Date.now() - started;
    assert.equal(result.page.status, 503);
    assert.match(result.page.body, /The directory is unavailable\. Try again later\./);
    assert.ok(elapsed < 5_000, `answered in ${elapsed} ms`);
    assert.equal((await fetch(`${idport.issuer}/healthz/live`)).status, 200);
  });
});

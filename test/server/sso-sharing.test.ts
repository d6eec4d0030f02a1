/**
 * Single sign-on as Dex master shares it: a login made for one client serves another only as that client's
 * `ssoSharedWith` (or `sessions.ssoSharedWithDefault`) allows; one-way and not transitive.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { Browser, formsOf } from '../support/browser.js';
import { EMAIL, PASSWORD, start, type Started } from './support.js';

const CALLBACK = 'http://127.0.0.1:5555/cb';

const yaml = (sessions = '') => `issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web: {http: 127.0.0.1:0}
oauth2: {skipApprovalScreen: true}
${sessions}staticClients:
- {id: a, name: A, secret: sa, redirectURIs: ['${CALLBACK}'], ssoSharedWith: [b]}
- {id: b, name: B, secret: sb, redirectURIs: ['${CALLBACK}'], ssoSharedWith: ['*']}
- {id: c, name: C, secret: sc, redirectURIs: ['${CALLBACK}']}
- {id: d, name: D, secret: sd, redirectURIs: ['${CALLBACK}'], ssoSharedWith: []}
enablePasswordDB: true
staticPasswords:
- {email: ${EMAIL}, hash: "$2b$10$YSTrr.rdrfbKx4KchJqelOzDrWI4vS9/N8eMIt1vtSvsnAWN2alzq", username: admin, userID: "1"}
`;

describe('single sign-on shared as Dex master shares it', () => {
  let idport: Started;
  let shareAll: Started;
  before(async () => {
    idport = await start(yaml());
    shareAll = await start(yaml('sessions: {ssoSharedWithDefault: all}\n'));
  });
  after(async () => {
    await idport.close();
    await shareAll.close();
  });

  const authUrl = (server: Started, clientId: string, extra: Record<string, string> = {}) =>
    `${server.origin}/dex/auth?${new URLSearchParams({ client_id: clientId, redirect_uri: CALLBACK, response_type: 'code', scope: 'openid', state: 's', ...extra }).toString()}`;

  /** Logs in for `clientId` through the password page. */
  const login = async (server: Started, browser: Browser, clientId: string): Promise<void> => {
    const step = await browser.follow(authUrl(server, clientId), CALLBACK);
    const [form] = formsOf(step.page);
    assert.ok(form, `expected the password form for ${clientId}`);
    const done = await browser.submit(form, { login: EMAIL, password: PASSWORD }, CALLBACK);
    assert.match(done.location ?? '', /[?&]code=/);
  };

  /** prompt=none for `clientId`: 'code' when the session serves it, else the error. */
  const silently = async (server: Started, browser: Browser, clientId: string): Promise<string> => {
    const page = await browser.request(authUrl(server, clientId, { prompt: 'none' }));
    const location = new URL(page.headers.get('location') ?? '', server.origin);
    return location.searchParams.has('code') ? 'code' : (location.searchParams.get('error') ?? `status ${page.status}`);
  };

  it('serves the client it was made for, and the clients its ssoSharedWith names', async () => {
    const browser = new Browser();
    await login(idport, browser, 'a');
    assert.equal(await silently(idport, browser, 'a'), 'code');
    assert.equal(await silently(idport, browser, 'b'), 'code');
    assert.equal(await silently(idport, browser, 'c'), 'login_required', 'a does not share with c');
  });

  it('is not transitive: a login b got through single sign-on is not shared onward, though b shares with all', async () => {
    const browser = new Browser();
    await login(idport, browser, 'a');
    assert.equal(await silently(idport, browser, 'b'), 'code');
    assert.equal(await silently(idport, browser, 'c'), 'login_required');
    assert.equal(await silently(idport, browser, 'd'), 'login_required');
  });

  it('is one-way, with Dex\'s default "none" for a client without ssoSharedWith, and "*" for all', async () => {
    const fromC = new Browser();
    await login(idport, fromC, 'c');
    assert.equal(await silently(idport, fromC, 'a'), 'login_required');
    const fromB = new Browser();
    await login(idport, fromB, 'b');
    for (const client of ['a', 'c', 'd']) assert.equal(await silently(idport, fromB, client), 'code', client);
  });

  it('adds a client the user logs in to directly, so both logins serve from then on', async () => {
    const browser = new Browser();
    await login(idport, browser, 'c');
    await login(idport, browser, 'b');
    assert.equal(await silently(idport, browser, 'c'), 'code');
    assert.equal(await silently(idport, browser, 'a'), 'code', 'b, logged in directly now, shares with all');
  });

  it('shares with every client under ssoSharedWithDefault: all, except one whose list is explicitly empty', async () => {
    const browser = new Browser();
    await login(shareAll, browser, 'c');
    assert.equal(await silently(shareAll, browser, 'a'), 'code');
    const fromD = new Browser();
    await login(shareAll, fromD, 'd');
    assert.equal(await silently(shareAll, fromD, 'a'), 'login_required');
  });

  it('refuses a default other than none or all', () => {
    assert.throws(
      () => loadConfig(yaml('sessions: {ssoSharedWithDefault: some}\n'), 'c.yaml', { env: {}, connectorSchemas: {} }),
      (err: unknown) =>
        err instanceof ConfigError && /sessions\.ssoSharedWithDefault: expected one of/.test(err.issues[0] ?? ''),
    );
  });
});

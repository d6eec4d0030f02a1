/**
 * Relative redirect URIs as Dex serves them (Kubeflow registers `/login/oidc` and `/oauth2/callback`: Dex and the
 * app sit behind one gateway host): matched exactly, redirected to as registered, redeemed with the same string.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, formsOf } from '../support/browser.js';
import { CLIENT_ID, CLIENT_SECRET, configYaml, EMAIL, PASSWORD, start, type Started } from './support.js';

const RELATIVE = '/login/oidc';
const AFTER_LOGOUT = '/logged-out';

const yaml = configYaml().replace(
  "  redirectURIs: ['http://127.0.0.1:5555/callback']",
  `  redirectURIs: ['${RELATIVE}', '/oauth2/callback']\n  postLogoutRedirectURIs: ['${AFTER_LOGOUT}']`,
);

describe('relative redirect URIs (Dex behind one gateway host)', () => {
  let idport: Started;
  before(async () => {
    idport = await start(yaml);
  });
  after(() => idport.close());

  const authUrl = (extra: Record<string, string> = {}) =>
    `${idport.origin}/dex/auth?${new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: RELATIVE, response_type: 'code', scope: 'openid email', state: 'st', ...extra }).toString()}`;

  /** Logs in through the pages; returns the raw Location idport sent back to the app. */
  const login = async (browser: Browser, extra: Record<string, string> = {}): Promise<string> => {
    const stopAt = `${idport.origin}${RELATIVE}`;
    let step = await browser.follow(authUrl(extra), stopAt);
    for (let i = 0; i < 4 && step.location === undefined; i++) {
      const [form] = formsOf(step.page);
      assert.ok(form, `expected a form, got ${step.page.status}: ${step.page.body.slice(0, 200)}`);
      const values: Record<string, string> =
        'login' in form.fields || 'password' in form.fields
          ? { login: EMAIL, password: PASSWORD }
          : { approval: 'approve' };
      step = await browser.submit(form, values, stopAt);
    }
    const location = step.page.headers.get('location');
    assert.ok(location, `the login ends at the app, got ${step.page.status}: ${step.page.body.slice(0, 200)}`);
    return location;
  };

  const redeem = async (code: string, redirectUri: string) =>
    fetch(`${idport.origin}/dex/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }).toString(),
    });

  it('logs in and redirects to the URI as registered, relative, then redeems the code with it', async () => {
    const location = await login(new Browser());
    assert.match(location, /^\/login\/oidc\?code=[^&]+&state=st&iss=/);
    const code = new URL(location, 'http://gateway.example').searchParams.get('code') ?? '';
    const response = await redeem(code, RELATIVE);
    assert.equal(response.status, 200, await response.clone().text());
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(typeof body['id_token'], 'string');
  });

  it('refuses a code redeemed with another redirect_uri, and an unregistered relative URI at /auth', async () => {
    const location = await login(new Browser());
    const code = new URL(location, 'http://gateway.example').searchParams.get('code') ?? '';
    const wrong = await redeem(code, `${idport.origin}${RELATIVE}`);
    assert.equal(wrong.status, 400);
    assert.equal(((await wrong.json()) as Record<string, unknown>)['error'], 'invalid_grant');
    const unregistered = await fetch(authUrl({ redirect_uri: '/elsewhere' }), { redirect: 'manual' });
    assert.equal(unregistered.status, 400, 'an error page, not a redirect to an unverified URI');
    assert.equal(unregistered.headers.get('location'), null);
  });

  it('sends /auth errors to the relative URI too, never a 500', async () => {
    const response = await fetch(authUrl({ scope: 'email' }), { redirect: 'manual' });
    assert.ok(response.status >= 300 && response.status < 400, `got ${response.status}`);
    assert.match(response.headers.get('location') ?? '', /^\/login\/oidc\?error=invalid_scope&/);
  });

  it('answers prompt=none with a relative redirect when the session exists', async () => {
    const browser = new Browser();
    await login(browser);
    const silent = await browser.request(authUrl({ prompt: 'none' }));
    assert.ok(silent.status >= 300 && silent.status < 400, `got ${silent.status}: ${silent.body.slice(0, 200)}`);
    assert.match(silent.headers.get('location') ?? '', /^\/login\/oidc\?code=/);
  });

  it('logs out to a relative postLogoutRedirectURI with state', async () => {
    const browser = new Browser();
    const location = await login(browser);
    const code = new URL(location, 'http://gateway.example').searchParams.get('code') ?? '';
    const tokens = (await (await redeem(code, RELATIVE)).json()) as { id_token: string };
    const logout = await browser.request(
      `${idport.origin}/dex/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: AFTER_LOGOUT, state: 'bye' }).toString()}`,
    );
    assert.ok(logout.status >= 300 && logout.status < 400, `got ${logout.status}: ${logout.body.slice(0, 200)}`);
    assert.equal(logout.headers.get('location'), `${AFTER_LOGOUT}?state=bye`);
  });
});

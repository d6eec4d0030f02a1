/** Issue 7: single sign-on across clients, prompt/max_age/id_token_hint, logout (RP-initiated and back-channel). */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { ManualClock } from '../../src/deps.js';
import { Browser, formsOf, loginThroughPages } from '../support/browser.js';
import { confidentialClient, DEMO_PASSWORD, demoUser, startIdport, type TestIdport } from '../support/idport.js';
import {
  assertErrorRedirect,
  authUrl,
  codeRequest,
  credentialsOf,
  postToken,
  REDIRECT,
  redeemCode,
  refreshWith,
  responseOf,
  str,
} from './helpers.js';

const COOKIE = 'idport_session';
const LOGGED_OUT = 'http://127.0.0.1:5555/logged-out';

/** A back-channel logout receiver: records each logout_token POSTed to it. */
const startReceiver = async (): Promise<{ url: string; tokens: string[]; close(): Promise<void> }> => {
  const tokens: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token') ?? '';
      tokens.push(token);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/backchannel`,
    tokens,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
};

describe('browser sessions', () => {
  let idport: TestIdport;
  let clock: ManualClock;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    receiver = await startReceiver();
    clock = new ManualClock(Date.now());
    idport = await startIdport({
      clock,
      clients: [
        confidentialClient('grafana', [REDIRECT], {
          postLogoutRedirectURIs: [LOGGED_OUT],
          backchannelLogoutURI: receiver.url,
        }),
        confidentialClient('argocd', [REDIRECT], { refreshTokenLifetime: 'session' }),
      ],
    });
  });
  after(async () => {
    await idport.close();
    await receiver.close();
  });
  beforeEach(() => clock.set(new Date(Date.now())));

  /** Logs in through the first client's pages; the browser now holds a session. */
  const loginAt = async (
    browser: Browser,
    clientId: string,
    extra: Record<string, string> = {},
  ): Promise<URLSearchParams> =>
    responseOf(await loginThroughPages(browser, authUrl(idport, codeRequest(clientId, extra)), REDIRECT));

  /** The /auth request as a returning browser makes it: where the first response sends it. */
  const firstHop = async (browser: Browser, clientId: string, extra: Record<string, string>) =>
    browser.follow(authUrl(idport, codeRequest(clientId, extra)), REDIRECT);

  const idTokenOf = async (clientId: string, code: string): Promise<string> =>
    str((await redeemCode(idport, clientId, code)).body, 'id_token');

  it('lets a second client log the user in without a password page once the first did, with the same sub, auth_time and sid', async () => {
    const browser = new Browser();
    const first = await idTokenOf('grafana', (await loginAt(browser, 'grafana')).get('code') ?? '');
    // The second client still asks for consent once (it is a different client), but no password.
    const step = await firstHop(browser, 'argocd', {});
    assert.equal(step.location, undefined);
    assert.doesNotMatch(step.page.body, /type="password"/);
    const [approval] = formsOf(step.page);
    assert.ok(approval && 'req' in approval.fields, 'the approval page, not the login page');
    const done = await browser.submit(approval, { approval: 'approve' }, REDIRECT);
    const second = await idTokenOf('argocd', responseOf(done.location ?? '').get('code') ?? '');
    const [a, b] = [decodeJwt(first), decodeJwt(second)];
    assert.equal(b.sub, a.sub);
    assert.equal(b.auth_time, a.auth_time);
    assert.equal(typeof a.sid, 'string');
    assert.equal(b.sid, a.sid);
    // Consent is remembered per client: the next request of argocd goes straight back with a code.
    const again = await firstHop(browser, 'argocd', {});
    assert.ok(responseOf(again.location ?? '').get('code'));
  });

  it('answers prompt=none with login_required without a session, and with a code with one', async () => {
    const browser = new Browser();
    assertErrorRedirect((await firstHop(browser, 'grafana', { prompt: 'none' })).location ?? '', {
      error: 'login_required',
      description: 'the user is not logged in',
      state: 'the-state',
      issuer: idport.issuer,
    });
    const first = decodeJwt(await idTokenOf('grafana', (await loginAt(browser, 'grafana')).get('code') ?? ''));
    const pending = (await idport.storage.authRequests.list()).length;
    const silent = await firstHop(browser, 'grafana', { prompt: 'none' });
    assert.equal((await idport.storage.authRequests.list()).length, pending, 'a silent answer stores no auth request');
    const second = decodeJwt(await idTokenOf('grafana', responseOf(silent.location ?? '').get('code') ?? ''));
    assert.equal(second.sub, first.sub);
    assert.equal(second.auth_time, first.auth_time);
  });

  it('answers prompt=none with consent_required when this client was never approved', async () => {
    const browser = new Browser();
    await loginAt(browser, 'grafana');
    assertErrorRedirect((await firstHop(browser, 'argocd', { prompt: 'none' })).location ?? '', {
      error: 'consent_required',
      description: 'the user has not approved this client',
      state: 'the-state',
      issuer: idport.issuer,
    });
  });

  it('forces a new login with prompt=login, and auth_time moves forward', async () => {
    const browser = new Browser();
    const first = decodeJwt(await idTokenOf('grafana', (await loginAt(browser, 'grafana')).get('code') ?? ''));
    clock.advance(5_000);
    const step = await firstHop(browser, 'grafana', { prompt: 'login' });
    assert.match(step.page.body, /type="password"/);
    const second = decodeJwt(
      await idTokenOf('grafana', (await loginAt(browser, 'grafana', { prompt: 'login' })).get('code') ?? ''),
    );
    assert.ok(Number(second.auth_time) >= Number(first.auth_time) + 5);
  });

  it('forces re-authentication when max_age has passed, and keeps the session when it has not', async () => {
    const browser = new Browser();
    const first = decodeJwt(await idTokenOf('grafana', (await loginAt(browser, 'grafana')).get('code') ?? ''));
    const fresh = await firstHop(browser, 'grafana', { max_age: '10000' });
    const kept = decodeJwt(await idTokenOf('grafana', responseOf(fresh.location ?? '').get('code') ?? ''));
    assert.equal(kept.auth_time, first.auth_time);
    clock.advance(2_000);
    assert.match((await firstHop(browser, 'grafana', { max_age: '1' })).page.body, /type="password"/);
    assertErrorRedirect((await firstHop(browser, 'grafana', { max_age: '1', prompt: 'none' })).location ?? '', {
      error: 'login_required',
      description: 'the user is not logged in',
      state: 'the-state',
      issuer: idport.issuer,
    });
    const again = decodeJwt(
      await idTokenOf('grafana', (await loginAt(browser, 'grafana', { max_age: '1' })).get('code') ?? ''),
    );
    assert.ok(Number(again.auth_time) > Number(first.auth_time));
  });

  it('honours id_token_hint: the same user passes prompt=none, another user gets login_required', async () => {
    const browser = new Browser();
    const hint = await idTokenOf('grafana', (await loginAt(browser, 'grafana')).get('code') ?? '');
    assert.ok(
      responseOf((await firstHop(browser, 'grafana', { prompt: 'none', id_token_hint: hint })).location ?? '').get(
        'code',
      ),
    );
    await idport.storage.passwords.create({ ...demoUser, email: 'bob@example.com', userId: 'bob-id', username: 'bob' });
    const bobBrowser = new Browser();
    await loginThroughPages(bobBrowser, authUrl(idport, codeRequest('grafana')), REDIRECT, {
      login: 'bob@example.com',
      password: DEMO_PASSWORD,
    });
    assertErrorRedirect(
      (await firstHop(bobBrowser, 'grafana', { prompt: 'none', id_token_hint: hint })).location ?? '',
      {
        error: 'login_required',
        description: 'the user is not logged in',
        state: 'the-state',
        issuer: idport.issuer,
      },
    );
  });

  it('ends the session at the absolute lifetime even while it is being used, and after the idle time', async () => {
    const browser = new Browser();
    await loginAt(browser, 'grafana');
    // Used every 50 minutes (under the 1 h idle limit) until past 24 h: the cookie alone cannot extend it.
    for (let hour = 0; hour < 24; hour++) {
      clock.advance(50 * 60_000);
      const step = await firstHop(browser, 'grafana', { prompt: 'none' });
      const expired = (hour + 1) * 50 * 60_000 >= 24 * 3600_000;
      assert.equal(
        responseOf(step.location ?? '').get('error') ?? 'code',
        expired ? 'login_required' : 'code',
        `after ${(hour + 1) * 50} minutes`,
      );
      if (expired) break;
    }
    const idle = new Browser();
    clock.set(new Date(Date.now()));
    await loginAt(idle, 'grafana');
    clock.advance(61 * 60_000);
    assert.equal(
      responseOf((await firstHop(idle, 'grafana', { prompt: 'none' })).location ?? '').get('error'),
      'login_required',
    );
  });

  it('gives a new session id at login, so a cookie planted before login is worthless (fixation)', async () => {
    const attacker = new Browser();
    await loginAt(attacker, 'grafana');
    const planted = attacker.cookie(COOKIE);
    assert.ok(planted);
    const [sid, secret] = planted.split('.');
    // A forged cookie with a real session id but the wrong secret does not log anyone in.
    const response = await fetch(authUrl(idport, codeRequest('grafana', { prompt: 'none' })), {
      redirect: 'manual',
      headers: { cookie: `${COOKIE}=${sid}.${'A'.repeat(secret?.length ?? 43)}` },
    });
    assert.equal(responseOf(response.headers.get('location') ?? '').get('error'), 'login_required');
    // The victim's browser carries the planted cookie when it logs in: the login issues a new session id, so the
    // attacker's cookie does not become the victim's session.
    const victim = new Browser();
    victim.setCookie(COOKIE, planted, '/dex');
    await loginAt(victim, 'grafana', { prompt: 'login', login_hint: 'victim' });
    assert.notEqual(victim.cookie(COOKIE), planted);
    assert.notEqual(victim.cookie(COOKIE)?.split('.')[0], sid);
  });

  it('sets a browser-session cookie unless "remember me" is checked, HttpOnly, SameSite=Lax and scoped to the issuer path', async () => {
    const browser = new Browser();
    const login = await browser.follow(authUrl(idport, codeRequest('grafana')), REDIRECT);
    const [form] = formsOf(login.page);
    assert.ok(form);
    const remembered = await fetch(form.action, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `idport_browser=${browser.cookie('idport_browser') ?? ''}`,
      },
      body: new URLSearchParams({
        ...form.fields,
        login: demoUser.email,
        password: DEMO_PASSWORD,
        remember_me: 'on',
      }).toString(),
    });
    const rememberedCookie = remembered.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`)) ?? '';
    assert.match(rememberedCookie, /Max-Age=86400/);
    assert.match(rememberedCookie, /HttpOnly/);
    assert.match(rememberedCookie, /SameSite=Lax/);
    assert.match(rememberedCookie, /Path=\/dex/);

    const other = new Browser();
    const page = await other.follow(authUrl(idport, codeRequest('grafana')), REDIRECT);
    const [otherForm] = formsOf(page.page);
    assert.ok(otherForm);
    const forgotten = await fetch(otherForm.action, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `idport_browser=${other.cookie('idport_browser') ?? ''}`,
      },
      body: new URLSearchParams({ ...otherForm.fields, login: demoUser.email, password: DEMO_PASSWORD }).toString(),
    });
    const sessionOnly = forgotten.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`)) ?? '';
    assert.ok(sessionOnly !== '');
    assert.doesNotMatch(sessionOnly, /Max-Age|Expires/);
  });

  describe('logout', () => {
    it('logs out with id_token_hint, redirects to the registered URI with state, and prompt=none then needs a login', async () => {
      const browser = new Browser();
      const hint = await idTokenOf('grafana', (await loginAt(browser, 'grafana')).get('code') ?? '');
      const url = `${idport.issuer}/logout?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: LOGGED_OUT, state: 'bye' }).toString()}`;
      const step = await browser.follow(url, LOGGED_OUT);
      assert.equal(step.location, `${LOGGED_OUT}?state=bye`);
      assert.equal(browser.cookie(COOKIE), undefined, 'the session cookie is cleared');
      assert.equal(
        responseOf((await firstHop(browser, 'grafana', { prompt: 'none' })).location ?? '').get('error'),
        'login_required',
      );
    });

    it('refuses an unregistered post_logout_redirect_uri with an error page and no redirect', async () => {
      const browser = new Browser();
      const hint = await idTokenOf('grafana', (await loginAt(browser, 'grafana')).get('code') ?? '');
      const page = await browser.request(
        `${idport.issuer}/logout?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: 'https://evil.example.com/' }).toString()}`,
      );
      assert.equal(page.status, 400);
      assert.equal(page.headers.get('location'), null);
      assert.match(page.body, /The post_logout_redirect_uri is not registered for this client\./);
      assert.ok(
        responseOf((await firstHop(browser, 'grafana', { prompt: 'none' })).location ?? '').get('code'),
        'still logged in',
      );
    });

    it('asks for confirmation without id_token_hint, and refuses the confirmation without its CSRF token', async () => {
      const browser = new Browser();
      await loginAt(browser, 'grafana');
      const confirm = await browser.request(`${idport.issuer}/logout`);
      assert.equal(confirm.status, 200);
      const [form] = formsOf(confirm);
      assert.ok(form && 'csrf' in form.fields);
      const forged = await browser.request(form.action, { form: { csrf: 'not-the-token' } });
      assert.equal(forged.status, 400);
      assert.ok(
        responseOf((await firstHop(browser, 'grafana', { prompt: 'none' })).location ?? '').get('code'),
        'still logged in',
      );
      const done = await browser.submit(form, {}, LOGGED_OUT);
      assert.equal(done.page.status, 200);
      assert.equal(
        responseOf((await firstHop(browser, 'grafana', { prompt: 'none' })).location ?? '').get('error'),
        'login_required',
      );
    });

    it('sends a signed logout_token to the back-channel URI of each client that got tokens, verifiable against /keys', async () => {
      const browser = new Browser();
      const idToken = decodeJwt(await idTokenOf('grafana', (await loginAt(browser, 'grafana')).get('code') ?? ''));
      await browser.follow(
        `${idport.issuer}/logout?${new URLSearchParams({ id_token_hint: await idTokenOf('grafana', responseOf((await firstHop(browser, 'grafana', {})).location ?? '').get('code') ?? '') }).toString()}`,
        LOGGED_OUT,
      );
      // Earlier tests' logouts also notify this receiver, in the background: wait (bounded) for this session's token.
      const ofThisSession = (): string | undefined => receiver.tokens.find((t) => decodeJwt(t).sid === idToken.sid);
      for (let i = 0; i < 600 && ofThisSession() === undefined; i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      const token = ofThisSession() ?? '';
      const jwks = (await (await fetch(`${idport.issuer}/keys`)).json()) as JSONWebKeySet;
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
        issuer: idport.issuer,
        audience: 'grafana',
        currentDate: clock.now(),
      });
      assert.equal(protectedHeader.typ, 'logout+jwt');
      assert.equal(payload.sub, encodeSubject(demoUser.userId, 'local'));
      assert.equal(payload.sid, idToken.sid);
      assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
      assert.equal(payload.nonce, undefined, 'a logout token must not carry a nonce');
      assert.equal(typeof payload.jti, 'string');
    });

    it('ends refresh tokens of a client with refreshTokenLifetime: session when the session runs out, too', async () => {
      const browser = new Browser();
      const response = await loginAt(browser, 'argocd', { scope: 'openid offline_access' });
      const tokens = await redeemCode(idport, 'argocd', response.get('code') ?? '');
      const first = await refreshWith(idport, 'argocd', str(tokens.body, 'refresh_token'));
      assert.equal(first.status, 200);
      clock.advance(24 * 3600_000 + 1_000); // past sessions.absoluteLifetime
      const after = await refreshWith(idport, 'argocd', str(first.body, 'refresh_token'));
      assert.deepEqual(
        { status: after.status, body: after.body },
        {
          status: 400,
          body: { error: 'invalid_grant', error_description: 'the login session of this refresh token has ended' },
        },
      );
    });

    it('revokes refresh tokens of a client with refreshTokenLifetime: session at logout, and only then', async () => {
      const browser = new Browser();
      const response = await loginAt(browser, 'argocd', { scope: 'openid offline_access' });
      // argocd was never approved in this browser, so loginAt went through the approval page.
      const tokens = await redeemCode(idport, 'argocd', response.get('code') ?? '');
      const refreshToken = str(tokens.body, 'refresh_token');
      const refreshed = await refreshWith(idport, 'argocd', refreshToken);
      assert.equal(refreshed.status, 200);
      await browser.follow(
        `${idport.issuer}/logout?${new URLSearchParams({ id_token_hint: str(tokens.body, 'id_token') }).toString()}`,
        LOGGED_OUT,
      );
      const after = await postToken(
        idport,
        { grant_type: 'refresh_token', refresh_token: str(refreshed.body, 'refresh_token') },
        credentialsOf('argocd'),
      );
      assert.equal(after.status, 400);
      assert.equal(after.body.error, 'invalid_grant');
    });
  });
});

/** RFC 8628 Device Authorization Grant at Dex's paths: /device/code, the /device pages, and the device_code grant at /token. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { ManualClock } from '../../src/deps.js';
import { Browser, formsOf, loginThroughPages, type Page } from '../support/browser.js';
import { DEFAULT_BRUTE_FORCE } from '../support/settings.js';
import {
  confidentialClient,
  DEMO_PASSWORD,
  demoUser,
  publicClient,
  startIdport,
  type TestIdport,
} from '../support/idport.js';
import {
  assertErrorPage,
  assertJsonError,
  assertSecurityHeaders,
  assertTokenResponse,
  authUrl,
  basicAuth,
  CHALLENGE,
  codeRequest,
  credentialsOf,
  postToken,
  REDIRECT,
  redeemCode,
  responseOf,
  str,
  VERIFIER,
  type ClientCredentials,
  type JsonResponse,
} from './helpers.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** The browser never leaves idport in the device flow; nothing starts with this. */
const NOWHERE = 'http://nowhere.invalid/';
const CSRF_REFUSED = 'The form was not submitted from this page (missing or wrong CSRF token). Go back and try again.';

describe('device authorization grant', () => {
  let idport: TestIdport;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(Date.now());
    idport = await startIdport({
      clock,
      clients: [
        // Dex's example device client: public, no redirect URIs.
        publicClient('kubectl', []),
        // A confidential client opts in by registering the device callback, as in Dex.
        confidentialClient('ci', ['/dex/device/callback']),
        confidentialClient('grafana', [REDIRECT]),
      ],
    });
  });
  after(async () => idport.close());
  beforeEach(() => clock.set(new Date(Date.now())));

  const postForm = async (
    path: string,
    form: Record<string, string>,
    credentials?: ClientCredentials,
  ): Promise<JsonResponse> => {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (credentials !== undefined) headers.authorization = basicAuth(credentials);
    const response = await fetch(`${idport.issuer}${path}`, {
      method: 'POST',
      headers,
      body: new URLSearchParams(form).toString(),
    });
    const body: unknown = await response.json();
    assert.ok(typeof body === 'object' && body !== null);
    return { status: response.status, headers: response.headers, body: { ...body } };
  };

  /** What the device gets from /device/code. */
  interface DeviceCode {
    readonly deviceCode: string;
    readonly userCode: string;
    readonly complete: string;
  }

  const requestCode = async (
    form: Record<string, string> = { client_id: 'kubectl', scope: 'openid email offline_access' },
    credentials?: ClientCredentials,
  ): Promise<DeviceCode> => {
    const response = await postForm('/device/code', form, credentials);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return {
      deviceCode: str(response.body, 'device_code'),
      userCode: str(response.body, 'user_code'),
      complete: str(response.body, 'verification_uri_complete'),
    };
  };

  const poll = async (
    deviceCode: string,
    form: Record<string, string> = { client_id: 'kubectl' },
    credentials?: ClientCredentials,
  ): Promise<JsonResponse> =>
    postToken(idport, { grant_type: DEVICE_GRANT, device_code: deviceCode, ...form }, credentials);

  /** Opens the code page, submits the code it shows (pre-filled from verification_uri_complete), and follows on. */
  const enterCode = async (browser: Browser, url: string, typed?: string): Promise<Page> => {
    const entry = await browser.follow(url, NOWHERE);
    assert.equal(entry.page.status, 200, entry.page.body.slice(0, 300));
    const [form] = formsOf(entry.page);
    assert.ok(form, 'the code form');
    return (await browser.submit(form, typed === undefined ? {} : { user_code: typed }, NOWHERE)).page;
  };

  /** From the code page through the password form (unless the browser is logged in) and the approval page. */
  const authorizeDevice = async (
    browser: Browser,
    url: string,
    decision: 'approve' | 'rejected' = 'approve',
  ): Promise<Page> => {
    let page = await enterCode(browser, url);
    for (let i = 0; i < 3; i++) {
      const [form] = formsOf(page);
      assert.ok(form, `a form on ${page.url} (status ${page.status}): ${page.body.slice(0, 300)}`);
      const isApproval = 'req' in form.fields;
      const values: Record<string, string> = isApproval
        ? { approval: decision }
        : { login: demoUser.email, password: DEMO_PASSWORD };
      page = (await browser.submit(form, values, NOWHERE)).page;
      if (isApproval) return page;
    }
    throw new Error('no approval page');
  };

  it('hands out a device code, answers authorization_pending until the user approves in a browser, then tokens exactly once', async () => {
    const response = await postForm('/device/code', { client_id: 'kubectl', scope: 'openid email offline_access' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const userCode = str(response.body, 'user_code');
    assert.match(userCode, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    const deviceCode = str(response.body, 'device_code');
    assert.deepEqual(response.body, {
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: `${idport.issuer}/device`,
      verification_uri_complete: `${idport.issuer}/device?user_code=${userCode}`,
      expires_in: 300,
      interval: 5,
    });

    assertJsonError(
      await poll(deviceCode),
      400,
      'authorization_pending',
      'the user has not completed the authorization yet',
    );

    const browser = new Browser();
    const done = await authorizeDevice(browser, `${idport.issuer}/device?user_code=${userCode}`);
    assert.equal(done.status, 200);
    assertSecurityHeaders(done.headers);
    assert.match(done.body, /<h1>Login successful<\/h1>/);
    assert.match(done.body, /You are logged in on your device to kubectl app\./);
    assert.match(done.body, /You can close this window\./);

    clock.advance(5_000);
    const tokens = await poll(deviceCode);
    assertTokenResponse(tokens);
    assert.equal(tokens.body.scope, 'openid email offline_access');
    const { payload } = await jwtVerify(
      str(tokens.body, 'id_token'),
      createRemoteJWKSet(new URL(`${idport.issuer}/keys`)),
      {
        issuer: idport.issuer,
        audience: 'kubectl',
        currentDate: clock.now(),
      },
    );
    assert.equal(payload.email, demoUser.email);
    assert.equal(payload.nonce, undefined);
    const refreshed = await postToken(idport, {
      grant_type: 'refresh_token',
      refresh_token: str(tokens.body, 'refresh_token'),
      client_id: 'kubectl',
    });
    assertTokenResponse(refreshed);

    // Single use: the device token is gone, and the code can no longer start a login.
    clock.advance(5_000);
    assertJsonError(await poll(deviceCode), 400, 'invalid_grant', 'device code already used');
    const again = await enterCode(new Browser(), `${idport.issuer}/device?user_code=${userCode}`);
    assert.equal(again.status, 400);
    assert.match(again.body, /Invalid or expired code\./);
  });

  it('answers slow_down to a device polling faster than the interval, which then stays 5 seconds longer', async () => {
    const { deviceCode } = await requestCode();
    assertJsonError(
      await poll(deviceCode),
      400,
      'authorization_pending',
      'the user has not completed the authorization yet',
    );
    assertJsonError(await poll(deviceCode), 400, 'slow_down', 'poll at most every 10 seconds');
    clock.advance(10_000);
    assertJsonError(
      await poll(deviceCode),
      400,
      'authorization_pending',
      'the user has not completed the authorization yet',
    );
    // RFC 8628 §3.5: the added 5 seconds hold for all later polls, so 5 seconds is now too soon.
    clock.advance(5_000);
    assertJsonError(await poll(deviceCode), 400, 'slow_down', 'poll at most every 15 seconds');
  });

  it('answers expired_token once the device code has expired, and the code page no longer takes its user code', async () => {
    const { deviceCode, complete } = await requestCode();
    clock.advance(300_000);
    assertJsonError(await poll(deviceCode), 400, 'expired_token', 'the device code has expired');
    const page = await enterCode(new Browser(), complete);
    assert.equal(page.status, 400);
    assert.match(page.body, /Invalid or expired code\./);
  });

  it('answers access_denied when the user denies, and tells the user so', async () => {
    const { deviceCode, complete } = await requestCode();
    const done = await authorizeDevice(new Browser(), complete, 'rejected');
    assert.equal(done.status, 200);
    assert.match(done.body, /<h1>Access denied<\/h1>/);
    assert.match(done.body, /You did not allow kubectl app to log in on your device\./);
    assertJsonError(await poll(deviceCode), 400, 'access_denied', 'the user denied the request');
  });

  it('shows the code page again with a message for an unknown or malformed code, and takes a known one in any case without the dash', async () => {
    const browser = new Browser();
    for (const typed of ['BCDF-GHJK', 'not a code', '']) {
      const page = await enterCode(browser, `${idport.issuer}/device`, typed);
      assert.equal(page.status, 400);
      assertSecurityHeaders(page.headers);
      assert.match(
        page.body,
        /<p id="user-code-error" class="alert" role="alert">Invalid or expired code\. Check the code on your device and try again\.<\/p>/,
      );
      const [form] = formsOf(page);
      assert.equal(form?.fields.user_code, typed, 'the typed code is shown again');
      assert.ok(form?.fields.csrf, 'with a CSRF token to try again');
    }
    const { userCode } = await requestCode();
    const page = await enterCode(browser, `${idport.issuer}/device`, userCode.replace('-', '').toLowerCase());
    assert.equal(page.status, 200);
    assert.match(page.body, /type="password"/);
  });

  it("refuses the code form without its CSRF token or with another browser's", async () => {
    const { userCode } = await requestCode();
    const browser = new Browser();
    const entry = await browser.follow(`${idport.issuer}/device`, NOWHERE);
    const [form] = formsOf(entry.page);
    assert.ok(form);
    assertErrorPage(await browser.request(form.action, { form: { user_code: userCode } }), 400, CSRF_REFUSED);
    const other = new Browser();
    await other.follow(`${idport.issuer}/device`, NOWHERE);
    assertErrorPage(
      await other.request(form.action, { form: { ...form.fields, user_code: userCode } }),
      400,
      CSRF_REFUSED,
    );
    // Without any browser cookie at all.
    assertErrorPage(
      await new Browser().request(form.action, { form: { ...form.fields, user_code: userCode } }),
      400,
      CSRF_REFUSED,
    );
  });

  it('accepts the login only in the browser that entered the code', async () => {
    const { deviceCode, complete } = await requestCode();
    const browser = new Browser();
    const password = await enterCode(browser, complete);
    const [login] = formsOf(password);
    assert.ok(login);
    const approval = await browser.submit(login, { login: demoUser.email, password: DEMO_PASSWORD }, NOWHERE);
    const [form] = formsOf(approval.page);
    assert.ok(form);
    const callback = await browser.submit(form, { approval: 'approve' }, `${idport.issuer}/device/callback`);
    assert.ok(callback.location);
    assertErrorPage(
      await new Browser().request(callback.location),
      400,
      'This device login was not started in this browser. Enter the code from your device again.',
    );
    assertJsonError(
      await poll(deviceCode),
      400,
      'authorization_pending',
      'the user has not completed the authorization yet',
    );
    assert.equal((await browser.request(callback.location)).status, 200);
    clock.advance(5_000);
    assertTokenResponse(await poll(deviceCode));
    // The same callback again (a reload) settles nothing.
    assertErrorPage(
      await browser.request(callback.location),
      400,
      'This code is invalid, has expired or was used already. Start again on your device.',
    );
  });

  it('makes a confidential client authenticate at /device/code and at /token, and keeps its device code to itself', async () => {
    assertJsonError(
      await postForm('/device/code', { client_id: 'ci', scope: 'openid' }),
      401,
      'invalid_client',
      'invalid client credentials',
    );
    assertJsonError(
      await postForm('/device/code', { client_id: 'ci', client_secret: 'wrong', scope: 'openid' }),
      401,
      'invalid_client',
      'invalid client credentials',
    );
    const { deviceCode, complete } = await requestCode({ scope: 'openid' }, credentialsOf('ci'));
    await authorizeDevice(new Browser(), complete);
    clock.advance(5_000);
    assertJsonError(await poll(deviceCode, { client_id: 'ci' }), 401, 'invalid_client', 'invalid client credentials');
    assertJsonError(
      await poll(deviceCode, { client_id: 'kubectl' }),
      400,
      'invalid_grant',
      'device code was issued to another client',
    );
    const tokens = await poll(deviceCode, {}, credentialsOf('ci'));
    assertTokenResponse(tokens);
    assert.equal(decodeJwt(str(tokens.body, 'id_token')).aud, 'ci');
    assert.equal(tokens.body.refresh_token, undefined, 'no refresh token without offline_access');
  });

  it('refuses a client that did not register the device callback, unknown clients and bad requests', async () => {
    assertJsonError(
      await postForm('/device/code', { scope: 'openid' }, credentialsOf('grafana')),
      400,
      'unauthorized_client',
      'the client is not registered for the device flow',
    );
    assertJsonError(
      await postForm('/device/code', { client_id: 'nobody' }),
      401,
      'invalid_client',
      'invalid client credentials',
    );
    assertJsonError(
      await postForm('/device/code', { client_id: 'kubectl', scope: 'email' }),
      400,
      'invalid_scope',
      'the openid scope is required',
    );
    assertJsonError(
      await postForm('/device/code', {
        client_id: 'kubectl',
        code_challenge: CHALLENGE,
        code_challenge_method: 'S512',
      }),
      400,
      'invalid_request',
      "unsupported code_challenge_method 'S512'",
    );
    assertJsonError(await poll(''), 400, 'invalid_request', 'device_code is required');
    assertJsonError(await poll('BCDFGHJK.not-issued'), 400, 'invalid_grant', 'invalid device code');
    assertJsonError(await poll('garbage'), 400, 'invalid_grant', 'invalid device code');
  });

  it('asks for openid when the device sends no scope, as Dex does', async () => {
    const { deviceCode, complete } = await requestCode({ client_id: 'kubectl' });
    await authorizeDevice(new Browser(), complete);
    const tokens = await poll(deviceCode);
    assertTokenResponse(tokens);
    assert.equal(tokens.body.scope, 'openid');
  });

  it('checks the PKCE verifier when the device request carried a challenge, without using up the grant on a wrong one', async () => {
    const { deviceCode, complete } = await requestCode({
      client_id: 'kubectl',
      scope: 'openid',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
    });
    await authorizeDevice(new Browser(), complete);
    assertJsonError(await poll(deviceCode), 400, 'invalid_grant', 'code_verifier required');
    assertJsonError(
      await poll(deviceCode, { client_id: 'kubectl', code_verifier: 'x'.repeat(43) }),
      400,
      'invalid_grant',
      'code_verifier does not match code_challenge',
    );
    assertTokenResponse(await poll(deviceCode, { client_id: 'kubectl', code_verifier: VERIFIER }));
  });

  it('hands the tokens to only one of two concurrent polls', async () => {
    const { deviceCode, complete } = await requestCode();
    await authorizeDevice(new Browser(), complete);
    const results = await Promise.all([poll(deviceCode), poll(deviceCode)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 400]);
    const loser = results.find((r) => r.status === 400);
    assert.ok(loser);
    assertJsonError(loser, 400, 'invalid_grant', 'device code already used');
  });

  it('reuses the browser session: a logged-in browser goes straight to the approval page, and the tokens are for the same user and session', async () => {
    const browser = new Browser();
    const code =
      responseOf(await loginThroughPages(browser, authUrl(idport, codeRequest('grafana')), REDIRECT)).get('code') ?? '';
    const first = decodeJwt(str((await redeemCode(idport, 'grafana', code)).body, 'id_token'));

    const { deviceCode, complete } = await requestCode({ client_id: 'kubectl', scope: 'openid' });
    const approval = await enterCode(browser, complete);
    assert.doesNotMatch(approval.body, /type="password"/);
    const [form] = formsOf(approval);
    assert.ok(form && 'req' in form.fields, 'the approval page');
    assert.match(approval.body, /kubectl app/);
    const done = await browser.submit(form, { approval: 'approve' }, NOWHERE);
    assert.match(done.page.body, /Login successful/);
    const second = decodeJwt(str((await poll(deviceCode)).body, 'id_token'));
    assert.equal(second.sub, first.sub);
    assert.equal(second.sid, first.sid);
    assert.equal(second.auth_time, first.auth_time);
  });
});

describe('device request lifetime from expiry.deviceRequests', () => {
  let idport: TestIdport;
  const clock = new ManualClock(Date.now());
  before(async () => {
    idport = await startIdport({
      clock,
      clients: [publicClient('kubectl', [])],
      settings: { deviceRequestTtlMs: 60_000 },
    });
  });
  after(async () => idport.close());

  it('announces it as expires_in and answers expired_token after it', async () => {
    const response = await fetch(`${idport.issuer}/device/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_id=kubectl',
    });
    const body: unknown = await response.json();
    assert.ok(typeof body === 'object' && body !== null && 'expires_in' in body && 'device_code' in body);
    assert.equal(body.expires_in, 60);
    const deviceCode = String(body.device_code);
    clock.advance(59_000);
    assertJsonError(
      await postToken(idport, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: 'kubectl' }),
      400,
      'authorization_pending',
      'the user has not completed the authorization yet',
    );
    clock.advance(1_000);
    assertJsonError(
      await postToken(idport, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: 'kubectl' }),
      400,
      'expired_token',
      'the device code has expired',
    );
  });
});

describe('device code entry and the per-IP failure budget', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      clients: [publicClient('kubectl', [])],
      settings: { bruteForce: { ...DEFAULT_BRUTE_FORCE, maxFailuresPerIP: 3 } },
    });
  });
  after(async () => idport.close());

  it('counts wrong codes as failures and answers past the budget with a 429 page and Retry-After', async () => {
    const browser = new Browser();
    const entry = await browser.follow(`${idport.issuer}/device`, NOWHERE);
    const [form] = formsOf(entry.page);
    assert.ok(form);
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await browser.request(form.action, { form: { ...form.fields, user_code: 'BCDF-GHJK' } })).status,
        400,
      );
    const limited = await browser.request(form.action, { form: { ...form.fields, user_code: 'BCDF-GHJK' } });
    assert.equal(limited.status, 429);
    assert.match(limited.body, /Too many failed attempts\. Try again in \d+ (seconds|minutes)\./);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
  });
});

describe('device flow switched off', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      clients: [publicClient('kubectl', [])],
      settings: { grantTypes: ['authorization_code', 'refresh_token'] },
    });
  });
  after(async () => idport.close());

  it('advertises no device endpoint, serves none and refuses the grant at /token', async () => {
    const discovery: unknown = await (await fetch(`${idport.issuer}/.well-known/openid-configuration`)).json();
    assert.ok(typeof discovery === 'object' && discovery !== null);
    assert.equal('device_authorization_endpoint' in discovery, false);
    assert.deepEqual((discovery as Record<string, unknown>).grant_types_supported, [
      'authorization_code',
      'refresh_token',
      'implicit',
    ]);
    const response = await fetch(`${idport.issuer}/device/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_id=kubectl',
    });
    assert.equal(response.status, 404);
    assert.equal((await fetch(`${idport.issuer}/device`)).status, 404);
    const token = await postToken(idport, { grant_type: DEVICE_GRANT, device_code: 'x', client_id: 'kubectl' });
    assertJsonError(token, 400, 'unsupported_grant_type', `grant_type '${DEVICE_GRANT}' is not supported`);
  });
});

describe('device login with several connectors', () => {
  let idport: TestIdport;
  before(async () => {
    const { mockCallback } = await import('../../connectors/mock/mock.js');
    const { pino } = await import('pino');
    const connector = await mockCallback.open(
      'mock',
      {},
      { log: pino({ level: 'silent' }), fetch, now: () => new Date() },
    );
    idport = await startIdport({
      clients: [publicClient('kubectl', [])],
      connectors: [{ id: 'mock', type: 'mockCallback', name: 'Mock', connector }],
    });
  });
  after(async () => idport.close());

  it('links "Choose another login method" back to the code page, not to a client redirect URI', async () => {
    const response = await fetch(`${idport.issuer}/device/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'kubectl' }).toString(),
    });
    const body = (await response.json()) as { user_code: string; verification_uri_complete: string };
    const browser = new Browser();
    const entry = await browser.follow(body.verification_uri_complete, NOWHERE);
    const [codeForm] = formsOf(entry.page);
    assert.ok(codeForm);
    const chooser = (await browser.submit(codeForm, {}, NOWHERE)).page;
    const local = /href="([^"]*\/auth\/local\?[^"]*)"/.exec(chooser.body)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(local, `the chooser lists the password connector: ${chooser.body.slice(0, 400)}`);
    const passwordPage = (await browser.follow(new URL(local, idport.issuer).href, NOWHERE)).page;
    const back = /href="([^"]*)"[^>]*>Choose another login method/
      .exec(passwordPage.body)?.[1]
      ?.replaceAll('&amp;', '&');
    assert.equal(back, `/dex/device?user_code=${encodeURIComponent(body.user_code)}`);
    const again = await browser.follow(new URL(back ?? '', idport.issuer).href, NOWHERE);
    assert.equal(again.page.status, 200);
  });
});

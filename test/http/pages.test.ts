/** The browser side of the flow: connector chooser, password form, approval page, and what each refuses. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { mockCallback } from '../../connectors/mock/mock.js';
import { pino } from 'pino';
import { Browser, formsOf, loginThroughPages, type HtmlForm, type Page } from '../support/browser.js';
import { confidentialClient, DEMO_PASSWORD, demoUser, startIdport, type TestIdport } from '../support/idport.js';
import {
  assertErrorPage,
  assertErrorRedirect,
  assertSecurityHeaders,
  assertTokenResponse,
  authUrl,
  codeRequest,
  credentialsOf,
  postToken,
  redeemCode,
  REDIRECT,
  responseOf,
  str,
} from '../e2e/helpers.js';

const EXPIRED = 'This login request is invalid or has expired. Go back to the application and sign in again.';
const CSRF_REFUSED =
  'The form was not submitted from this login page (missing or wrong CSRF token). Go back and try again.';

/** Follows an authorization URL to the first page shown (the password form, unless a test says otherwise). */
const openPage = async (browser: Browser, url: string): Promise<Page> => {
  const { page, location } = await browser.follow(url, REDIRECT);
  assert.equal(location, undefined, 'a page, not a redirect to the client');
  assert.equal(page.status, 200, page.body.slice(0, 500));
  assertSecurityHeaders(page.headers);
  return page;
};

const onlyForm = (page: Page): HtmlForm => {
  const [form, extra] = formsOf(page);
  assert.ok(form);
  assert.equal(extra, undefined);
  return form;
};

/** The auth request id a password form posts to (`?state=`). */
const requestIdOf = (form: HtmlForm): string => new URL(form.action).searchParams.get('state') ?? '';

const credentials = { login: demoUser.email, password: DEMO_PASSWORD };

describe('password and approval pages', () => {
  let idport: TestIdport;
  let skipping: TestIdport;
  before(async () => {
    idport = await startIdport({ inProcess: true, clients: [confidentialClient('web', [REDIRECT])] });
    skipping = await startIdport({
      inProcess: true,
      clients: [confidentialClient('web', [REDIRECT])],
      settings: { skipApprovalScreen: true },
    });
  });
  after(async () => {
    await idport.close();
    await skipping.close();
  });

  it('goes straight to the password form of the only connector, with a CSRF token and no back link', async () => {
    const page = await openPage(new Browser(), authUrl(idport, codeRequest('web')));
    const form = onlyForm(page);
    assert.equal(form.method, 'post');
    assert.match(form.action, new RegExp(`^${idport.issuer}/auth/local/login\\?state=`));
    assert.ok((form.fields.csrf ?? '').length >= 43, 'a 256-bit CSRF token');
    assert.deepEqual(Object.keys(form.fields).sort(), ['csrf', 'login', 'password']);
    assert.ok(!page.body.includes('Choose another login method'));
  });

  it('pre-fills the username from login_hint', async () => {
    const page = await openPage(new Browser(), authUrl(idport, codeRequest('web', { login_hint: 'jane@example.com' })));
    assert.equal(onlyForm(page).fields.login, 'jane@example.com');
  });

  it('refuses a password POST without the CSRF token with an error page, and does not log in', async () => {
    const browser = new Browser();
    const form = onlyForm(await openPage(browser, authUrl(idport, codeRequest('web'))));
    const { csrf: _dropped, ...fields } = form.fields;
    const refused = await browser.request(form.action, { form: { ...fields, ...credentials } });
    assertErrorPage(refused, 400, CSRF_REFUSED);
    const approval = await browser.request(`${idport.issuer}/approval?req=${requestIdOf(form)}`);
    assertErrorPage(approval, 400, 'Log in before approving this request.');
  });

  it('refuses a password POST with a wrong CSRF token the same way', async () => {
    const browser = new Browser();
    const form = onlyForm(await openPage(browser, authUrl(idport, codeRequest('web'))));
    const refused = await browser.request(form.action, {
      form: { ...form.fields, ...credentials, csrf: 'A'.repeat(43) },
    });
    assertErrorPage(refused, 400, CSRF_REFUSED);
  });

  it('re-shows the form with status 401, a message and the username kept after a wrong password', async () => {
    const browser = new Browser();
    const form = onlyForm(await openPage(browser, authUrl(idport, codeRequest('web'))));
    const page = await browser.request(form.action, {
      form: { ...form.fields, login: demoUser.email, password: 'wrong' },
    });
    assert.equal(page.status, 401);
    assertSecurityHeaders(page.headers);
    assert.match(page.body, /<p id="login-error" class="alert" role="alert">Invalid username or password.<\/p>/);
    const again = onlyForm(page);
    assert.equal(again.fields.login, demoUser.email);
    assert.equal(again.fields.csrf, form.fields.csrf);
  });

  it('refuses a login request continued from another browser (no browser cookie)', async () => {
    const form = onlyForm(await openPage(new Browser(), authUrl(idport, codeRequest('web'))));
    const stranger = new Browser();
    assertErrorPage(await stranger.request(form.action), 400, EXPIRED);
    assertErrorPage(await stranger.request(form.action, { form: { ...form.fields, ...credentials } }), 400, EXPIRED);
  });

  it('shows the approval page with the client name and scopes, and redirects a denial with access_denied', async () => {
    const browser = new Browser();
    const form = onlyForm(
      await openPage(browser, authUrl(idport, codeRequest('web', { scope: 'openid email groups' }))),
    );
    const { page } = await browser.submit(form, credentials, REDIRECT);
    assert.equal(page.status, 200);
    assertSecurityHeaders(page.headers);
    assert.match(page.body, /<strong class="client-name">web app<\/strong>/);
    assert.match(page.body, /<ul class="scopes">[\s\S]*email[\s\S]*groups[\s\S]*<\/ul>/i);
    const approval = onlyForm(page);
    assert.deepEqual(Object.keys(approval.fields).sort(), ['csrf', 'req']);
    const denied = await browser.submit(approval, { approval: 'rejected' }, REDIRECT);
    assert.ok(denied.location);
    assertErrorRedirect(denied.location, {
      error: 'access_denied',
      description: 'the user denied the request',
      state: 'the-state',
      issuer: idport.issuer,
    });
  });

  it('refuses an approval POST without the CSRF token', async () => {
    const browser = new Browser();
    const form = onlyForm(await openPage(browser, authUrl(idport, codeRequest('web'))));
    const approval = onlyForm((await browser.submit(form, credentials, REDIRECT)).page);
    const refused = await browser.request(approval.action, {
      form: { req: approval.fields.req ?? '', approval: 'approve' },
    });
    assertErrorPage(refused, 400, CSRF_REFUSED);
  });

  it('uses an authorization request once: a second approval submit gets the expired page', async () => {
    const browser = new Browser();
    const form = onlyForm(await openPage(browser, authUrl(idport, codeRequest('web'))));
    const approval = onlyForm((await browser.submit(form, credentials, REDIRECT)).page);
    const first = await browser.submit(approval, { approval: 'approve' }, REDIRECT);
    assert.ok(responseOf(first.location ?? '').get('code'));
    const second = await browser.request(approval.action, { form: { ...approval.fields, approval: 'approve' } });
    assertErrorPage(second, 400, EXPIRED);
  });

  it('skips the approval page with skipApprovalScreen', async () => {
    const browser = new Browser();
    const form = onlyForm(await openPage(browser, authUrl(skipping, codeRequest('web'))));
    const { location } = await browser.submit(form, credentials, REDIRECT);
    assert.ok(location, 'straight back to the client');
    assert.ok(responseOf(location).get('code'));
  });

  const forcing: Record<string, string>[] = [{ approval_prompt: 'force' }, { prompt: 'consent' }];
  for (const force of forcing) {
    it(`shows the approval page with ${new URLSearchParams(force).toString()} even with skipApprovalScreen`, async () => {
      const browser = new Browser();
      const form = onlyForm(await openPage(browser, authUrl(skipping, codeRequest('web', force))));
      const { page, location } = await browser.submit(form, credentials, REDIRECT);
      assert.equal(location, undefined);
      assert.deepEqual(Object.keys(onlyForm(page).fields).sort(), ['csrf', 'req']);
    });
  }

  it('takes the authorization request as a POST form (OIDC Core §3.1.2.1)', async () => {
    const browser = new Browser();
    const { page } = await browser.follow(`${idport.issuer}/auth`, REDIRECT, {
      method: 'POST',
      form: codeRequest('web', { nonce: 'posted' }),
    });
    const form = onlyForm(page);
    const approval = await browser.submit(form, credentials, REDIRECT);
    const done = await browser.submit(onlyForm(approval.page), { approval: 'approve' }, REDIRECT);
    const code = responseOf(done.location ?? '').get('code') ?? '';
    const tokens = await redeemCode(idport, 'web', code);
    assertTokenResponse(tokens);
    assert.equal(decodeJwt(str(tokens.body, 'id_token')).nonce, 'posted');
  });

  it('tolerates display, ui_locales, claims_locales, acr_values, claims and unknown parameters, in any order', async () => {
    const params = {
      extra: 'foobar',
      acr_values: '1 2',
      claims: JSON.stringify({ id_token: { email: { essential: true } } }),
      claims_locales: 'se',
      ui_locales: 'de-CH fr',
      display: 'popup',
      nonce: 'n',
      ...codeRequest('web', { scope: 'email openid' }),
    };
    const location = await loginThroughPages(new Browser(), authUrl(idport, params), REDIRECT);
    assertTokenResponse(await redeemCode(idport, 'web', responseOf(location).get('code') ?? ''));
    for (const display of ['page', 'touch', 'wap']) {
      await openPage(new Browser(), authUrl(idport, codeRequest('web', { display })));
    }
  });

  it('does not log in with prompt=login alone but shows the password form as usual', async () => {
    await openPage(new Browser(), authUrl(idport, codeRequest('web', { prompt: 'login', max_age: '0' })));
  });
});

describe('connector chooser', () => {
  let idport: TestIdport;
  before(async () => {
    const connector = await mockCallback.open(
      'mock',
      {},
      { log: pino({ level: 'silent' }), fetch, now: () => new Date() },
    );
    idport = await startIdport({
      inProcess: true,
      clients: [confidentialClient('web', [REDIRECT])],
      connectors: [{ id: 'mock', type: 'mockCallback', name: 'Mock', connector }],
    });
  });
  after(async () => idport.close());

  const linksOf = (page: Page): string[] =>
    [...page.body.matchAll(/<a class="button[^"]*" href="([^"]+)">/g)].map(
      (m) => new URL((m[1] ?? '').replace(/&amp;/g, '&'), page.url).href,
    );

  it('shows one link per connector when there are two', async () => {
    const page = await openPage(new Browser(), authUrl(idport, codeRequest('web')));
    assert.deepEqual(formsOf(page), []);
    assert.match(page.body, /Log in with Email/);
    assert.match(page.body, /Log in with Mock/);
    const links = linksOf(page);
    assert.equal(links.length, 2);
    assert.match(links[0] ?? '', new RegExp(`^${idport.issuer}/auth/local\\?req=`));
    assert.match(links[1] ?? '', new RegExp(`^${idport.issuer}/auth/mock\\?req=`));
  });

  it('logs in through a callback connector picked on the chooser, via /callback', async () => {
    const browser = new Browser();
    const chooser = await openPage(browser, authUrl(idport, codeRequest('web', { scope: 'openid email groups' })));
    const mockLink = linksOf(chooser)[1] ?? '';
    const location = await loginThroughPages(browser, mockLink, REDIRECT);
    const tokens = await redeemCode(idport, 'web', responseOf(location).get('code') ?? '');
    const claims = decodeJwt(str(tokens.body, 'id_token'));
    assert.equal(claims.email, 'kilgore@kilgore.trout');
    assert.deepEqual(claims.groups, ['authors']);
  });

  it('skips the chooser with connector_id and offers a way back on the password page', async () => {
    const page = await openPage(new Browser(), authUrl(idport, codeRequest('web', { connector_id: 'local' })));
    assert.match(onlyForm(page).action, new RegExp(`^${idport.issuer}/auth/local/login\\?state=`));
    assert.match(page.body, /Choose another login method/);
  });

  it('keeps the request on the way back to the chooser: response_mode, login_hint and forced consent', async () => {
    const browser = new Browser();
    const params = codeRequest('web', {
      connector_id: 'local',
      response_mode: 'fragment',
      login_hint: 'jane@example.com',
      approval_prompt: 'force',
      nonce: 'n',
    });
    const page = await openPage(browser, authUrl(idport, params));
    const back = /<a href="([^"]+)">Choose another login method<\/a>/.exec(page.body)?.[1] ?? '';
    const chooser = await openPage(browser, new URL(back.replace(/&amp;/g, '&'), page.url).href);
    const password = await openPage(browser, linksOf(chooser)[0] ?? '');
    assert.equal(onlyForm(password).fields.login, 'jane@example.com');
    const location = await loginThroughPages(browser, password.url, REDIRECT);
    const url = new URL(location);
    assert.equal(url.search, '');
    assert.equal(new URLSearchParams(url.hash.slice(1)).get('state'), 'the-state');
  });

  it('refuses a connector that does not exist with a page', async () => {
    const browser = new Browser();
    const chooser = await openPage(browser, authUrl(idport, codeRequest('web')));
    const link = (linksOf(chooser)[0] ?? '').replace('/auth/local?', '/auth/github?');
    assertErrorPage(await browser.request(link), 400, 'Unknown connector "github".');
  });

  it('refuses a callback for a request from another browser', async () => {
    const chooser = await openPage(new Browser(), authUrl(idport, codeRequest('web')));
    const state = new URL(linksOf(chooser)[1] ?? '').searchParams.get('req') ?? '';
    assertErrorPage(await new Browser().request(`${idport.issuer}/callback?state=${state}`), 400, EXPIRED);
  });

  it('does not add a redirect_uri the client left out, so the code is still redeemed without one (RFC 6749 §4.1.3)', async () => {
    const browser = new Browser();
    const params = codeRequest('web', { connector_id: 'local' });
    delete params.redirect_uri;
    const { page } = await browser.follow(authUrl(idport, params), REDIRECT);
    const back = /<a href="([^"]+)">Choose another login method<\/a>/.exec(page.body)?.[1] ?? '';
    assert.ok(back !== '', 'a back link');
    const backUrl = new URL(back.replace(/&amp;/g, '&'), page.url);
    assert.equal(backUrl.searchParams.get('redirect_uri'), null);
    const chooser = await browser.follow(backUrl.href, REDIRECT);
    const local = /href="([^"]*\/auth\/local\?[^"]+)"/.exec(chooser.page.body)?.[1] ?? '';
    const location = await loginThroughPages(
      browser,
      new URL(local.replace(/&amp;/g, '&'), chooser.page.url).href,
      REDIRECT,
    );
    const tokens = await postToken(
      idport,
      { grant_type: 'authorization_code', code: responseOf(location).get('code') ?? '' },
      credentialsOf('web'),
    );
    assertTokenResponse(tokens);
  });
});

/**
 * Pages that tell a person where they are and what to do next: the landing page, 404s that point at discovery, error
 * pages with a next step and the request id, the 429 page's way back, "Signed in as" with a switch of account, the
 * device code on the device approval page, and the logged-out page's link back to the application.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser, formsOf, type HtmlForm, type Page } from '../support/browser.js';
import {
  confidentialClient,
  DEMO_HASH,
  DEMO_PASSWORD,
  demoUser,
  publicClient,
  startIdport,
  type TestIdport,
} from '../support/idport.js';
import { assertSecurityHeaders, authUrl, codeRequest, REDIRECT, redeemCode, responseOf, str } from './helpers.js';

const NOWHERE = 'http://nowhere.invalid/';
const otherUser = { ...demoUser, email: 'jane@example.com', username: 'jane', userId: 'jane-id', hash: DEMO_HASH };

/** The text of the request-id line, which must name the response's own x-request-id. */
const assertRequestId = (page: Page): void => {
  const id = page.headers.get('x-request-id');
  assert.ok(id !== null && id.length > 0);
  assert.ok(page.body.includes(`<code>${id}</code>`), `request id ${id} on the page: ${page.body}`);
};

const onlyForm = (page: Page): HtmlForm => {
  const [form] = formsOf(page);
  assert.ok(form, `a form on ${page.url}: ${page.body.slice(0, 300)}`);
  return form;
};

describe('landing page and 404s', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({ clients: [confidentialClient('web', [REDIRECT])] });
  });
  after(async () => idport.close());

  it('shows a landing page at the issuer URL (with or without the slash) and at the host root', async () => {
    for (const url of [idport.issuer, `${idport.issuer}/`, `${idport.origin}/`]) {
      const page = await new Browser().request(url);
      assert.equal(page.status, 200, url);
      assertSecurityHeaders(page.headers);
      assert.match(page.body, /is an OpenID Connect provider/);
      const discovery = `${idport.issuer}/.well-known/openid-configuration`;
      assert.ok(page.body.includes(`<a href="${discovery}">${discovery}</a>`), url);
      assert.ok(page.body.includes(`<a href="${idport.issuer}/keys">`), url);
      assert.match(page.body, /docs\//);
    }
  });

  it('answers an unknown path with an HTML page for a browser, naming discovery and the request id', async () => {
    const page = await new Browser().request(`${idport.issuer}/nope`, { headers: { accept: 'text/html,*/*' } });
    assert.equal(page.status, 404);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.body, /Page not found/);
    assert.ok(page.body.includes(`${idport.issuer}/.well-known/openid-configuration`));
    assertRequestId(page);
  });

  it('answers an unknown path with JSON naming discovery for an API client', async () => {
    const response = await fetch(`${idport.origin}/nope`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 404);
    const body = (await response.json()) as Record<string, string>;
    assert.equal(body.error, 'not_found');
    assert.ok(body.error_description?.includes(`${idport.issuer}/.well-known/openid-configuration`));
  });
});

describe('error pages', () => {
  let idport: TestIdport;
  let limited: TestIdport;
  before(async () => {
    idport = await startIdport({ clients: [confidentialClient('web', [REDIRECT])] });
    // One failed password per address: the second attempt gets the 429 page.
    const bruteForce = { maxFailures: 5, windowMs: 300_000, lockoutMs: 300_000, maxFailuresPerIP: 1 };
    limited = await startIdport({ clients: [confidentialClient('web', [REDIRECT])], settings: { bruteForce } });
  });
  after(async () => {
    await idport.close();
    await limited.close();
  });

  it('says in plain words that the application is unknown, what to do, and the request id', async () => {
    const page = await new Browser().request(authUrl(idport, codeRequest('nobody')));
    assert.equal(page.status, 400);
    assert.match(page.body, /<h1>This application is not registered<\/h1>/);
    assert.match(page.body, /Tell the application&#39;s administrator/);
    assert.doesNotMatch(page.body, /Bad request|invalid_request/);
    assertRequestId(page);
  });

  it('echoes a caller-supplied request id on the page', async () => {
    const page = await new Browser().request(authUrl(idport, codeRequest('nobody')), {
      headers: { 'x-request-id': 'support-ticket-42' },
    });
    assert.equal(page.headers.get('x-request-id'), 'support-ticket-42');
    assert.ok(page.body.includes('<code>support-ticket-42</code>'));
  });

  it('links the 429 page back to the login form, which still works once the limit has passed', async () => {
    const browser = new Browser();
    const first = await browser.follow(authUrl(limited, codeRequest('web')), REDIRECT);
    const form = onlyForm(first.page);
    const wrong = await browser.request(form.action, { form: { ...form.fields, login: 'x', password: 'y' } });
    assert.equal(wrong.status, 401);
    const page = await browser.request(form.action, { form: { ...form.fields, login: 'x', password: 'y' } });
    assert.equal(page.status, 429);
    const back = /<p class="back"><a href="([^"]+)">Back to the login form<\/a><\/p>/.exec(page.body);
    assert.ok(back?.[1], page.body);
    assertRequestId(page);
    // The link is the form's own address: following it shows the password form of the same request.
    const again = await browser.request(new URL(back[1].replaceAll('&amp;', '&'), page.url).href);
    assert.equal(again.status, 200);
    assert.equal(onlyForm(again).action, form.action);
  });
});

describe('who is signed in', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      clients: [
        confidentialClient('web', [REDIRECT]),
        publicClient('kubectl', []),
        confidentialClient('portal', [REDIRECT], { postLogoutRedirectURIs: ['http://127.0.0.1:5555/bye'] }),
      ],
      passwords: [demoUser, otherUser],
    });
  });
  after(async () => idport.close());

  /** Logs in with the password form and returns the approval page. */
  const approvalPageFor = async (browser: Browser, url: string, login = demoUser.email): Promise<Page> => {
    const first = await browser.follow(url, REDIRECT);
    const step = await browser.submit(onlyForm(first.page), { login, password: DEMO_PASSWORD }, REDIRECT);
    assert.equal(step.location, undefined, 'the approval page, not the client');
    return step.page;
  };

  it('shows "Signed in as" on the approval page, and "Switch account" logs in another user', async () => {
    const browser = new Browser();
    const approval = await approvalPageFor(browser, authUrl(idport, codeRequest('web', { scope: 'openid email' })));
    assert.match(approval.body, /Signed in as <strong>admin@example\.com<\/strong>/);
    assert.match(approval.body, /<button type="submit" form="approval-form" name="approval" value="switch"/);
    const switched = await browser.submit(onlyForm(approval), { approval: 'switch' }, REDIRECT);
    assert.equal(switched.location, undefined);
    const password = onlyForm(switched.page);
    assert.deepEqual(Object.keys(password.fields).sort(), ['csrf', 'login', 'password']);
    const next = await browser.submit(password, { login: otherUser.email, password: DEMO_PASSWORD }, REDIRECT);
    assert.match(next.page.body, /Signed in as <strong>jane@example\.com<\/strong>/);
    const done = await browser.submit(onlyForm(next.page), { approval: 'approve' }, REDIRECT);
    const code = responseOf(done.location ?? '').get('code') ?? '';
    const tokens = await redeemCode(idport, 'web', code);
    assert.equal(decodeJwt(str(tokens.body, 'id_token')).email, otherUser.email);
  });

  it('refuses "Switch account" without the form token', async () => {
    const browser = new Browser();
    const approval = await approvalPageFor(browser, authUrl(idport, codeRequest('web')));
    const { csrf: _dropped, ...fields } = onlyForm(approval).fields;
    const refused = await browser.request(onlyForm(approval).action, { form: { ...fields, approval: 'switch' } });
    assert.equal(refused.status, 400);
    assert.equal(refused.headers.get('location'), null);
  });

  it('shows "Signed in as" on the logout confirmation, and a link back to the application after logout', async () => {
    const browser = new Browser();
    const approval = await approvalPageFor(browser, authUrl(idport, codeRequest('portal')));
    await browser.submit(onlyForm(approval), { approval: 'approve' }, REDIRECT);
    const confirm = await browser.request(`${idport.issuer}/logout?client_id=portal`);
    assert.equal(confirm.status, 200);
    assert.match(confirm.body, /Signed in as <strong>admin@example\.com<\/strong>/);
    const done = await browser.submit(onlyForm(confirm), {}, NOWHERE);
    assert.match(done.page.body, /You have logged out/);
    assert.match(done.page.body, /<a href="http:\/\/127\.0\.0\.1:5555\/bye">Return to portal app<\/a>/);
  });

  it('links the logged-out page to the origin of the redirect URI when no post-logout URI is registered', async () => {
    const browser = new Browser();
    await browser.follow(authUrl(idport, codeRequest('web')), REDIRECT);
    const page = await browser.request(`${idport.issuer}/logout?client_id=web`);
    assert.match(page.body, /<a href="http:\/\/127\.0\.0\.1:5555\/">Return to web app<\/a>/);
    const anonymous = await browser.request(`${idport.issuer}/logout`);
    assert.doesNotMatch(anonymous.body, /Return to/);
  });

  it('shows the user code and "Signed in as" on the device approval page', async () => {
    const response = await fetch(`${idport.issuer}/device/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'kubectl', scope: 'openid email' }).toString(),
    });
    const { user_code: userCode, verification_uri_complete: complete } = (await response.json()) as Record<
      string,
      string
    >;
    assert.ok(userCode && complete);
    const browser = new Browser();
    const entry = await browser.follow(complete, NOWHERE);
    const login = await browser.submit(onlyForm(entry.page), {}, NOWHERE);
    const approval = await browser.submit(
      onlyForm(login.page),
      { login: demoUser.email, password: DEMO_PASSWORD },
      NOWHERE,
    );
    assert.ok(approval.page.body.includes(`<p class="user-code">${userCode}</p>`), approval.page.body);
    assert.match(approval.page.body, /Continue only if this is the code your device shows/);
    assert.match(approval.page.body, /Signed in as <strong>admin@example\.com<\/strong>/);
    const web = await approvalPageFor(new Browser(), authUrl(idport, codeRequest('web')));
    assert.doesNotMatch(web.body, /user-code/, 'no device code on a web login');
  });
});

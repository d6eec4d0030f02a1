/** Response modes: query, fragment, form_post (OAuth 2.0 Form Post Response Mode) and the out-of-band code page. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, formsOf, loginThroughPages, type Page } from '../support/browser.js';
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
  assertSecurityHeaders,
  assertTokenResponse,
  authUrl,
  CHALLENGE,
  codeRequest,
  postToken,
  REDIRECT,
  VERIFIER,
} from './helpers.js';

const OOB = 'urn:ietf:wg:oauth:2.0:oob';

/** Logs in and returns the page idport answers the approval with (the form_post and OOB responses are pages). */
const finalPage = async (browser: Browser, url: string): Promise<Page> => {
  let step = await browser.follow(url, REDIRECT);
  for (let i = 0; i < 3; i++) {
    const [form] = formsOf(step.page);
    if (form === undefined || form.action.startsWith(REDIRECT)) break; // the OOB page has no form
    const values: Record<string, string> =
      'req' in form.fields ? { approval: 'approve' } : { login: demoUser.email, password: DEMO_PASSWORD };
    step = await browser.submit(form, values, REDIRECT);
  }
  assert.equal(step.location, undefined);
  return step.page;
};

/** The form_post page: one POST form to the redirect URI, and the only script an external, same-origin file. */
const assertFormPostPage = (page: Page, issuer: string): Record<string, string> => {
  assert.equal(page.status, 200);
  assertSecurityHeaders(page.headers);
  assert.match(page.headers.get('content-security-policy') ?? '', /form-action 'self' https: http:/);
  const scripts = [...page.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1);
  assert.equal(scripts[0]?.[2], '', 'no inline script');
  assert.match(scripts[0]?.[1] ?? '', new RegExp(`src="${new URL(issuer).pathname}/static/form-post.js"`));
  const [form, extra] = formsOf(page);
  assert.ok(form);
  assert.equal(extra, undefined);
  assert.equal(form.method, 'post');
  assert.equal(form.action, REDIRECT);
  return form.fields;
};

describe('response modes', () => {
  let idport: TestIdport;
  let config: oidc.Configuration;
  before(async () => {
    idport = await startIdport({ clients: [confidentialClient('web', [REDIRECT]), publicClient('cli', [])] });
    config = await oidc.discovery(new URL(idport.issuer), 'web', 'web-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => idport.close());

  it('answers response_mode=form_post with a POST form of code, state and iss that openid-client redeems', async () => {
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      state,
      response_mode: 'form_post',
    });
    const fields = assertFormPostPage(await finalPage(new Browser(), url.href), idport.issuer);
    assert.deepEqual(Object.keys(fields).sort(), ['code', 'iss', 'state']);
    assert.equal(fields.state, state);
    assert.equal(fields.iss, idport.issuer);

    const callback = new Request(REDIRECT, { method: 'POST', body: new URLSearchParams(fields) });
    const tokens = await oidc.authorizationCodeGrant(config, callback, { expectedState: state });
    assert.ok(tokens.id_token);
  });

  it('answers an implicit request with form_post with the ID token in the form, accepted by openid-client', async () => {
    const implicit = await oidc.discovery(new URL(idport.issuer), 'web', 'web-secret', undefined, {
      execute: [oidc.allowInsecureRequests, oidc.useIdTokenResponseType],
    });
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(implicit, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      nonce,
      response_mode: 'form_post',
    });
    const fields = assertFormPostPage(await finalPage(new Browser(), url.href), idport.issuer);
    assert.deepEqual(Object.keys(fields).sort(), ['id_token', 'iss']);
    const claims = await oidc.implicitAuthentication(
      implicit,
      new Request(REDIRECT, { method: 'POST', body: new URLSearchParams(fields) }),
      nonce,
    );
    assert.equal(claims.nonce, nonce);
  });

  it('answers a hybrid request with form_post with code, id_token and access token fields', async () => {
    const page = await finalPage(
      new Browser(),
      authUrl(
        idport,
        codeRequest('web', { response_type: 'code id_token token', nonce: 'n', response_mode: 'form_post' }),
      ),
    );
    const fields = assertFormPostPage(page, idport.issuer);
    assert.deepEqual(Object.keys(fields).sort(), [
      'access_token',
      'code',
      'expires_in',
      'id_token',
      'iss',
      'state',
      'token_type',
    ]);
  });

  it('serves the auto-submit script the form_post page loads', async () => {
    const response = await fetch(`${idport.issuer}/static/form-post.js`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(await response.text(), /HTMLFormElement\.prototype\.submit\.call/);
  });

  it('puts a code response in the fragment with response_mode=fragment, and nothing in the query', async () => {
    const location = await loginThroughPages(
      new Browser(),
      authUrl(idport, codeRequest('web', { response_mode: 'fragment' })),
      REDIRECT,
    );
    const url = new URL(location);
    assert.equal(url.search, '');
    assert.deepEqual([...new URLSearchParams(url.hash.slice(1)).keys()].sort(), ['code', 'iss', 'state']);
  });

  it('puts a plain code response in the query with state and iss (RFC 9207)', async () => {
    const location = await loginThroughPages(new Browser(), authUrl(idport, codeRequest('web')), REDIRECT);
    const url = new URL(location);
    assert.equal(url.hash, '');
    assert.deepEqual([...url.searchParams.keys()].sort(), ['code', 'iss', 'state']);
    assert.ok((url.searchParams.get('code') ?? '').length >= 43, 'a code of at least 256 bits, base64url');
  });

  it('shows the code on a page for an out-of-band public client, and the code redeems', async () => {
    const page = await finalPage(
      new Browser(),
      authUrl(
        idport,
        codeRequest('cli', { redirect_uri: OOB, code_challenge: CHALLENGE, code_challenge_method: 'S256' }),
      ),
    );
    assert.equal(page.status, 200);
    assertSecurityHeaders(page.headers);
    const code = /<pre class="oob-code"[^>]*><code>([^<]+)<\/code><\/pre>/.exec(page.body)?.[1] ?? '';
    assert.ok(code.length >= 43);
    const tokens = await postToken(idport, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: OOB,
      client_id: 'cli',
      code_verifier: VERIFIER,
    });
    assertTokenResponse(tokens);
  });

  it('refuses the out-of-band redirect for a response type other than code with a page', async () => {
    const response = await fetch(
      authUrl(idport, codeRequest('cli', { redirect_uri: OOB, response_type: 'id_token', nonce: 'n' })),
      { redirect: 'manual' },
    );
    assertErrorPage(
      { status: response.status, headers: response.headers, body: await response.text() },
      400,
      'The request failed: invalid_request.',
    );
  });

  it('never lets a confidential client use the out-of-band redirect URI', async () => {
    const response = await fetch(authUrl(idport, codeRequest('web', { redirect_uri: OOB })), { redirect: 'manual' });
    assertErrorPage(
      { status: response.status, headers: response.headers, body: await response.text() },
      400,
      'The redirect_uri is not registered for this client.',
    );
  });
});

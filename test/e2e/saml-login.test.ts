/**
 * SAML end to end: idport started from a Dex-style config.yaml with a `saml` connector in front of an
 * independent IdP (samlify, test/support/saml-idp.ts); openid-client is the application. The browser goes
 * app → idport → IdP → idport's ACS → app. The IdP's POST to the ACS is cross-site, so a real browser sends
 * no SameSite=Lax cookie with it: that hop is made without cookies here.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { Browser, formsOf, type HtmlForm, type Page } from '../support/browser.js';
import { freePort, startFromConfig, type ConfigServer } from '../support/config-server.js';
import { startSamlIdp, type RunningSamlIdp } from '../support/saml-idp.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';
const alice = {
  nameId: 'alice-persistent-id',
  email: 'alice@example.org',
  name: 'Alice Liddell',
  groups: ['wonderland', 'admins'],
};

/** A cross-site POST (the IdP's form to the ACS): the browser withholds SameSite=Lax cookies, so this hop sends none. */
const crossSitePost = (form: HtmlForm): Promise<Page> =>
  new Browser().request(form.action, { method: 'POST', form: form.fields });

const onlyForm = (page: Page, where: string): HtmlForm => {
  const [form] = formsOf(page);
  assert.ok(form, `expected a form at ${where} (status ${page.status}): ${page.body.slice(0, 300)}`);
  return form;
};

describe('SAML login through idport', () => {
  let idp: RunningSamlIdp;
  let idport: ConfigServer;
  let app: oidc.Configuration;
  let acs: string;

  before(async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}/dex`;
    acs = `${issuer}/callback`;
    const entityIssuer = `${issuer}/saml`;
    idp = await startSamlIdp({ spEntityId: entityIssuer, acsUrl: acs, user: alice });
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
- type: saml
  id: corp
  name: Corp SSO
  config:
    ssoURL: ${idp.ssoUrl}
    caData: ${Buffer.from(idp.certificate, 'utf8').toString('base64')}
    entityIssuer: ${entityIssuer}
    ssoIssuer: ${idp.entityId}
    redirectURI: ${acs}
    usernameAttr: name
    emailAttr: email
    groupsAttr: groups
    nameIDPolicyFormat: persistent
`,
      { port },
    );
    app = await oidc.discovery(new URL(idport.issuer), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await idport?.close();
    await idp?.close();
  });
  beforeEach(() => {
    idp.responseOptions = {};
  });

  /** Runs the browser to the IdP and back to idport's ACS; returns the ACS page and the IdP's form. */
  const toAcs = async (
    browser: Browser,
    scope = 'openid email profile groups',
    extra: Record<string, string> = {},
  ): Promise<{ acsPage: Page; idpForm: HtmlForm; state: string }> => {
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(app, { redirect_uri: REDIRECT, scope, state, ...extra });
    const start = await browser.follow(url.href, REDIRECT);
    const toIdp = onlyForm(start.page, 'the AuthnRequest page');
    assert.equal(toIdp.action, idp.ssoUrl);
    assert.deepEqual(Object.keys(toIdp.fields).sort(), ['RelayState', 'SAMLRequest']);
    assert.match(
      start.page.body,
      /<script src="[^"]*form-post\.js"/,
      'submitted by the static script, no inline script',
    );
    const idpPage = await browser.submit(toIdp, {}, REDIRECT);
    const idpForm = onlyForm(idpPage.page, 'the IdP');
    assert.equal(idpForm.action, acs);
    return { acsPage: await crossSitePost(idpForm), idpForm, state };
  };

  /** The ACS page re-posts same-site, where the browser's cookies go along. */
  const continueFrom = (browser: Browser, acsPage: Page) =>
    browser.submit(onlyForm(acsPage, 'the ACS page'), {}, REDIRECT);

  const refusedPage = (step: { page: Page; location?: string }, status: number, text: RegExp): void => {
    assert.equal(step.location, undefined, 'no redirect to the application');
    assert.equal(step.page.status, status);
    assert.match(step.page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(step.page.body, text);
  };

  it('logs in with the IdP user, mapped email and groups in the ID token, and no refresh token', async () => {
    const browser = new Browser();
    const { acsPage, state } = await toAcs(browser, 'openid email profile groups offline_access');
    assert.equal(acsPage.status, 200);
    const done = await continueFrom(browser, acsPage);
    assert.ok(done.location, `the login ended at the application: ${done.page.status} ${done.page.body.slice(0, 300)}`);
    const tokens = await oidc.authorizationCodeGrant(app, new URL(done.location), { expectedState: state });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'app',
    });
    assert.equal(payload.sub, encodeSubject('alice-persistent-id', 'corp'));
    assert.equal(payload.email, 'alice@example.org');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.name, 'Alice Liddell');
    assert.deepEqual(payload.groups, ['wonderland', 'admins']);
    assert.equal(tokens.refresh_token, undefined, 'SAML cannot refresh, so no refresh token even with offline_access');
  });

  it('refuses a response for another audience with an error page', async () => {
    idp.responseOptions = { forge: 'wrongAudience' };
    const browser = new Browser();
    refusedPage(await continueFrom(browser, (await toAcs(browser)).acsPage), 502, /could not be verified/);
  });

  it('refuses a response signed with a key idport does not trust', async () => {
    idp.responseOptions = { forge: 'otherKey' };
    const browser = new Browser();
    refusedPage(await continueFrom(browser, (await toAcs(browser)).acsPage), 502, /could not be verified/);
  });

  it('refuses an unsigned response', async () => {
    idp.responseOptions = { forge: 'unsigned' };
    const browser = new Browser();
    refusedPage(await continueFrom(browser, (await toAcs(browser)).acsPage), 502, /could not be verified/);
  });

  it('refuses an expired assertion', async () => {
    idp.responseOptions = { forge: 'expired' };
    const browser = new Browser();
    refusedPage(await continueFrom(browser, (await toAcs(browser)).acsPage), 502, /could not be verified/);
  });

  it('refuses a replay of the same SAMLResponse, to its own login and to a new one', async () => {
    const browser = new Browser();
    const { acsPage, idpForm } = await toAcs(browser);
    const first = await continueFrom(browser, acsPage);
    assert.ok(first.location, 'the first use logs in');
    // The same POST again: its login is finished and gone.
    refusedPage(await continueFrom(browser, await crossSitePost(idpForm)), 400, /invalid or has expired/);
    // Into a new login of the same browser: it does not answer that login's AuthnRequest (InResponseTo).
    const next = await toAcs(browser, 'openid email', { prompt: 'login' });
    const replayed = await crossSitePost({
      ...idpForm,
      fields: { ...idpForm.fields, RelayState: next.idpForm.fields.RelayState ?? '' },
    });
    refusedPage(await continueFrom(browser, replayed), 502, /could not be verified/);
    // And that login's own response is refused too now: its AuthnRequest was used up by the failed attempt.
    refusedPage(await continueFrom(browser, next.acsPage), 502, /We could not log you in/);
  });

  it('refuses a replay while the logged-in request waits for approval', async () => {
    const browser = new Browser();
    const { acsPage, idpForm } = await toAcs(browser, 'openid email', { approval_prompt: 'force' });
    const first = await continueFrom(browser, acsPage);
    assert.equal(first.location, undefined);
    assert.match(first.page.url, /\/approval\?req=/, 'the first use leads to the approval page');
    refusedPage(await continueFrom(browser, await crossSitePost(idpForm)), 502, /invalid or has expired/);
  });

  it('logs in once when the same response is continued twice at the same moment', async () => {
    const browser = new Browser();
    const { acsPage } = await toAcs(browser, 'openid email');
    const racing = await Promise.all([continueFrom(browser, acsPage), continueFrom(browser, acsPage)]);
    assert.equal(
      racing.filter((step) => step.location !== undefined).length,
      1,
      'one of two simultaneous posts logs in',
    );
  });

  it('refuses a response continued in another browser than the one that started the login (login CSRF)', async () => {
    const victim = new Browser();
    const { acsPage } = await toAcs(victim);
    refusedPage(await continueFrom(new Browser(), acsPage), 400, /invalid or has expired/);
  });

  it('answers a POST to the ACS without a SAMLResponse or RelayState with an error page', async () => {
    const page = await new Browser().request(acs, { method: 'POST', form: { RelayState: 'x' } });
    assert.equal(page.status, 400);
    assert.match(page.body, /sent no login response/);
    const unknown = await new Browser().request(`${idport.issuer}/callback/saml/continue`, {
      method: 'POST',
      form: { SAMLResponse: 'PA==', RelayState: 'unknown' },
    });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body, /invalid or has expired/);
  });
});

/** Browser sessions at the routes: logout ends pending logins, a new user ends the previous session, a re-login keeps it. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser, formsOf } from '../support/browser.js';
import { DEMO_PASSWORD, demoUser } from '../support/idport.js';
import {
  assertErrorPage,
  assertTokenResponse,
  authUrl,
  codeRequest,
  REDIRECT,
  refreshWith,
  str,
} from '../e2e/helpers.js';
import { LOGGED_OUT, startSessionsIdport, type SessionsIdport } from './browser-sessions.js';

const EXPIRED = 'This login request is invalid or has expired. Go back to the application and sign in again.';

describe('browser sessions: logout, user switch and re-login at the routes', () => {
  let s: SessionsIdport;
  before(async () => {
    s = await startSessionsIdport();
  });
  after(async () => s.close());

  it('refuses to approve a pending request once the session it was logged in with has ended (logout on a shared computer)', async () => {
    const browser = new Browser();
    // The user logs in at argocd and stops at its approval page.
    let step = await browser.follow(authUrl(s.idport, codeRequest('argocd')), REDIRECT);
    const [password] = formsOf(step.page);
    assert.ok(password);
    step = await browser.submit(password, { login: demoUser.email, password: DEMO_PASSWORD }, REDIRECT);
    const [approval] = formsOf(step.page);
    assert.ok(approval && 'req' in approval.fields, 'the approval page');
    const approvalUrl = `${s.idport.issuer}/approval?req=${encodeURIComponent(approval.fields.req ?? '')}`;
    // They log out and walk away; the next person at the browser goes back in its history.
    const confirm = await browser.request(s.logoutUrl({}));
    const [logoutForm] = formsOf(confirm);
    assert.ok(logoutForm);
    await browser.submit(logoutForm, {}, LOGGED_OUT);
    assert.equal(await s.isLoggedIn(browser), false);
    assertErrorPage(await browser.request(approvalUrl), 400, EXPIRED);
    const approved = await browser.submit(approval, { approval: 'approve' }, REDIRECT);
    assert.equal(approved.location, undefined, 'no code for the logged-out user');
    assertErrorPage(approved.page, 400, EXPIRED);
  });

  it('ends the previous session properly when another user logs in in the same browser: back-channel logout and session-bound refresh tokens', async () => {
    const browser = new Browser();
    const admin = decodeJwt(str(await s.loginAndRedeem(browser, 'grafana'), 'id_token'));
    const offline = await s.loginAndRedeem(browser, 'argocd', { scope: 'openid offline_access' });
    const sessionRefresh = str(offline, 'refresh_token');
    // Bob logs in on the same browser: admin's session ends here, so it must end as a logout would.
    await s.loginAndRedeem(browser, 'grafana', { prompt: 'login' }, 'bob@example.com');
    for (let i = 0; i < 600 && !s.receiver.sids().includes(String(admin.sid)); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(s.receiver.sids().includes(String(admin.sid)), "grafana was told that admin's session ended");
    const refreshed = await refreshWith(s.idport, 'argocd', sessionRefresh);
    assert.deepEqual(
      { status: refreshed.status, error: refreshed.body.error },
      { status: 400, error: 'invalid_grant' },
    );
  });

  it('keeps consent and session-bound refresh tokens when the same user logs in again (prompt=login)', async () => {
    const browser = new Browser();
    const offline = await s.loginAndRedeem(browser, 'argocd', { scope: 'openid offline_access' });
    await s.loginAndRedeem(browser, 'argocd', { prompt: 'login' });
    assertTokenResponse(await refreshWith(s.idport, 'argocd', str(offline, 'refresh_token')));
  });
});

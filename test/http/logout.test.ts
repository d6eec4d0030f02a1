/** RP-initiated logout at /logout and id_token_hint at /auth: only an ID token this provider issued proves a client. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser } from '../support/browser.js';
import { assertErrorPage, assertErrorRedirect, authUrl, codeRequest, REDIRECT, str } from '../e2e/helpers.js';
import { LOGGED_OUT, PEER_LOGGED_OUT, startSessionsIdport, type SessionsIdport } from './browser-sessions.js';

const NOT_AN_ID_TOKEN = 'The logout request carries an id_token_hint that is not an ID token this provider issued.';

describe('logout and id_token_hint', () => {
  let s: SessionsIdport;
  before(async () => {
    s = await startSessionsIdport();
  });
  after(async () => s.close());

  describe('id_token_hint must be an ID token', () => {
    it('refuses an access token as id_token_hint at /logout: it proves nothing about the client, so no silent logout and no redirect', async () => {
      const browser = new Browser();
      const tokens = await s.loginAndRedeem(browser, 'grafana');
      // The access token carries the same sub and aud, and resource servers (and audience peers) hold it.
      const page = await browser.request(
        s.logoutUrl({ id_token_hint: str(tokens, 'access_token'), post_logout_redirect_uri: LOGGED_OUT }),
      );
      assertErrorPage(page, 400, NOT_AN_ID_TOKEN);
      assert.ok(await s.isLoggedIn(browser), 'still logged in');
    });

    it('refuses a back-channel logout token as id_token_hint at /logout', async () => {
      const browser = new Browser();
      const idToken = decodeJwt(str(await s.loginAndRedeem(browser, 'grafana'), 'id_token'));
      const iat = Math.floor(Date.now() / 1000);
      const logoutToken = await s.idport.provider.signer.sign(
        {
          iss: s.idport.issuer,
          aud: 'grafana',
          iat,
          exp: iat + 120,
          jti: 'j',
          sub: idToken.sub,
          sid: idToken.sid,
          events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        },
        { typ: 'logout+jwt' },
      );
      assertErrorPage(
        await browser.request(s.logoutUrl({ id_token_hint: logoutToken, post_logout_redirect_uri: LOGGED_OUT })),
        400,
        NOT_AN_ID_TOKEN,
      );
      assert.ok(await s.isLoggedIn(browser), 'still logged in');
    });

    it('refuses an access token as id_token_hint at /auth with invalid_request', async () => {
      const browser = new Browser();
      const tokens = await s.loginAndRedeem(browser, 'grafana');
      const step = await browser.follow(
        authUrl(s.idport, codeRequest('grafana', { prompt: 'none', id_token_hint: str(tokens, 'access_token') })),
        REDIRECT,
      );
      assertErrorRedirect(step.location ?? '', {
        error: 'invalid_request',
        description: 'id_token_hint is not an ID token this provider issued',
        state: 'the-state',
        issuer: s.idport.issuer,
      });
    });

    it('still accepts the ID token itself as id_token_hint at /logout', async () => {
      const browser = new Browser();
      const tokens = await s.loginAndRedeem(browser, 'grafana');
      const step = await browser.follow(
        s.logoutUrl({ id_token_hint: str(tokens, 'id_token'), post_logout_redirect_uri: LOGGED_OUT }),
        LOGGED_OUT,
      );
      assert.equal(step.location, LOGGED_OUT);
      assert.equal(await s.isLoggedIn(browser), false);
    });
  });

  it('refuses a client_id at /logout that is only an audience of the id_token_hint, not the client it was issued to', async () => {
    const browser = new Browser();
    const tokens = await s.loginAndRedeem(browser, 'grafana', { scope: 'openid audience:server:client_id:peer' });
    const claims = decodeJwt(str(tokens, 'id_token'));
    assert.deepEqual({ aud: claims.aud, azp: claims.azp }, { aud: ['peer', 'grafana'], azp: 'grafana' });
    // RP-Initiated Logout §2: client_id must be the client the ID token was issued to.
    const page = await browser.request(
      s.logoutUrl({
        id_token_hint: str(tokens, 'id_token'),
        client_id: 'peer',
        post_logout_redirect_uri: PEER_LOGGED_OUT,
      }),
    );
    assertErrorPage(page, 400, 'The client_id does not match the id_token_hint.');
    assert.ok(await s.isLoggedIn(browser), 'still logged in');
  });
});

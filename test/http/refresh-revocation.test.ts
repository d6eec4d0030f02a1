/** Who may revoke a refresh-token family: reading an access token (its `gid`) must not be enough. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser, loginThroughPages } from '../support/browser.js';
import {
  assertJsonError,
  assertTokenResponse,
  authUrl,
  CHALLENGE,
  codeRequest,
  postToken,
  REDIRECT,
  responseOf,
  str,
  VERIFIER,
} from '../e2e/helpers.js';
import { startSessionsIdport, type SessionsIdport } from './browser-sessions.js';

describe('refresh-token family revocation', () => {
  let s: SessionsIdport;
  before(async () => {
    s = await startSessionsIdport();
  });
  after(async () => s.close());

  it('does not let anyone who reads an access token revoke the refresh-token family it came from', async () => {
    // A public client (a CLI): a refresh request needs only its client_id.
    const location = await loginThroughPages(
      new Browser(),
      authUrl(
        s.idport,
        codeRequest('cli', {
          scope: 'openid offline_access',
          code_challenge: CHALLENGE,
          code_challenge_method: 'S256',
        }),
      ),
      REDIRECT,
    );
    const tokens = await postToken(s.idport, {
      grant_type: 'authorization_code',
      code: responseOf(location).get('code') ?? '',
      redirect_uri: REDIRECT,
      client_id: 'cli',
      code_verifier: VERIFIER,
    });
    assertTokenResponse(tokens);
    const refreshed = await postToken(s.idport, {
      grant_type: 'refresh_token',
      refresh_token: str(tokens.body, 'refresh_token'),
      client_id: 'cli',
    });
    assertTokenResponse(refreshed);
    // The access token is read by every API the client calls; its grant reference must not be a refresh-token handle.
    const gid = String(decodeJwt(str(refreshed.body, 'access_token')).gid);
    assert.match(gid, /^r:/);
    const forged = await postToken(s.idport, {
      grant_type: 'refresh_token',
      refresh_token: `${gid.slice(2)}.${'A'.repeat(43)}`,
      client_id: 'cli',
    });
    assertJsonError(forged, 400, 'invalid_grant', 'invalid refresh token');
    assertTokenResponse(
      await postToken(s.idport, {
        grant_type: 'refresh_token',
        refresh_token: str(refreshed.body, 'refresh_token'),
        client_id: 'cli',
      }),
    );
  });
});

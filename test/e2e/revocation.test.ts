/**
 * End to end: a public client (a single-page app or a CLI) driven by openid-client revokes its tokens (RFC 7009). Its
 * access token revokes only itself, so the login's refresh token keeps working; its refresh token ends the login.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { Browser, loginThroughPages } from '../support/browser.js';
import { demoUser, publicClient, startIdport, type TestIdport } from '../support/idport.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';
const SUB = encodeSubject(demoUser.userId, 'local');

/** Whether `promise` failed as openid-client reports a 401 bearer challenge with error="invalid_token". */
const refusedAsInvalidToken = async (promise: Promise<unknown>): Promise<void> => {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof oidc.WWWAuthenticateChallengeError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.cause[0]?.parameters.error, 'invalid_token');
    return true;
  });
};

describe('token revocation by a public client with openid-client', () => {
  let idport: TestIdport;
  let config: oidc.Configuration;

  before(async () => {
    idport = await startIdport({ clients: [publicClient('spa', [REDIRECT])] });
    config = await oidc.discovery(new URL(idport.issuer), 'spa', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => idport.close());

  it('revokes the access token alone, keeps the refresh token working, and revokes the refresh token', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid email offline_access',
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await loginThroughPages(new Browser(), url, REDIRECT);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    assert.ok(tokens.refresh_token);
    assert.equal((await oidc.fetchUserInfo(config, tokens.access_token, SUB)).email, demoUser.email);

    await oidc.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
    await refusedAsInvalidToken(oidc.fetchUserInfo(config, tokens.access_token, SUB));

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.refresh_token);
    assert.equal((await oidc.fetchUserInfo(config, refreshed.access_token, SUB)).email, demoUser.email);

    await oidc.tokenRevocation(config, refreshed.refresh_token);
    await refusedAsInvalidToken(oidc.fetchUserInfo(config, refreshed.access_token, SUB));
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token), (err: unknown) => {
      assert.ok(err instanceof oidc.ResponseBodyError, String(err));
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
  });
});

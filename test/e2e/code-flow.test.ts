/** End to end: openid-client as the relying party logs a user in through idport's password page. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { Browser, loginThroughPages } from '../support/browser.js';
import { confidentialClient, demoUser, startIdport, type TestIdport } from '../support/idport.js';

const REDIRECT = 'http://127.0.0.1:5555/callback';

describe('authorization code flow with openid-client', () => {
  let idport: TestIdport;
  let config: oidc.Configuration;

  before(async () => {
    idport = await startIdport({ clients: [confidentialClient('example-app', [REDIRECT])], signingAlgorithm: 'RS256' });
    config = await oidc.discovery(new URL(idport.issuer), 'example-app', 'example-app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => idport.close());

  it('logs in with code + PKCE, verifies the ID token against /keys, reads userinfo and refreshes', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid email profile groups offline_access',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await loginThroughPages(new Browser(), url, REDIRECT);
    assert.equal(new URL(callback).searchParams.get('iss'), idport.issuer);

    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.refresh_token);
    const idToken = tokens.id_token;
    assert.ok(idToken);
    const jwks = createRemoteJWKSet(new URL(`${idport.issuer}/keys`));
    const { payload, protectedHeader } = await jwtVerify(idToken, jwks, {
      issuer: idport.issuer,
      audience: 'example-app',
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, encodeSubject(demoUser.userId, 'local'));
    assert.equal(payload.email, 'admin@example.com');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.name, 'admin');
    assert.deepEqual(payload.groups, ['admins', 'devs']);
    assert.equal(payload.nonce, nonce);
    assert.equal(typeof payload.auth_time, 'number');
    assert.equal(typeof payload.at_hash, 'string');

    const access = decodeJwt(tokens.access_token);
    assert.equal(access.client_id, 'example-app');
    assert.equal(access.scope, 'openid email profile groups offline_access');

    const info = await oidc.fetchUserInfo(config, tokens.access_token, payload.sub ?? '');
    assert.equal(info.email, 'admin@example.com');
    assert.deepEqual(info.groups, ['admins', 'devs']);

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    assert.notEqual(refreshed.access_token, tokens.access_token);
    const second = decodeJwt(refreshed.id_token ?? '');
    assert.equal(second.sub, payload.sub);
    assert.equal(second.auth_time, payload.auth_time);
    assert.equal(second.iss, payload.iss);
  });
});

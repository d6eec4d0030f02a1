/** End to end: the implicit and hybrid response types (OIDC Core §3.2, §3.3), through openid-client where it supports them. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { Browser, loginThroughPages } from '../support/browser.js';
import { countSignatures } from '../support/signatures.js';
import { confidentialClient, demoUser, startIdport, type TestIdport } from '../support/idport.js';
import {
  assertErrorRedirect,
  authorize,
  authorizeError,
  callUserinfo,
  leftHalfSha256,
  redeemCode,
  REDIRECT,
  str,
} from './helpers.js';

const CLIENT = 'hybrid-app';
const SUB = encodeSubject(demoUser.userId, 'local');

describe('implicit and hybrid flows', () => {
  let idport: TestIdport;
  let verifyIdToken: (token: string) => Promise<JWTPayload>;
  const discover = async (
    execute: ((config: oidc.Configuration) => void)[],
    auth?: oidc.ClientAuth,
  ): Promise<oidc.Configuration> =>
    oidc.discovery(new URL(idport.issuer), CLIENT, `${CLIENT}-secret`, auth, {
      execute: [oidc.allowInsecureRequests, ...execute],
    });

  before(async () => {
    idport = await startIdport({ clients: [confidentialClient(CLIENT, [REDIRECT])] });
    const jwks = createRemoteJWKSet(new URL(`${idport.issuer}/keys`));
    verifyIdToken = async (token) =>
      (await jwtVerify(token, jwks, { issuer: idport.issuer, audience: CLIENT, typ: 'JWT' })).payload;
  });
  after(async () => idport.close());

  it('answers response_type id_token in the fragment with an ID token openid-client accepts, without at_hash', async () => {
    const config = await discover([oidc.useIdTokenResponseType]);
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid email', nonce, state });
    assert.equal(url.searchParams.get('response_type'), 'id_token');
    const signatures = countSignatures(idport.provider);
    const location = await loginThroughPages(new Browser(), url, REDIRECT).finally(signatures.stop);
    // Only what the response delivers is signed: no access token goes out, so none was signed.
    assert.deepEqual(signatures.byType(), { JWT: 1 });
    const callback = new URL(location);
    assert.equal(callback.search, '', 'nothing in the query');
    assert.deepEqual([...new URLSearchParams(callback.hash.slice(1)).keys()].sort(), ['id_token', 'iss', 'state']);

    const claims = await oidc.implicitAuthentication(config, callback, nonce, { expectedState: state });
    assert.equal(claims.sub, SUB);
    assert.equal(claims.nonce, nonce);
    assert.equal(claims.email, demoUser.email);
    // OIDC Core §3.2.2.10: no access token was issued, so there is nothing for at_hash to bind.
    assert.equal(claims.at_hash, undefined);
    assert.equal(claims.c_hash, undefined);
  });

  it('answers response_type "id_token token" with a bearer token bound to the ID token by at_hash', async () => {
    const params = await authorize(idport, {
      client_id: CLIENT,
      redirect_uri: REDIRECT,
      response_type: 'id_token token',
      scope: 'openid profile',
      nonce: 'n-1',
      state: 's-1',
    });
    assert.deepEqual([...params.keys()].sort(), [
      'access_token',
      'expires_in',
      'id_token',
      'iss',
      'state',
      'token_type',
    ]);
    assert.equal(params.get('token_type'), 'Bearer');
    assert.ok(Number(params.get('expires_in')) > 0);
    assert.equal(params.get('state'), 's-1');
    assert.equal(params.get('iss'), idport.issuer);
    const accessToken = params.get('access_token') ?? '';
    const claims = await verifyIdToken(params.get('id_token') ?? '');
    assert.equal(claims.nonce, 'n-1');
    assert.equal(claims.at_hash, leftHalfSha256(accessToken));
    assert.equal(claims.c_hash, undefined);
    assert.equal(claims.sub, SUB);

    const info = await callUserinfo(idport, accessToken);
    assert.equal(info.status, 200);
    assert.deepEqual(info.body, { sub: SUB, name: 'admin' });
  });

  it('answers response_type "code id_token" so openid-client validates c_hash and redeems the code with the same sub', async () => {
    const config = await discover([oidc.useCodeIdTokenResponseType]);
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', nonce, state });
    assert.equal(url.searchParams.get('response_type'), 'code id_token');
    const signatures = countSignatures(idport.provider);
    const location = await loginThroughPages(new Browser(), url, REDIRECT).finally(signatures.stop);
    assert.deepEqual(signatures.byType(), { JWT: 1 }, 'the front channel delivers no access token, so signs none');
    const fragment = new URLSearchParams(new URL(location).hash.slice(1));
    assert.deepEqual([...fragment.keys()].sort(), ['code', 'id_token', 'iss', 'state']);
    const front = await verifyIdToken(fragment.get('id_token') ?? '');
    assert.equal(front.c_hash, leftHalfSha256(fragment.get('code') ?? ''));
    // The front-channel ID token comes with no access token, so it carries no at_hash (OIDC Core §3.3.2.11).
    assert.equal(front.at_hash, undefined);

    const tokens = await oidc.authorizationCodeGrant(config, new URL(location), {
      expectedNonce: nonce,
      expectedState: state,
    });
    const back = tokens.claims();
    assert.ok(back);
    assert.equal(back.sub, front.sub); // OIDC Core §3.3.3.6
    assert.equal(back.sub, SUB);
    assert.equal(back.at_hash, leftHalfSha256(tokens.access_token));
  });

  it('answers response_type "code token" with a code and an access token, and needs no nonce', async () => {
    const params = await authorize(idport, {
      client_id: CLIENT,
      redirect_uri: REDIRECT,
      response_type: 'code token',
      scope: 'openid email',
      state: 's-2',
    });
    assert.deepEqual([...params.keys()].sort(), ['access_token', 'code', 'expires_in', 'iss', 'state', 'token_type']);
    const frontAccess = params.get('access_token') ?? '';
    const front = await callUserinfo(idport, frontAccess);
    assert.equal(front.status, 200);

    const tokens = await redeemCode(idport, CLIENT, params.get('code') ?? '');
    assert.equal(tokens.status, 200);
    const idToken = await verifyIdToken(str(tokens.body, 'id_token'));
    assert.equal(idToken.sub, front.body.sub);
    assert.equal(idToken.nonce, undefined);
  });

  it('answers response_type "code id_token token" with both at_hash and c_hash, and the same sub at /token', async () => {
    const params = await authorize(idport, {
      client_id: CLIENT,
      redirect_uri: REDIRECT,
      response_type: 'code id_token token',
      scope: 'openid',
      nonce: 'n-3',
      state: 's-3',
    });
    assert.deepEqual([...params.keys()].sort(), [
      'access_token',
      'code',
      'expires_in',
      'id_token',
      'iss',
      'state',
      'token_type',
    ]);
    const front = await verifyIdToken(params.get('id_token') ?? '');
    assert.equal(front.at_hash, leftHalfSha256(params.get('access_token') ?? ''));
    assert.equal(front.c_hash, leftHalfSha256(params.get('code') ?? ''));
    assert.equal(front.nonce, 'n-3');

    const tokens = await redeemCode(idport, CLIENT, params.get('code') ?? '');
    const back = await verifyIdToken(str(tokens.body, 'id_token'));
    assert.equal(back.sub, front.sub);
    assert.equal(back.nonce, 'n-3');
    assert.equal(back.auth_time, front.auth_time);
  });

  it('revokes the front-channel access token of a hybrid response when its code is replayed', async () => {
    const params = await authorize(idport, {
      client_id: CLIENT,
      redirect_uri: REDIRECT,
      response_type: 'code token',
      scope: 'openid',
      state: 's-4',
    });
    const code = params.get('code') ?? '';
    assert.equal((await redeemCode(idport, CLIENT, code)).status, 200);
    assert.equal((await redeemCode(idport, CLIENT, code)).status, 400);
    const info = await callUserinfo(idport, params.get('access_token') ?? '');
    assert.equal(info.status, 401);
    assert.deepEqual(info.body, { error: 'invalid_token', error_description: 'the access token was revoked' });
  });

  for (const responseType of ['id_token', 'id_token token', 'code id_token', 'code id_token token']) {
    it(`refuses response_type "${responseType}" without a nonce with invalid_request in the fragment`, async () => {
      const location = await authorizeError(idport, {
        client_id: CLIENT,
        redirect_uri: REDIRECT,
        response_type: responseType,
        scope: 'openid',
        state: 'no-nonce',
      });
      assertErrorRedirect(location, {
        error: 'invalid_request',
        description: 'nonce is required for this response_type',
        state: 'no-nonce',
        issuer: idport.issuer,
        mode: 'fragment',
      });
    });
  }
});

/** The UserInfo endpoint (OIDC Core §5.3) with bearer tokens (RFC 6750), and the access token's RFC 9068 shape. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { ManualClock } from '../../src/deps.js';
import { confidentialClient, demoUser, startIdport, type TestIdport } from '../support/idport.js';
import { testFetch } from '../support/in-process.js';
import {
  authorize,
  callUserinfo,
  codeRequest,
  redeemCode,
  REDIRECT,
  str,
  type JsonResponse,
  type UserinfoMethod,
} from '../e2e/helpers.js';

const assertInvalidToken = (response: JsonResponse, description: string): void => {
  assert.deepEqual(
    { status: response.status, body: response.body },
    { status: 401, body: { error: 'invalid_token', error_description: description } },
  );
  assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="idport", error="invalid_token"');
  assert.equal(response.headers.get('cache-control'), 'no-store');
};

describe('userinfo', () => {
  let idport: TestIdport;
  let clock: ManualClock;
  let tokens: Record<string, unknown>;
  before(async () => {
    clock = new ManualClock(new Date());
    idport = await startIdport({
      inProcess: true,
      clients: [confidentialClient('web', [REDIRECT])],
      clock,
      signingAlgorithm: 'RS256',
    });
    const params = await authorize(idport, codeRequest('web', { scope: 'openid profile email groups federated:id' }));
    tokens = (await redeemCode(idport, 'web', params.get('code') ?? '')).body;
  });
  after(async () => idport.close());

  const methods: UserinfoMethod[] = ['GET header', 'POST header', 'POST body'];
  for (const method of methods) {
    it(`returns the claims the scopes allow for a bearer token sent by ${method}`, async () => {
      const response = await callUserinfo(idport, str(tokens, 'access_token'), method);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(response.body, {
        sub: decodeJwt(str(tokens, 'id_token')).sub,
        email: demoUser.email,
        email_verified: true,
        name: 'admin',
        groups: ['admins', 'devs'],
        federated_claims: { connector_id: 'local', user_id: demoUser.userId },
      });
    });
  }

  it('returns only sub for a token with the openid scope alone', async () => {
    const params = await authorize(idport, codeRequest('web'));
    const minimal = (await redeemCode(idport, 'web', params.get('code') ?? '')).body;
    assert.deepEqual((await callUserinfo(idport, str(minimal, 'access_token'))).body, {
      sub: decodeJwt(str(minimal, 'id_token')).sub,
    });
  });

  it('accepts the bearer scheme in any case (RFC 7235 §2.1)', async () => {
    const response = await testFetch(`${idport.issuer}/userinfo`, {
      headers: { authorization: `bearer ${str(tokens, 'access_token')}` },
    });
    assert.equal(response.status, 200);
  });

  it('refuses a request without a token with 401 and WWW-Authenticate', async () => {
    assertInvalidToken(await callUserinfo(idport, '', 'POST body'), 'an access token is required');
    const response = await testFetch(`${idport.issuer}/userinfo`, {
      headers: { authorization: 'Basic d2ViOndlYi1zZWNyZXQ=' },
    });
    const body: unknown = await response.json();
    assert.ok(typeof body === 'object' && body !== null);
    assertInvalidToken(
      { status: response.status, headers: response.headers, body: { ...body } },
      'an access token is required',
    );
  });

  it('refuses a malformed or tampered token with invalid_token', async () => {
    assertInvalidToken(await callUserinfo(idport, 'not-a-jwt'), 'the access token is invalid or expired');
    const [header, payload, signature] = str(tokens, 'access_token').split('.');
    const claims = { ...decodeJwt(str(tokens, 'access_token')), sub: 'someone-else' };
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    assert.notEqual(payload, forged.split('.')[1]);
    assertInvalidToken(await callUserinfo(idport, forged), 'the access token is invalid or expired');
  });

  it('refuses an ID token presented as an access token (typ at+jwt, RFC 9068 §4)', async () => {
    assertInvalidToken(await callUserinfo(idport, str(tokens, 'id_token')), 'the access token is invalid or expired');
  });

  it('refuses a token sent both in the header and in the body with invalid_request (RFC 6750 §2)', async () => {
    const token = str(tokens, 'access_token');
    const response = await testFetch(`${idport.issuer}/userinfo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: token }).toString(),
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: 'invalid_request',
      error_description: 'send the access token only once',
    });
  });

  it('issues access tokens as RFC 9068 JWTs: typ at+jwt, iss, sub, aud, client_id, scope, jti, iat and exp', async () => {
    const accessToken = str(tokens, 'access_token');
    const header = decodeProtectedHeader(accessToken);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'RS256');
    assert.equal(typeof header.kid, 'string');
    const claims = decodeJwt(accessToken);
    assert.equal(claims.iss, idport.issuer);
    assert.equal(claims.sub, decodeJwt(str(tokens, 'id_token')).sub);
    assert.equal(claims.aud, 'web');
    assert.equal(claims.client_id, 'web');
    assert.equal(claims.scope, 'openid profile email groups federated:id');
    assert.ok(
      typeof claims.jti === 'string' && Buffer.from(claims.jti, 'base64url').length >= 16,
      'jti of at least 128 bits',
    );
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), tokens.expires_in);
  });

  it('refuses an access token once it has expired', async () => {
    clock.advance(24 * 3600_000 + 60_000);
    assertInvalidToken(
      await callUserinfo(idport, str(tokens, 'access_token')),
      'the access token is invalid or expired',
    );
  });
});

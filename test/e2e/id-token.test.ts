/** ID token claims per scope, Dex's `sub`, audience scopes with trustedPeers, and token strength. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { decodeSubject, encodeSubject } from '../../src/oauth/primitives/subject.js';
import { Browser, loginThroughPages } from '../support/browser.js';
import { confidentialClient, demoUser, startIdport, type TestIdport } from '../support/idport.js';
import {
  assertTokenResponse,
  authorize,
  codeRequest,
  redeemCode,
  REDIRECT,
  str,
  type JsonResponse,
} from './helpers.js';

describe('ID token claims and scopes', () => {
  let idport: TestIdport;
  let verify: (token: string, audience: string) => Promise<JWTPayload>;
  before(async () => {
    idport = await startIdport({
      signingAlgorithm: 'RS256',
      clients: [
        confidentialClient('web', [REDIRECT]),
        confidentialClient('api', [REDIRECT], { trustedPeers: ['web'] }),
      ],
    });
    const jwks = createRemoteJWKSet(new URL(`${idport.issuer}/keys`));
    verify = async (token, audience) =>
      (await jwtVerify(token, jwks, { issuer: idport.issuer, audience, algorithms: ['RS256'] })).payload;
  });
  after(async () => idport.close());

  const tokensFor = async (extra: Record<string, string>): Promise<JsonResponse> => {
    const params = await authorize(idport, codeRequest('web', extra));
    const tokens = await redeemCode(idport, 'web', params.get('code') ?? '');
    assertTokenResponse(tokens);
    return tokens;
  };

  it("encodes sub Dex's way: it decodes to the user id on connector local", async () => {
    assert.equal(encodeSubject('2342749', 'github'), 'CgcyMzQyNzQ5EgZnaXRodWI'); // Dex's documented example
    const claims = await verify(str((await tokensFor({})).body, 'id_token'), 'web');
    assert.deepEqual(decodeSubject(claims.sub ?? ''), { userId: demoUser.userId, connectorId: 'local' });
  });

  it('carries the standard claims with sane times and no profile or email claims for openid alone', async () => {
    const before = Math.floor(Date.now() / 1000);
    const claims = await verify(str((await tokensFor({ nonce: 'abc' })).body, 'id_token'), 'web');
    assert.deepEqual(Object.keys(claims).sort(), [
      'at_hash',
      'aud',
      'auth_time',
      'azp',
      'exp',
      'iat',
      'iss',
      'nonce',
      'sid',
      'sub',
    ]);
    assert.equal(claims.nonce, 'abc');
    assert.equal(claims.azp, 'web');
    const now = Math.floor(Date.now() / 1000);
    assert.ok((claims.iat ?? 0) >= before - 1 && (claims.iat ?? 0) <= now);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 24 * 3600);
    assert.ok(typeof claims.auth_time === 'number' && claims.auth_time <= (claims.iat ?? 0));
  });

  it('releases email, profile, groups and federated claims only for their scopes', async () => {
    const claims = await verify(
      str((await tokensFor({ scope: 'openid email profile groups federated:id' })).body, 'id_token'),
      'web',
    );
    assert.equal(claims.email, demoUser.email);
    assert.equal(claims.email_verified, true);
    assert.equal(claims.name, 'admin');
    assert.deepEqual(claims.groups, ['admins', 'devs']);
    assert.deepEqual(claims.federated_claims, { connector_id: 'local', user_id: demoUser.userId });
    const emailOnly = await verify(str((await tokensFor({ scope: 'openid email' })).body, 'id_token'), 'web');
    assert.equal(emailOnly.name, undefined);
    assert.equal(emailOnly.groups, undefined);
  });

  it('adds a trusting peer to aud with the requester as azp for audience:server:client_id:X', async () => {
    const config = await oidc.discovery(new URL(idport.issuer), 'web', 'web-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid audience:server:client_id:api',
      state,
    });
    const tokens = await oidc.authorizationCodeGrant(
      config,
      new URL(await loginThroughPages(new Browser(), url, REDIRECT)),
      { expectedState: state },
    );
    const claims = await verify(tokens.id_token ?? '', 'api');
    assert.deepEqual(claims.aud, ['api', 'web']);
    assert.equal(claims.azp, 'web');
    assert.deepEqual(decodeJwt(tokens.access_token).aud, ['api', 'web']);
  });

  it('issues codes and tokens of at least 128 bits and stores only their hashes', async () => {
    const params = await authorize(idport, codeRequest('web', { scope: 'openid offline_access' }), new Browser());
    const code = params.get('code') ?? '';
    const tokens = await redeemCode(idport, 'web', code);
    const refresh = str(tokens.body, 'refresh_token');
    const [familyId = '', secret = ''] = refresh.split('.');
    assert.ok(Buffer.from(code, 'base64url').length >= 16, 'code');
    assert.ok(Buffer.from(familyId, 'base64url').length >= 16, 'refresh family id');
    assert.ok(Buffer.from(secret, 'base64url').length >= 16, 'refresh secret');
    const jti = decodeJwt(str(tokens.body, 'access_token')).jti ?? '';
    assert.ok(Buffer.from(jti, 'base64url').length >= 16, 'access token jti');

    const stored = JSON.stringify([await idport.storage.authCodes.list(), await idport.storage.refreshTokens.list()]);
    assert.ok(!stored.includes(code), 'no raw code in storage');
    assert.ok(!stored.includes(secret), 'no raw refresh secret in storage');
  });
});

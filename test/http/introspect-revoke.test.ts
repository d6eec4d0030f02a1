/**
 * Token introspection (RFC 7662) at /token/introspect and revocation (RFC 7009) at /token/revoke: client
 * authentication, access tokens judged by signature, expiry and grant, refresh tokens only for their own client,
 * and revocation ending a whole grant.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { ManualClock } from '../../src/deps.js';
import {
  confidentialClient,
  DEMO_PASSWORD,
  demoUser,
  publicClient,
  startIdport,
  type TestIdport,
} from '../support/idport.js';
import { testFetch } from '../support/in-process.js';
import {
  assertJsonError,
  assertTokenResponse,
  authorize,
  basicAuth,
  callUserinfo,
  CHALLENGE,
  codeRequest,
  credentialsOf,
  postToken,
  redeemCode,
  REDIRECT,
  refreshWith,
  str,
  VERIFIER,
  type ClientCredentials,
  type JsonResponse,
} from '../e2e/helpers.js';

const HOUR = 3600_000;
/** The demo user with a preferred username, which introspection reports as `username` under the profile scope. */
const user = { ...demoUser, preferredUsername: 'admin' };

/** POSTs a form to /token/introspect or /token/revoke, with Basic client authentication when credentials are given. */
const postTo = async (
  idport: TestIdport,
  path: '/token/introspect' | '/token/revoke',
  form: Record<string, string>,
  credentials?: ClientCredentials,
) => {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (credentials !== undefined) headers.authorization = basicAuth(credentials);
  const response = await testFetch(`${idport.issuer}${path}`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form).toString(),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
};

const introspect = async (idport: TestIdport, token: string, clientId = 'api', extra: Record<string, string> = {}) =>
  postTo(idport, '/token/introspect', { token, ...extra }, credentialsOf(clientId));

/** Asserts an introspection answer: 200, never cached, exactly this body. */
const assertIntrospection = (response: Awaited<ReturnType<typeof introspect>>, body: Record<string, unknown>): void => {
  assert.equal(response.status, 200, response.text);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(response.body, body);
};

const INACTIVE = { active: false };

/** Asserts a revocation answer: 200 with an empty body (RFC 7009 §2.2). */
const assertRevoked = (response: Awaited<ReturnType<typeof postTo>>): void => {
  assert.equal(response.status, 200, response.text);
  assert.equal(response.text, '');
  assert.equal(response.headers.get('cache-control'), 'no-store');
};

const revoke = async (idport: TestIdport, token: string, clientId = 'web', extra: Record<string, string> = {}) =>
  postTo(idport, '/token/revoke', { token, ...extra }, credentialsOf(clientId));

/** Logs in through the pages and redeems the code: access tokens with `gid` c:, and a refresh token with offline_access. */
const codeFlow = async (
  idport: TestIdport,
  scope = 'openid profile offline_access',
  clientId = 'web',
): Promise<JsonResponse> => {
  const params = await authorize(idport, codeRequest(clientId, { scope }));
  const tokens = await redeemCode(idport, clientId, params.get('code') ?? '');
  assertTokenResponse(tokens);
  return tokens;
};

const accessToken = (response: JsonResponse): string => str(response.body, 'access_token');
const refreshToken = (response: JsonResponse): string => str(response.body, 'refresh_token');

const CLIENTS = [
  confidentialClient('web', [REDIRECT]),
  confidentialClient('api', [REDIRECT]),
  publicClient('cli', [REDIRECT]),
];

describe('token introspection', () => {
  let idport: TestIdport;
  let clock: ManualClock;
  before(async () => {
    clock = new ManualClock(new Date());
    idport = await startIdport({
      inProcess: true,
      clients: CLIENTS,
      passwords: [user],
      clock,
      settings: {
        accessTokenTtlMs: HOUR,
        idTokenTtlMs: HOUR,
        refresh: { disableRotation: false, reuseIntervalMs: 0, absoluteLifetimeMs: 30 * 24 * HOUR },
      },
    });
  });
  after(async () => idport.close());

  it('reports a live access token as active to any authenticated client, with its claims', async () => {
    const tokens = await codeFlow(idport);
    const claims = decodeJwt(accessToken(tokens));
    for (const caller of ['api', 'web']) {
      assertIntrospection(await introspect(idport, accessToken(tokens), caller), {
        active: true,
        scope: 'openid profile offline_access',
        client_id: 'web',
        username: 'admin',
        token_type: 'Bearer',
        token_use: 'access_token',
        exp: claims.exp,
        iat: claims.iat,
        sub: claims.sub,
        aud: 'web',
        iss: idport.issuer,
        jti: claims.jti,
      });
    }
  });

  it('leaves username out when the token was issued without the profile scope, and ignores token_type_hint', async () => {
    const tokens = await codeFlow(idport, 'openid');
    const claims = decodeJwt(accessToken(tokens));
    assertIntrospection(await introspect(idport, accessToken(tokens), 'api', { token_type_hint: 'refresh_token' }), {
      active: true,
      scope: 'openid',
      client_id: 'web',
      token_type: 'Bearer',
      token_use: 'access_token',
      exp: claims.exp,
      iat: claims.iat,
      sub: claims.sub,
      aud: 'web',
      iss: idport.issuer,
      jti: claims.jti,
    });
  });

  it('reports an expired access token as inactive', async () => {
    const tokens = await codeFlow(idport, 'openid');
    clock.advance(HOUR + 1_000);
    assertIntrospection(await introspect(idport, accessToken(tokens)), INACTIVE);
  });

  it('reports an access token whose grant was revoked by a replayed code as inactive', async () => {
    const params = await authorize(idport, codeRequest('web', { scope: 'openid' }));
    const code = params.get('code') ?? '';
    const tokens = await redeemCode(idport, 'web', code);
    assertTokenResponse(tokens);
    assertJsonError(await redeemCode(idport, 'web', code), 400, 'invalid_grant', 'authorization code already used');
    assertIntrospection(await introspect(idport, accessToken(tokens)), INACTIVE);
  });

  it('reports a refresh token as active to the client it was issued to, and inactive to any other client', async () => {
    const tokens = await codeFlow(idport);
    const claims = decodeJwt(accessToken(tokens));
    const issuedAt = Math.floor(clock.now().getTime() / 1000);
    assertIntrospection(await introspect(idport, refreshToken(tokens), 'web', { token_type_hint: 'refresh_token' }), {
      active: true,
      scope: 'openid profile offline_access',
      client_id: 'web',
      username: 'admin',
      token_use: 'refresh_token',
      exp: issuedAt + 30 * 24 * 3600,
      iat: issuedAt,
      sub: claims.sub,
      aud: 'web',
      iss: idport.issuer,
    });
    assertIntrospection(await introspect(idport, refreshToken(tokens), 'api'), INACTIVE);
  });

  it('reports a rotated-away refresh token as inactive without revoking its family', async () => {
    const first = await codeFlow(idport);
    const second = await refreshWith(idport, 'web', refreshToken(first));
    assertTokenResponse(second);
    assertIntrospection(await introspect(idport, refreshToken(first), 'web'), INACTIVE);
    assert.equal((await introspect(idport, refreshToken(second), 'web')).body.active, true);
    assertTokenResponse(await refreshWith(idport, 'web', refreshToken(second)));
  });

  it('reports garbage, forged and foreign tokens as inactive, never as an error', async () => {
    const tokens = await codeFlow(idport, 'openid');
    const [header, payload] = accessToken(tokens).split('.');
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    for (const token of [
      'garbage',
      'a.b',
      'a.b.c',
      `${refreshToken(await codeFlow(idport))}x`,
      forged,
      str(tokens.body, 'id_token'),
    ]) {
      assertIntrospection(await introspect(idport, token), INACTIVE);
    }
  });

  it('requires an authenticated confidential client', async () => {
    const noAuth = await postTo(idport, '/token/introspect', { token: 'garbage' });
    assert.equal(noAuth.status, 401);
    assert.deepEqual(noAuth.body, { error: 'invalid_client', error_description: 'client authentication required' });
    const wrong = await postTo(idport, '/token/introspect', { token: 'garbage' }, { id: 'api', secret: 'wrong' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, { error: 'invalid_client', error_description: 'invalid client credentials' });
    assert.equal(wrong.headers.get('www-authenticate'), 'Basic realm="idport"');
    const publicCaller = await postTo(idport, '/token/introspect', { token: 'garbage', client_id: 'cli' });
    assert.equal(publicCaller.status, 401);
    assert.deepEqual(publicCaller.body, {
      error: 'invalid_client',
      error_description: 'public clients may not introspect tokens',
    });
  });

  it('requires the token parameter', async () => {
    const response = await postTo(idport, '/token/introspect', {}, credentialsOf('api'));
    assert.equal(response.status, 400);
    assert.deepEqual(response.body, { error: 'invalid_request', error_description: 'token is required' });
  });
});

describe('token revocation', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      inProcess: true,
      clients: CLIENTS,
      passwords: [user],
      settings: { grantTypes: ['authorization_code', 'refresh_token', 'password'], passwordConnector: 'local' },
    });
  });
  after(async () => idport.close());

  it('revokes a refresh token: it no longer refreshes, and every access token of its grant is revoked', async () => {
    const tokens = await codeFlow(idport);
    const refreshed = await refreshWith(idport, 'web', refreshToken(tokens));
    assertTokenResponse(refreshed);
    assertRevoked(await revoke(idport, refreshToken(refreshed), 'web', { token_type_hint: 'refresh_token' }));
    assertJsonError(
      await refreshWith(idport, 'web', refreshToken(refreshed)),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
    // RFC 7009 §2.1: the access tokens of the same grant go too — the refreshed one and the one from the code exchange.
    for (const token of [accessToken(refreshed), accessToken(tokens)]) {
      assertJsonError(await callUserinfo(idport, token), 401, 'invalid_token', 'the access token was revoked');
    }
    assertIntrospection(await introspect(idport, accessToken(tokens)), INACTIVE);
  });

  it('revokes an access token through its grant: /userinfo answers 401 and its refresh token fails', async () => {
    const tokens = await codeFlow(idport);
    assert.equal((await callUserinfo(idport, accessToken(tokens))).status, 200);
    assertRevoked(await revoke(idport, accessToken(tokens), 'web', { token_type_hint: 'access_token' }));
    const info = await callUserinfo(idport, accessToken(tokens));
    assertJsonError(info, 401, 'invalid_token', 'the access token was revoked');
    assert.equal(info.headers.get('www-authenticate'), 'Bearer realm="idport", error="invalid_token"');
    assertJsonError(
      await refreshWith(idport, 'web', refreshToken(tokens)),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
  });

  it('revokes an access token from a refresh, and one from a password grant with a refresh token', async () => {
    const refreshed = await refreshWith(idport, 'web', refreshToken(await codeFlow(idport)));
    assertTokenResponse(refreshed);
    const password = await postToken(
      idport,
      { grant_type: 'password', username: user.email, password: DEMO_PASSWORD, scope: 'openid offline_access' },
      credentialsOf('web'),
    );
    assertTokenResponse(password);
    for (const tokens of [refreshed, password]) {
      assertRevoked(await revoke(idport, accessToken(tokens)));
      assertJsonError(
        await callUserinfo(idport, accessToken(tokens)),
        401,
        'invalid_token',
        'the access token was revoked',
      );
      assertJsonError(
        await refreshWith(idport, 'web', refreshToken(tokens)),
        400,
        'invalid_grant',
        'invalid refresh token',
      );
    }
  });

  it('does nothing when another client revokes the tokens, and still answers 200', async () => {
    const tokens = await codeFlow(idport);
    assertRevoked(await revoke(idport, refreshToken(tokens), 'api'));
    assertRevoked(await revoke(idport, accessToken(tokens), 'api'));
    assert.equal((await callUserinfo(idport, accessToken(tokens))).status, 200);
    assertTokenResponse(await refreshWith(idport, 'web', refreshToken(tokens)));
  });

  it('lets a public client revoke its own refresh token with its client_id alone (RFC 7009 §2.1)', async () => {
    const params = await authorize(
      idport,
      codeRequest('cli', { scope: 'openid offline_access', code_challenge: CHALLENGE, code_challenge_method: 'S256' }),
    );
    const tokens = await postToken(idport, {
      grant_type: 'authorization_code',
      code: params.get('code') ?? '',
      redirect_uri: REDIRECT,
      client_id: 'cli',
      code_verifier: VERIFIER,
    });
    assertTokenResponse(tokens);
    assertRevoked(await postTo(idport, '/token/revoke', { token: refreshToken(tokens), client_id: 'cli' }));
    const refreshed = await postToken(idport, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken(tokens),
      client_id: 'cli',
    });
    assertJsonError(refreshed, 400, 'invalid_grant', 'invalid refresh token');
  });

  it('answers 200 for unknown, malformed and already revoked tokens, whatever the hint', async () => {
    const tokens = await codeFlow(idport);
    assertRevoked(await revoke(idport, refreshToken(tokens)));
    for (const [token, hint] of [
      [refreshToken(tokens), 'refresh_token'],
      ['garbage', 'access_token'],
      ['a.b.c', 'refresh_token'],
      ['x.y', 'something_else'],
    ] as const) {
      assertRevoked(await revoke(idport, token, 'web', { token_type_hint: hint }));
    }
  });

  it('requires client authentication and the token parameter', async () => {
    const wrong = await postTo(idport, '/token/revoke', { token: 'garbage' }, { id: 'web', secret: 'wrong' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, { error: 'invalid_client', error_description: 'invalid client credentials' });
    const noAuth = await postTo(idport, '/token/revoke', { token: 'garbage' });
    assert.equal(noAuth.status, 401);
    assert.deepEqual(noAuth.body, { error: 'invalid_client', error_description: 'client authentication required' });
    const noToken = await postTo(idport, '/token/revoke', {}, credentialsOf('web'));
    assert.equal(noToken.status, 400);
    assert.deepEqual(noToken.body, { error: 'invalid_request', error_description: 'token is required' });
  });
});

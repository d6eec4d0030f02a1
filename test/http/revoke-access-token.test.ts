/**
 * Revoking access tokens (RFC 7009) through the deny-list by `jti`: every access token idport issues can be revoked,
 * with or without a grant; a public client's access token revokes only itself, never the refresh-token family; a
 * revoked token is refused by /userinfo (RFC 6750) and inactive at introspection (RFC 7662) until it expires, and
 * garbage collection removes the entry after that.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { mockCallback } from '../../connectors/mock/mock.js';
import { ManualClock } from '../../src/deps.js';
import { DENY_LIST_MARGIN_MS } from '../../src/oauth/tokens/deny-list.js';
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
  REDIRECT,
  str,
  VERIFIER,
  type JsonResponse,
} from '../e2e/helpers.js';

const HOUR = 3600_000;
const CLIENTS = [
  confidentialClient('web', [REDIRECT]),
  confidentialClient('api', [REDIRECT]),
  publicClient('cli', [REDIRECT]),
];
const SETTINGS = {
  accessTokenTtlMs: HOUR,
  idTokenTtlMs: HOUR,
  grantTypes: ['authorization_code', 'refresh_token', 'password', 'client_credentials'],
  passwordConnector: 'local',
};

/** POSTs a form to /token/revoke or /token/introspect: Basic authentication for a confidential client, else client_id. */
const postTo = async (idport: TestIdport, path: string, token: string, clientId: string) => {
  const confidential = clientId !== 'cli';
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (confidential) headers.authorization = basicAuth(credentialsOf(clientId));
  const form: Record<string, string> = confidential ? { token } : { token, client_id: clientId };
  const response = await testFetch(`${idport.issuer}${path}`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form).toString(),
  });
  const text = await response.text();
  return { status: response.status, text, cacheControl: response.headers.get('cache-control') };
};

/** Revokes `token` as `clientId` and asserts RFC 7009 §2.2's answer: 200, empty, never cached. */
const revoke = async (idport: TestIdport, token: string, clientId: string): Promise<void> => {
  const response = await postTo(idport, '/token/revoke', token, clientId);
  assert.deepEqual(response, { status: 200, text: '', cacheControl: 'no-store' });
};

/** Whether introspection (asked by the confidential client `api`) reports the token as active. */
const isActive = async (idport: TestIdport, token: string): Promise<boolean> => {
  const response = await postTo(idport, '/token/introspect', token, 'api');
  assert.equal(response.status, 200, response.text);
  const body = JSON.parse(response.text) as { active: boolean };
  if (!body.active) assert.deepEqual(body, { active: false });
  return body.active;
};

/** Asserts that /userinfo and introspection accept the access token. */
const assertAccepted = async (idport: TestIdport, token: string): Promise<void> => {
  assert.equal((await callUserinfo(idport, token)).status, 200);
  assert.equal(await isActive(idport, token), true);
};

/** Asserts that /userinfo refuses the access token as revoked (RFC 6750 §3.1) and introspection reports it inactive. */
const assertRevoked = async (idport: TestIdport, token: string): Promise<void> => {
  const info = await callUserinfo(idport, token);
  assertJsonError(info, 401, 'invalid_token', 'the access token was revoked');
  assert.equal(info.headers.get('www-authenticate'), 'Bearer realm="idport", error="invalid_token"');
  assert.equal(await isActive(idport, token), false);
};

const accessToken = (response: JsonResponse): string => str(response.body, 'access_token');

/** The code flow for the public client `cli` with PKCE and offline_access: an access and a refresh token. */
const publicCodeFlow = async (idport: TestIdport): Promise<JsonResponse> => {
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
  return tokens;
};

const publicRefresh = async (idport: TestIdport, refreshToken: string): Promise<JsonResponse> =>
  postToken(idport, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'cli' });

/** An implicit-flow access token (`id_token token`): it names no grant. */
const implicitToken = async (idport: TestIdport, clientId: string): Promise<string> => {
  const params = await authorize(idport, {
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'id_token token',
    scope: 'openid',
    nonce: 'the-nonce',
    state: 'the-state',
  });
  const token = params.get('access_token');
  assert.ok(token !== null, `no access token in ${params.toString()}`);
  assert.equal(decodeJwt(token).gid, undefined);
  return token;
};

/** A password-grant access token for `web` without offline_access: no refresh token, no grant. */
const passwordToken = async (idport: TestIdport): Promise<string> => {
  const response = await postToken(
    idport,
    { grant_type: 'password', username: demoUser.email, password: DEMO_PASSWORD, scope: 'openid profile' },
    credentialsOf('web'),
  );
  assertTokenResponse(response);
  assert.equal(response.body.refresh_token, undefined);
  assert.equal(decodeJwt(accessToken(response)).gid, undefined);
  return accessToken(response);
};

describe('access token revocation', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({ inProcess: true, clients: CLIENTS, settings: SETTINGS });
  });
  after(async () => idport.close());

  it('revokes only the access token a public client presents: its refresh token keeps refreshing', async () => {
    const tokens = await publicCodeFlow(idport);
    const access = accessToken(tokens);
    await assertAccepted(idport, access);
    await revoke(idport, access, 'cli');
    await assertRevoked(idport, access);
    const refreshed = await publicRefresh(idport, str(tokens.body, 'refresh_token'));
    assertTokenResponse(refreshed);
    await assertAccepted(idport, accessToken(refreshed));
    // The refresh token, which only the client holds, still ends the family and the access tokens it issued.
    await revoke(idport, str(refreshed.body, 'refresh_token'), 'cli');
    await assertRevoked(idport, accessToken(refreshed));
    assertJsonError(
      await publicRefresh(idport, str(refreshed.body, 'refresh_token')),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
  });

  it('revokes implicit-flow access tokens of confidential and public clients', async () => {
    for (const clientId of ['web', 'cli']) {
      const token = await implicitToken(idport, clientId);
      const other = await implicitToken(idport, clientId);
      await assertAccepted(idport, token);
      await revoke(idport, token, clientId);
      await assertRevoked(idport, token);
      await assertAccepted(idport, other);
    }
  });

  it('revokes a password-grant access token issued without offline_access, and answers a second revocation 200', async () => {
    const token = await passwordToken(idport);
    await assertAccepted(idport, token);
    await revoke(idport, token, 'web');
    await assertRevoked(idport, token);
    await revoke(idport, token, 'web');
    await assertRevoked(idport, token);
  });

  it('revokes a client-credentials access token', async () => {
    const response = await postToken(
      idport,
      { grant_type: 'client_credentials', scope: 'openid' },
      credentialsOf('web'),
    );
    assertTokenResponse(response);
    const token = accessToken(response);
    await assertAccepted(idport, token);
    await revoke(idport, token, 'web');
    await assertRevoked(idport, token);
  });

  it("does not revoke another client's access token, and still answers 200", async () => {
    const webToken = await passwordToken(idport);
    const cliToken = accessToken(await publicCodeFlow(idport));
    await revoke(idport, webToken, 'cli');
    await revoke(idport, webToken, 'api');
    await revoke(idport, cliToken, 'web');
    for (const token of [webToken, cliToken]) {
      await assertAccepted(idport, token);
      assert.equal(await idport.storage.revokedTokens.get(String(decodeJwt(token).jti)), undefined);
    }
  });
});

describe('access token revocation after a token exchange (RFC 8693)', () => {
  const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
  let idport: TestIdport;
  before(async () => {
    const deps = { log: pino({ level: 'silent' }), fetch, now: () => new Date() };
    idport = await startIdport({
      inProcess: true,
      clients: CLIENTS,
      connectors: [
        { id: 'mock', type: 'mockCallback', name: 'Mock', connector: await mockCallback.open('mock', {}, deps) },
      ],
      settings: { ...SETTINGS, grantTypes: [...SETTINGS.grantTypes, GRANT] },
    });
  });
  after(async () => idport.close());

  it('revokes an access token issued by token exchange, which has no grant', async () => {
    const response = await postToken(
      idport,
      {
        grant_type: GRANT,
        connector_id: 'mock',
        subject_token: 'the mock accepts any token, as in Dex',
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        scope: 'openid email',
      },
      credentialsOf('web'),
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const token = accessToken(response);
    assert.equal(decodeJwt(token).gid, undefined);
    await assertAccepted(idport, token);
    await revoke(idport, token, 'web');
    await assertRevoked(idport, token);
  });
});

describe('the deny-list of revoked access tokens', () => {
  let idport: TestIdport;
  let clock: ManualClock;
  before(async () => {
    clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    idport = await startIdport({ inProcess: true, clients: CLIENTS, clock, settings: SETTINGS });
  });
  after(async () => idport.close());

  it("keeps a revoked token's entry until the token has expired, then garbage collection removes it", async () => {
    const token = await passwordToken(idport);
    const { jti, exp } = decodeJwt(token);
    assert.ok(typeof jti === 'string' && typeof exp === 'number');
    const entryExpiry = new Date(exp * 1000 + DENY_LIST_MARGIN_MS);
    await revoke(idport, token, 'web');
    assert.deepEqual(await idport.storage.revokedTokens.get(jti), { id: jti, expiry: entryExpiry });

    clock.set(new Date(exp * 1000 - 1000)); // the token's last second: still listed, still refused
    assert.equal((await idport.storage.garbageCollect(clock.now())).revokedTokens, 0);
    await assertRevoked(idport, token);

    clock.set(new Date(entryExpiry.getTime() + 1000));
    assert.equal((await idport.storage.garbageCollect(clock.now())).revokedTokens, 1);
    assert.equal(await idport.storage.revokedTokens.get(jti), undefined);
    // Gone from the list, and refused all the same: it has expired.
    assertJsonError(await callUserinfo(idport, token), 401, 'invalid_token', 'the access token is invalid or expired');
    assert.equal(await isActive(idport, token), false);
  });

  it('writes no entry for an access token that has already expired', async () => {
    const token = await passwordToken(idport);
    clock.advance(HOUR + 1000);
    await revoke(idport, token, 'web');
    assert.equal(await idport.storage.revokedTokens.get(String(decodeJwt(token).jti)), undefined);
  });
});

/** The token endpoint's rules for client authentication and the authorization_code grant (RFC 6749 §2.3, §4.1.3, §5.2; RFC 7636). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/deps.js';
import { confidentialClient, publicClient, startIdport, type TestIdport } from '../support/idport.js';
import { testFetch } from '../support/in-process.js';
import {
  assertJsonError,
  assertTokenResponse,
  authorize,
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
} from '../e2e/helpers.js';

/** Logs in and returns a fresh authorization code. */
const codeFor = async (idport: TestIdport, clientId: string, extra: Record<string, string> = {}): Promise<string> => {
  const params = await authorize(idport, codeRequest(clientId, extra));
  const code = params.get('code');
  assert.ok(code, `a code in ${params.toString()}`);
  return code;
};

describe('token endpoint client authentication', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({ inProcess: true, clients: [confidentialClient('web', [REDIRECT])] });
  });
  after(async () => idport.close());

  const grant = { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: REDIRECT };

  it('refuses a wrong client secret with 401, WWW-Authenticate and invalid_client', async () => {
    const response = await postToken(idport, grant, { id: 'web', secret: 'wrong' });
    assertJsonError(response, 401, 'invalid_client', 'invalid client credentials');
    assert.equal(response.headers.get('www-authenticate'), 'Basic realm="idport"');
  });

  it('refuses a wrong client_secret_post secret the same way', async () => {
    const response = await postToken(idport, { ...grant, client_id: 'web', client_secret: 'wrong' });
    assertJsonError(response, 401, 'invalid_client', 'invalid client credentials');
    assert.equal(response.headers.get('www-authenticate'), 'Basic realm="idport"');
  });

  it('refuses an unknown client the same way as a wrong secret', async () => {
    const response = await postToken(idport, grant, { id: 'nope', secret: 'nope-secret' });
    assertJsonError(response, 401, 'invalid_client', 'invalid client credentials');
  });

  it('refuses a confidential client that sends no secret', async () => {
    assertJsonError(
      await postToken(idport, { ...grant, client_id: 'web' }),
      401,
      'invalid_client',
      'invalid client credentials',
    );
  });

  it('refuses a request without any client authentication', async () => {
    assertJsonError(await postToken(idport, grant), 401, 'invalid_client', 'client authentication required');
  });

  it('refuses Basic and client_secret_post together with invalid_request (RFC 6749 §2.3)', async () => {
    const response = await postToken(idport, { ...grant, client_secret: 'web-secret' }, credentialsOf('web'));
    assertJsonError(response, 400, 'invalid_request', 'use only one client authentication method');
  });

  it('refuses an unknown grant type with unsupported_grant_type', async () => {
    const response = await postToken(
      idport,
      { grant_type: 'password', username: 'a', password: 'b' },
      credentialsOf('web'),
    );
    assertJsonError(response, 400, 'unsupported_grant_type', "grant_type 'password' is not supported");
  });

  it('refuses a request without grant_type with invalid_request', async () => {
    assertJsonError(
      await postToken(idport, { code: 'x' }, credentialsOf('web')),
      400,
      'invalid_request',
      'grant_type is required',
    );
  });

  it('refuses a repeated parameter with invalid_request (RFC 6749 §3.2)', async () => {
    const form = new URLSearchParams(grant);
    form.append('code', 'another');
    assertJsonError(
      await postToken(idport, form, credentialsOf('web')),
      400,
      'invalid_request',
      'the code parameter was sent more than once',
    );
  });

  it('refuses a body that is not a form with invalid_request', async () => {
    const response = await testFetch(`${idport.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from('web:web-secret').toString('base64')}`,
      },
      body: JSON.stringify(grant),
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: 'invalid_request',
      error_description: 'the body must be application/x-www-form-urlencoded',
    });
  });

  it('refuses a missing code with invalid_request and an unknown one with invalid_grant', async () => {
    assertJsonError(
      await postToken(idport, { grant_type: 'authorization_code' }, credentialsOf('web')),
      400,
      'invalid_request',
      'code is required',
    );
    assertJsonError(
      await postToken(idport, grant, credentialsOf('web')),
      400,
      'invalid_grant',
      'invalid or expired authorization code',
    );
  });
});

describe('authorization_code grant', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      inProcess: true,
      clients: [
        confidentialClient('web', [REDIRECT]),
        confidentialClient('other', [REDIRECT]),
        publicClient('cli', [REDIRECT]),
        confidentialClient('two', [REDIRECT, 'http://127.0.0.1:5555/other']),
      ],
    });
  });
  after(async () => idport.close());

  it('redeems a code with client_secret_post as well as Basic', async () => {
    const code = await codeFor(idport, 'web');
    const response = await postToken(idport, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: 'web',
      client_secret: 'web-secret',
    });
    assertTokenResponse(response);
    assert.equal(response.headers.get('pragma'), 'no-cache');
    assert.equal(response.body.scope, 'openid');
    assert.equal(response.body.refresh_token, undefined, 'no refresh token without offline_access');
  });

  it('refuses a reused code with invalid_grant and revokes the access and refresh tokens of the first redemption', async () => {
    const code = await codeFor(idport, 'web', { scope: 'openid offline_access' });
    const first = await redeemCode(idport, 'web', code);
    assertTokenResponse(first);
    const accessToken = str(first.body, 'access_token');
    const refreshToken = str(first.body, 'refresh_token');
    assert.equal((await callUserinfo(idport, accessToken)).status, 200);

    assertJsonError(await redeemCode(idport, 'web', code), 400, 'invalid_grant', 'authorization code already used');

    const info = await callUserinfo(idport, accessToken);
    assert.deepEqual(
      { status: info.status, body: info.body },
      { status: 401, body: { error: 'invalid_token', error_description: 'the access token was revoked' } },
    );
    assert.equal(info.headers.get('www-authenticate'), 'Bearer realm="idport", error="invalid_token"');
    assertJsonError(await refreshWith(idport, 'web', refreshToken), 400, 'invalid_grant', 'invalid refresh token');
  });

  it('revokes the tokens a rotated refresh token issued when the code is replayed', async () => {
    const code = await codeFor(idport, 'web', { scope: 'openid offline_access' });
    const first = await redeemCode(idport, 'web', code);
    const rotated = await refreshWith(idport, 'web', str(first.body, 'refresh_token'));
    assertTokenResponse(rotated);
    assertJsonError(await redeemCode(idport, 'web', code), 400, 'invalid_grant', 'authorization code already used');
    assert.equal((await callUserinfo(idport, str(rotated.body, 'access_token'))).status, 401);
    assertJsonError(
      await refreshWith(idport, 'web', str(rotated.body, 'refresh_token')),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
  });

  it("refuses another client's code with invalid_grant, leaving it usable by its own client", async () => {
    const code = await codeFor(idport, 'web');
    assertJsonError(
      await redeemCode(idport, 'other', code),
      400,
      'invalid_grant',
      'authorization code was issued to another client',
    );
    assertTokenResponse(await redeemCode(idport, 'web', code));
  });

  it('refuses a redirect_uri that differs from the authorization request with invalid_grant', async () => {
    const code = await codeFor(idport, 'web');
    const response = await redeemCode(idport, 'web', code, { redirect_uri: 'http://127.0.0.1:5555/elsewhere' });
    assertJsonError(response, 400, 'invalid_grant', 'redirect_uri does not match the authorization request');
  });

  it('refuses a token request without redirect_uri from a client with several registered', async () => {
    const code = await codeFor(idport, 'two');
    const response = await postToken(idport, { grant_type: 'authorization_code', code }, credentialsOf('two'));
    assertJsonError(response, 400, 'invalid_grant', 'redirect_uri does not match the authorization request');
  });

  it('redeems a code without redirect_uri when the authorization request had none either (RFC 6749 §4.1.3)', async () => {
    const { redirect_uri: _omitted, ...params } = codeRequest('web');
    const code = (await authorize(idport, params)).get('code') ?? '';
    assertTokenResponse(await postToken(idport, { grant_type: 'authorization_code', code }, credentialsOf('web')));
  });

  it('refuses a wrong PKCE verifier with invalid_grant', async () => {
    const code = await codeFor(idport, 'web', { code_challenge: CHALLENGE, code_challenge_method: 'S256' });
    const response = await redeemCode(idport, 'web', code, { code_verifier: `${VERIFIER.slice(0, -1)}A` });
    assertJsonError(response, 400, 'invalid_grant', 'code_verifier does not match code_challenge');
  });

  it('refuses a missing PKCE verifier with invalid_grant', async () => {
    const code = await codeFor(idport, 'web', { code_challenge: CHALLENGE, code_challenge_method: 'S256' });
    assertJsonError(await redeemCode(idport, 'web', code), 400, 'invalid_grant', 'code_verifier required');
  });

  it('refuses a malformed PKCE verifier with invalid_grant', async () => {
    const code = await codeFor(idport, 'web', { code_challenge: CHALLENGE, code_challenge_method: 'S256' });
    assertJsonError(
      await redeemCode(idport, 'web', code, { code_verifier: 'too-short' }),
      400,
      'invalid_grant',
      'code_verifier is malformed',
    );
  });

  it('refuses a verifier for a code that was requested without a challenge', async () => {
    const code = await codeFor(idport, 'web');
    const response = await redeemCode(idport, 'web', code, { code_verifier: VERIFIER });
    assertJsonError(
      response,
      400,
      'invalid_grant',
      'code_verifier sent but no code_challenge was in the authorization request',
    );
  });

  it('accepts plain PKCE, the default method when none is named (RFC 7636 §4.3)', async () => {
    const code = await codeFor(idport, 'web', { code_challenge: VERIFIER });
    assertTokenResponse(await redeemCode(idport, 'web', code, { code_verifier: VERIFIER }));
  });

  it('lets a public client redeem with PKCE and its client_id alone', async () => {
    const code = await codeFor(idport, 'cli', { code_challenge: CHALLENGE, code_challenge_method: 'S256' });
    const response = await postToken(idport, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: 'cli',
      code_verifier: VERIFIER,
    });
    assertTokenResponse(response);
  });
});

describe('authorization code lifetime', () => {
  let idport: TestIdport;
  let clock: ManualClock;
  before(async () => {
    clock = new ManualClock(new Date());
    idport = await startIdport({ inProcess: true, clients: [confidentialClient('web', [REDIRECT])], clock });
  });
  after(async () => idport.close());

  it('redeems a code 9 minutes old', async () => {
    const code = await codeFor(idport, 'web');
    clock.advance(9 * 60_000);
    assertTokenResponse(await redeemCode(idport, 'web', code));
  });

  it('refuses a code 11 minutes old with invalid_grant (10 minute lifetime)', async () => {
    const code = await codeFor(idport, 'web');
    clock.advance(11 * 60_000);
    assertJsonError(
      await redeemCode(idport, 'web', code),
      400,
      'invalid_grant',
      'invalid or expired authorization code',
    );
  });
});

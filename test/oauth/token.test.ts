/** The authorization_code grant as a domain function: single use under concurrency, revocation on replay (RFC 6749 §4.1.2). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OAuthError } from '../../src/errors.js';
import { refreshFamilyIdOf } from '../../src/oauth/grants/refresh-family.js';
import { handleTokenRequest } from '../../src/oauth/grants/endpoint.js';
import type { TokenResponse } from '../../src/oauth/grants/grant.js';
import { hashSecret } from '../../src/oauth/primitives/secrets.js';
import { userinfo } from '../../src/oauth/tokens/userinfo.js';
import { client, loginFacts, REDIRECT, testProvider, type TestProvider } from './provider.js';

const web = client('web');
const basic = `Basic ${Buffer.from('web:web-secret').toString('base64')}`;

/** Stores a code for testUser as the approval step would, and returns the wire value. */
const issueCode = async (
  provider: TestProvider,
  code: string,
  scopes = ['openid', 'offline_access'],
): Promise<string> => {
  const facts = loginFacts(provider, 'web', scopes);
  await provider.storage.authCodes.create({
    id: hashSecret(code),
    clientId: 'web',
    redirectUri: REDIRECT,
    scopes,
    nonce: '',
    claims: facts.claims,
    connectorId: 'test',
    codeChallenge: '',
    codeChallengeMethod: '',
    authTime: facts.authTime,
    expiry: new Date(provider.clock.now().getTime() + 600_000),
  });
  return code;
};

const redeem = async (provider: TestProvider, code: string): Promise<TokenResponse> =>
  handleTokenRequest(provider, {
    authorization: basic,
    form: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT },
  });

describe('authorization_code grant', () => {
  it('redeems a code once; a second redemption is invalid_grant and revokes what the first issued', async () => {
    const provider = await testProvider([web]);
    const code = await issueCode(provider, 'code-1'.padEnd(43, 'x'));
    const first = await redeem(provider, code);
    assert.ok(first.refresh_token);
    assert.equal((await userinfo(provider, first.access_token)).sub !== undefined, true);

    await assert.rejects(redeem(provider, code), new OAuthError('invalid_grant', 'authorization code already used'));
    await assert.rejects(
      userinfo(provider, first.access_token),
      new OAuthError('invalid_token', 'the access token was revoked'),
    );
    assert.equal(await provider.storage.refreshTokens.get(refreshFamilyIdOf(first.refresh_token ?? '')), undefined);
  });

  it('lets exactly one of two concurrent redemptions win, and the replay revokes the winner (no double spend)', async () => {
    const provider = await testProvider([web]);
    const code = await issueCode(provider, 'code-2'.padEnd(43, 'x'));
    const results = await Promise.allSettled([redeem(provider, code), redeem(provider, code)]);
    const won = results.filter((r): r is PromiseFulfilledResult<TokenResponse> => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.deepEqual(lost[0]?.reason, new OAuthError('invalid_grant', 'authorization code already used'));
    const winner = won[0]?.value;
    assert.ok(winner);
    await assert.rejects(
      userinfo(provider, winner.access_token),
      new OAuthError('invalid_token', 'the access token was revoked'),
    );
    assert.deepEqual(await provider.storage.refreshTokens.list(), [], 'no refresh family survives');
  });

  it('keeps a redeemed code until its access tokens expire, so a late replay still revokes them', async () => {
    const provider = await testProvider([web]);
    const code = await issueCode(provider, 'code-3'.padEnd(43, 'x'));
    const first = await redeem(provider, code);
    const stored = await provider.storage.authCodes.get(hashSecret(code));
    assert.ok(stored?.redeemedAt);
    assert.ok(stored.expiry.getTime() - provider.clock.now().getTime() >= provider.settings.accessTokenTtlMs);
    provider.clock.advance(30 * 60_000); // past the code's own 10 minutes (oidcc-codereuse-30seconds, and then some)
    await assert.rejects(redeem(provider, code), new OAuthError('invalid_grant', 'authorization code already used'));
    await assert.rejects(
      userinfo(provider, first.access_token),
      new OAuthError('invalid_token', 'the access token was revoked'),
    );
  });

  it('answers unauthorized_client for a known grant type the configuration disabled', async () => {
    const provider = await testProvider([web], { grantTypes: ['authorization_code'] });
    await assert.rejects(
      handleTokenRequest(provider, {
        authorization: basic,
        form: { grant_type: 'refresh_token', refresh_token: 'a.b' },
      }),
      new OAuthError('unauthorized_client', 'grant_type "refresh_token" is not supported'),
    );
  });
});

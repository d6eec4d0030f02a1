import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { openMemory } from '../../storage/memory/memory.js';
import { ManualClock } from '../../src/deps.js';
import { createSigner, type Signer } from '../../src/signer/signer.js';
import { HOUR, idTokenClaims, issuer, newSigner, signerOptions } from './support.js';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A signer with a key, a valid token and its kid. */
async function setup(algorithm: 'RS256' | 'ES256' = 'RS256'): Promise<{
  signer: Signer;
  clock: ManualClock;
  token: string;
  claims: JWTPayload;
  kid: string;
}> {
  const { signer, clock } = newSigner({ algorithm });
  await signer.ensureKeys();
  const claims = idTokenClaims(clock);
  const token = await signer.sign(claims);
  return { signer, clock, token, claims, kid: String(decodeProtectedHeader(token).kid) };
}

describe('verify', () => {
  it('accepts its own token and returns the claims', async () => {
    const { signer, token, claims } = await setup();
    assert.deepEqual(await signer.verify(token), claims);
    assert.deepEqual(await signer.verify(token, { audience: 'example-app' }), claims);
  });

  it('rejects a token signed by a foreign key with the same kid', async () => {
    const { signer, clock, kid } = await setup();
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT(idTokenClaims(clock)).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
    await assert.rejects(signer.verify(forged), {
      name: 'TokenVerificationError',
      reason: 'invalid_signature',
      message: 'signature verification failed',
    });
  });

  it('rejects a token whose payload was changed', async () => {
    const { signer, token, claims } = await setup();
    const [header, , signature] = token.split('.');
    const tampered = `${header}.${b64url({ ...claims, sub: 'admin' })}.${signature}`;
    await assert.rejects(signer.verify(tampered), { name: 'TokenVerificationError', reason: 'invalid_signature' });
  });

  it('rejects an expired token by the injected clock, unless expiry is ignored', async () => {
    const { signer, clock, token, claims } = await setup();
    clock.advance(HOUR - 1000);
    await signer.verify(token);
    clock.advance(1000);
    await assert.rejects(signer.verify(token), {
      name: 'TokenVerificationError',
      reason: 'expired',
      message: 'token expired',
    });
    // id_token_hint: an expired token we issued is still a valid hint (OIDC Core §3.1.2.1).
    assert.deepEqual(await signer.verify(token, { ignoreExpiry: true }), claims);
  });

  it('still checks the other claims when expiry is ignored', async () => {
    const { signer, clock } = await setup();
    const token = await signer.sign(idTokenClaims(clock, HOUR, { iss: 'https://evil.example.com' }));
    clock.advance(2 * HOUR);
    await assert.rejects(signer.verify(token, { ignoreExpiry: true }), { reason: 'invalid_claim', claim: 'iss' });
    const good = await signer.sign(idTokenClaims(clock));
    clock.advance(2 * HOUR);
    await assert.rejects(signer.verify(good, { ignoreExpiry: true, audience: 'other-app' }), {
      reason: 'invalid_claim',
      claim: 'aud',
    });
  });

  it('rejects a token for another issuer', async () => {
    const { signer, clock } = await setup();
    const token = await signer.sign(idTokenClaims(clock, HOUR, { iss: 'https://evil.example.com' }));
    await assert.rejects(signer.verify(token), {
      name: 'TokenVerificationError',
      reason: 'invalid_claim',
      claim: 'iss',
      message: 'unexpected "iss" claim value',
    });
  });

  it('rejects a token for another audience', async () => {
    const { signer, token } = await setup();
    await assert.rejects(signer.verify(token, { audience: 'other-app' }), {
      reason: 'invalid_claim',
      claim: 'aud',
      message: 'unexpected "aud" claim value',
    });
  });

  it('checks typ when asked (RFC 9068 access tokens)', async () => {
    const { signer, clock, token } = await setup();
    const accessToken = await signer.sign(idTokenClaims(clock), { typ: 'at+jwt' });
    await signer.verify(accessToken, { typ: 'at+jwt' });
    await assert.rejects(signer.verify(token, { typ: 'at+jwt' }), { reason: 'invalid_claim', claim: 'typ' });
  });

  it('rejects alg none, even with a known kid', async () => {
    const { signer, clock, kid } = await setup();
    const unsecured = `${b64url({ alg: 'none', kid })}.${b64url(idTokenClaims(clock))}.`;
    await assert.rejects(signer.verify(unsecured), { name: 'TokenVerificationError', reason: 'algorithm_not_allowed' });
  });

  it('rejects HS256 signed with the public key as the secret', async () => {
    const { signer, clock, kid } = await setup();
    const jwks = await signer.jwks();
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    const confused = await new SignJWT(idTokenClaims(clock)).setProtectedHeader({ alg: 'HS256', kid }).sign(secret);
    await assert.rejects(signer.verify(confused), { name: 'TokenVerificationError', reason: 'algorithm_not_allowed' });
  });

  it('rejects an algorithm other than the key’s, even one that is published', async () => {
    // Both RS256 and ES256 keys are published after an algorithm change.
    const clock = new ManualClock();
    const storage = openMemory();
    const rs = createSigner(signerOptions({ storage, clock, algorithm: 'RS256' }));
    await rs.ensureKeys();
    const rsKid = String(decodeProtectedHeader(await rs.sign(idTokenClaims(clock))).kid);
    const es = createSigner(signerOptions({ storage, clock, algorithm: 'ES256' }));
    await es.ensureKeys();
    const { privateKey } = await generateKeyPair('ES256');
    const mixed = await new SignJWT(idTokenClaims(clock))
      .setProtectedHeader({ alg: 'ES256', kid: rsKid })
      .sign(privateKey);
    await assert.rejects(es.verify(mixed), {
      name: 'TokenVerificationError',
      reason: 'algorithm_not_allowed',
      message: `kid ${rsKid} is not an ES256 key`,
    });
  });

  it('rejects a token with an unknown kid or none', async () => {
    const { signer, clock } = await setup('ES256');
    const { privateKey } = await generateKeyPair('ES256');
    const unknown = await new SignJWT(idTokenClaims(clock))
      .setProtectedHeader({ alg: 'ES256', kid: 'nope' })
      .sign(privateKey);
    await assert.rejects(signer.verify(unknown), {
      name: 'TokenVerificationError',
      reason: 'unknown_key',
      message: 'no published key has kid nope',
    });
    const noKid = await new SignJWT(idTokenClaims(clock)).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    await assert.rejects(signer.verify(noKid), { reason: 'unknown_key', message: 'token has no kid' });
  });

  it('rejects what is not a JWT', async () => {
    const { signer, token } = await setup('ES256');
    for (const input of ['', 'abc', 'a.b.c', `${token}.extra`, token.split('.').slice(0, 2).join('.')]) {
      await assert.rejects(signer.verify(input), { name: 'TokenVerificationError', reason: 'malformed' }, input);
    }
  });

  it('rejects a token signed with a key no longer published', async () => {
    const { signer, clock, token } = await setup('ES256');
    clock.advance(6 * HOUR);
    await signer.rotateIfDue();
    // Retired at 6 h, published for 1 h (token lifetime) + 30 s (key cache).
    await signer.verify(token, { ignoreExpiry: true });
    clock.advance(HOUR + 30_000);
    await assert.rejects(signer.verify(token, { ignoreExpiry: true }), { reason: 'unknown_key' });
    assert.equal((await signer.jwks()).keys.length, 1);
  });

  it('verifies with issuer from its options', async () => {
    const { signer, token } = await setup('ES256');
    assert.equal((await signer.verify(token)).iss, issuer);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { openMemory } from '../../storage/memory/memory.js';
import { ManualClock } from '../../src/deps.js';
import { generateSigningKey } from '../../src/signer/keys.js';
import { isRotationDue, nextKeys, type RotationPolicy } from '../../src/signer/rotation.js';
import { createSigner, TokenVerificationError, type SigningAlgorithm } from '../../src/signer/signer.js';
import { HOUR, MINUTE, idTokenClaims, instrumented, issuer, signerOptions } from './support.js';

const KEY_CACHE_TTL_MS = 30_000; // the signer's default

/**
 * Two replicas on one storage call rotateIfDue every 10 minutes for 24 hours. `idTokenTtlMs`
 * decides how many retired keys must stay published at any moment.
 */
async function simulateDay(idTokenTtlMs: number, algorithm: SigningAlgorithm): Promise<void> {
  const clock = new ManualClock();
  const storage = openMemory();
  const start = clock.now().getTime();
  const a = createSigner(signerOptions({ storage, clock, idTokenTtlMs, algorithm }));
  const b = createSigner(signerOptions({ storage, clock, idTokenTtlMs, algorithm }));
  await Promise.all([a.ensureKeys(), b.ensureKeys()]);
  const retentionMs = idTokenTtlMs + KEY_CACHE_TTL_MS;

  // Signed 10 minutes before the first rotation with the first key.
  let early: { token: string; exp: number; kid: string } | undefined;
  const rotations: number[] = [];
  for (let step = 1; step <= 24 * 6; step++) {
    clock.advance(10 * MINUTE);
    const now = clock.now().getTime();
    const results = await Promise.all([a.rotateIfDue(), b.rotateIfDue()]);
    const winners = results.filter(Boolean).length;
    assert.ok(winners <= 1, `both replicas rotated at ${step * 10} min`);
    if (winners === 1) rotations.push(now);

    const [jwksA, jwksB] = await Promise.all([a.jwks(), b.jwks()]);
    assert.deepEqual(jwksA, jwksB, `replicas disagree at ${step * 10} min`);
    // Exactly the current key plus each retired key whose tokens may still be alive.
    const needed = 1 + rotations.filter((at) => at + retentionMs > now).length;
    assert.equal(jwksA.keys.length, needed, `JWKS size at ${step * 10} min`);

    if (now === start + 6 * HOUR - 10 * MINUTE) {
      const token = await a.sign(idTokenClaims(clock, idTokenTtlMs));
      early = { token, exp: now + idTokenTtlMs, kid: String(decodeProtectedHeader(token).kid) };
    }
    if (early !== undefined && now < start + 6 * HOUR + retentionMs + 10 * MINUTE) {
      const retiredKeyExpiry = start + 6 * HOUR + retentionMs;
      const published = jwksA.keys.some((k) => k.kid === early?.kid);
      assert.equal(published, now < retiredKeyExpiry, `first key published at ${step * 10} min`);
      if (now < early.exp) {
        // Still valid: a client holding our JWKS accepts it, and so do both replicas.
        await jwtVerify(early.token, createLocalJWKSet(jwksB), { issuer, currentDate: clock.now() });
        await b.verify(early.token);
      } else {
        // Past its exp, the key only matters for id_token_hint; once dropped, the kid is unknown.
        if (now < retiredKeyExpiry) {
          await assert.rejects(b.verify(early.token), { name: 'TokenVerificationError', reason: 'expired' });
          await b.verify(early.token, { ignoreExpiry: true });
        } else {
          for (const options of [{}, { ignoreExpiry: true }]) {
            await assert.rejects(b.verify(early.token, options), {
              name: 'TokenVerificationError',
              reason: 'unknown_key',
            });
          }
        }
      }
    }
  }
  assert.deepEqual(
    rotations.map((at) => (at - start) / HOUR),
    [6, 12, 18, 24],
  );
  assert.ok(early !== undefined);
  const stored = await storage.getKeys();
  assert.deepEqual(stored?.nextRotation, new Date(start + 30 * HOUR));
  // Both replicas sign with the newest key.
  for (const signer of [a, b]) {
    assert.equal(
      decodeProtectedHeader(await signer.sign(idTokenClaims(clock, idTokenTtlMs))).kid,
      stored?.signingKeyPub.kid,
    );
  }
}

describe('key rotation', () => {
  it('rotates 4 times in 24 hours with a 6 h period, one replica each time (RS256, 1 h tokens)', async () => {
    await simulateDay(HOUR, 'RS256');
  });

  it('keeps every retired key whose tokens may be alive with 24 h tokens, the Dex default (ES256)', async () => {
    await simulateDay(24 * HOUR, 'ES256');
  });

  it('reports a rotation only to the replica whose key was stored', async () => {
    const clock = new ManualClock();
    const storage = openMemory();
    const a = createSigner(signerOptions({ storage, clock }));
    const b = createSigner(signerOptions({ storage, clock }));
    await a.ensureKeys();
    clock.advance(6 * HOUR);
    assert.equal(await a.rotateIfDue(), true);
    // b still has the old key cached, but reads storage before deciding.
    assert.equal(await b.rotateIfDue(), false);
    assert.deepEqual(await b.jwks(), await a.jwks());
  });

  it('does not rotate before nextRotation', async () => {
    const clock = new ManualClock();
    const { storage, counts } = instrumented(openMemory());
    const signer = createSigner(signerOptions({ storage, clock }));
    await signer.ensureKeys();
    clock.advance(6 * HOUR - 1);
    assert.equal(await signer.rotateIfDue(), false);
    assert.equal(counts.updateKeys, 1);
    clock.advance(1);
    assert.equal(await signer.rotateIfDue(), true);
  });

  it('rotates an overdue key at start', async () => {
    const clock = new ManualClock();
    const storage = openMemory();
    await createSigner(signerOptions({ storage, clock })).ensureKeys();
    clock.advance(3 * 24 * HOUR); // the service was down for three days
    assert.equal(await createSigner(signerOptions({ storage, clock })).ensureKeys(), true);
    assert.equal((await storage.getKeys())?.verificationKeys.length, 1);
  });

  it('stays correct when storage runs the updater more than once', async () => {
    const clock = new ManualClock();
    const { storage, counts } = instrumented(openMemory(), 2);
    const signer = createSigner(signerOptions({ storage, clock }));
    assert.equal(await signer.ensureKeys(), true);
    clock.advance(6 * HOUR);
    assert.equal(await signer.rotateIfDue(), true);
    assert.equal(counts.updaterRuns, 6);
    const keys = await storage.getKeys();
    assert.equal(keys?.verificationKeys.length, 1);
    assert.equal((await signer.jwks()).keys.length, 2);
  });
});

describe('rotation rules', () => {
  const policy: RotationPolicy = { algorithm: 'ES256', rotationPeriodMs: 6 * HOUR, retentionMs: HOUR };
  const t0 = new Date(Date.UTC(2026, 0, 1));
  const at = (ms: number): Date => new Date(t0.getTime() + ms);

  it('retires the current key, drops expired ones and is pure', async () => {
    const [k1, k2, k3] = await Promise.all([1, 2, 3].map(() => generateSigningKey('ES256')));
    assert.ok(k1 && k2 && k3);
    const first = nextKeys(undefined, k1, { now: t0, trigger: 'startup' }, policy);
    assert.deepEqual(first, {
      signingKey: k1.privateJwk,
      signingKeyPub: k1.publicJwk,
      verificationKeys: [],
      nextRotation: at(6 * HOUR),
    });
    const second = nextKeys(first, k2, { now: at(6 * HOUR), trigger: 'timer' }, policy);
    assert.deepEqual(second.verificationKeys, [{ publicKey: k1.publicJwk, expiry: at(7 * HOUR) }]);
    const third = nextKeys(second, k3, { now: at(12 * HOUR), trigger: 'timer' }, policy);
    // k1 expired at 7 h and is gone; k2 is retired.
    assert.deepEqual(third.verificationKeys, [{ publicKey: k2.publicJwk, expiry: at(13 * HOUR) }]);
    assert.equal(third.signingKeyPub.kid, k3.kid);
    // Same input, same output: safe to run again after a conflict.
    assert.deepEqual(nextKeys(second, k3, { now: at(12 * HOUR), trigger: 'timer' }, policy), third);
    assert.equal(second.verificationKeys.length, 1);
  });

  it('keeps the stored key when another replica already rotated', async () => {
    const [k1, k2] = await Promise.all([generateSigningKey('ES256'), generateSigningKey('ES256')]);
    assert.ok(k1 && k2);
    const theirs = nextKeys(undefined, k1, { now: at(6 * HOUR), trigger: 'timer' }, policy);
    assert.equal(nextKeys(theirs, k2, { now: at(6 * HOUR), trigger: 'timer' }, policy), theirs);
    assert.equal(nextKeys(theirs, k2, { now: at(6 * HOUR), trigger: 'startup' }, policy), theirs);
  });

  it('treats an algorithm change as due only at startup', async () => {
    const k1 = await generateSigningKey('RS256');
    const keys = nextKeys(undefined, k1, { now: t0, trigger: 'startup' }, policy);
    assert.equal(isRotationDue(keys, t0, 'startup', policy), true);
    assert.equal(isRotationDue(keys, t0, 'timer', policy), false);
    assert.equal(isRotationDue(keys, at(6 * HOUR), 'timer', policy), true);
  });

  it('replaces a stored key without kid or with an unsupported alg at once', async () => {
    const k1 = await generateSigningKey('ES256');
    const keys = nextKeys(undefined, k1, { now: t0, trigger: 'startup' }, policy);
    const noKid = { ...keys, signingKeyPub: { ...keys.signingKeyPub, kid: undefined } };
    assert.equal(isRotationDue(noKid, t0, 'timer', policy), true);
    const hs256 = { ...keys, signingKeyPub: { ...keys.signingKeyPub, alg: 'HS256' } };
    assert.equal(isRotationDue(hs256, t0, 'timer', policy), true);
    const k2 = await generateSigningKey('ES256');
    // A key without kid cannot have signed anything we accept, so it is not kept for verification.
    assert.deepEqual(nextKeys(noKid, k2, { now: t0, trigger: 'timer' }, policy).verificationKeys, []);
  });
});

describe('TokenVerificationError', () => {
  it('is an Error with a reason', () => {
    const err = new TokenVerificationError('expired', 'token expired');
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'TokenVerificationError');
    assert.equal(err.reason, 'expired');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { openMemory } from '../../storage/memory/memory.js';
import { ManualClock } from '../../src/deps.js';
import { createSigner, type SigningAlgorithm } from '../../src/signer/signer.js';
import { generateSigningKey, pregenerateSigningKey } from '../../src/signer/keys.js';
import { HOUR, idTokenClaims, instrumented, issuer, newSigner, signerOptions } from './support.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('signing keys', () => {
  it('creates exactly one key on first start', async () => {
    const { storage, counts } = instrumented(openMemory());
    const { signer } = newSigner({ storage });
    assert.equal(await storage.getKeys(), undefined);
    assert.equal(await signer.ensureKeys(), true);
    const keys = await storage.getKeys();
    assert.ok(keys);
    assert.deepEqual(keys.verificationKeys, []);
    assert.equal((await signer.jwks()).keys.length, 1);
    // A second start finds the key and leaves it alone.
    assert.equal(await signer.ensureKeys(), false);
    assert.equal(counts.updateKeys, 1);
    assert.deepEqual(await storage.getKeys(), keys);
  });

  it('hands a key pair generated ahead of a start out once, and only for its algorithm', async () => {
    pregenerateSigningKey('RS256');
    const ec = await generateSigningKey('ES256');
    assert.equal(ec.publicJwk.kty, 'EC');
    const first = await generateSigningKey('RS256');
    const second = await generateSigningKey('RS256');
    assert.equal(first.publicJwk.kty, 'RSA');
    // Two keys never share a pair: a rotation after the start gets a fresh one.
    assert.notEqual(first.kid, second.kid);
    assert.notEqual(first.publicJwk.n, second.publicJwk.n);
    // A second pregenerated pair replaces one nobody took, and is itself handed out once.
    pregenerateSigningKey('RS256');
    pregenerateSigningKey('RS256');
    const third = await generateSigningKey('RS256');
    const fourth = await generateSigningKey('RS256');
    assert.equal(new Set([first.kid, second.kid, third.kid, fourth.kid]).size, 4);
  });

  it('ends with one key when two signers start together on the same storage', async () => {
    const { storage, counts } = instrumented(openMemory());
    const clock = new ManualClock();
    const a = createSigner(signerOptions({ storage, clock }));
    const b = createSigner(signerOptions({ storage, clock }));
    const created = await Promise.all([a.ensureKeys(), b.ensureKeys()]);
    // Both saw no key and both tried: the race really happened, and the CAS let exactly one win.
    assert.equal(counts.updateKeys, 2);
    assert.deepEqual(created.filter(Boolean), [true]);
    const [jwksA, jwksB] = await Promise.all([a.jwks(), b.jwks()]);
    assert.equal(jwksA.keys.length, 1);
    assert.deepEqual(jwksA, jwksB);
    const stored = await storage.getKeys();
    assert.deepEqual(stored?.verificationKeys, []);
    assert.equal(stored?.signingKeyPub.kid, jwksA.keys[0]?.kid);
    // And both sign with that key.
    for (const signer of [a, b]) {
      const token = await signer.sign(idTokenClaims(clock));
      assert.equal(decodeProtectedHeader(token).kid, stored?.signingKeyPub.kid);
    }
  });

  it('creates keys on first use when ensureKeys was not called', async () => {
    const { signer, storage, clock } = newSigner();
    await signer.sign(idTokenClaims(clock));
    assert.ok(await storage.getKeys());
  });

  it('stores a private JWK with kid, alg and the RFC 7638 thumbprint as kid', async () => {
    const { signer, storage } = newSigner({ algorithm: 'RS256' });
    await signer.ensureKeys();
    const keys = await storage.getKeys();
    assert.ok(keys);
    assert.equal(keys.signingKey.kid, keys.signingKeyPub.kid);
    assert.equal(keys.signingKey.alg, 'RS256');
    assert.equal(typeof keys.signingKey.d, 'string');
    assert.equal(keys.signingKeyPub.kid, await calculateJwkThumbprint(keys.signingKeyPub, 'sha256'));
    // RSA 2048: the modulus is 256 bytes.
    assert.equal(Buffer.from(keys.signingKeyPub.n ?? '', 'base64url').length, 256);
  });

  it('sets nextRotation one rotation period after creation', async () => {
    const { signer, storage, clock } = newSigner();
    await signer.ensureKeys();
    const expected = new Date(clock.now().getTime() + 6 * HOUR);
    assert.deepEqual((await storage.getKeys())?.nextRotation, expected);
    assert.deepEqual(await signer.nextRotation(), expected);
  });

  it('rejects nonsensical durations', () => {
    assert.throws(() => createSigner(signerOptions({ rotationPeriodMs: 0 })), {
      name: 'RangeError',
      message: 'rotationPeriodMs must be a positive number, got 0',
    });
    assert.throws(() => createSigner(signerOptions({ idTokenTtlMs: Number.NaN })), {
      name: 'RangeError',
      message: 'idTokenTtlMs must be a positive number, got NaN',
    });
    assert.throws(() => createSigner(signerOptions({ rotationPeriodMs: 10_000, keyCacheTtlMs: 10_000 })), {
      name: 'RangeError',
      message: 'keyCacheTtlMs must be shorter than rotationPeriodMs',
    });
  });

  for (const algorithm of ['RS256', 'ES256', 'EdDSA'] satisfies SigningAlgorithm[]) {
    describe(algorithm, () => {
      it('publishes a public key with kid, alg and use, and no private members', async () => {
        const { signer, storage } = newSigner({ algorithm });
        await signer.ensureKeys();
        const { keys } = await signer.jwks();
        assert.equal(keys.length, 1);
        const [key] = keys;
        assert.ok(key);
        assert.equal(key.alg, algorithm);
        assert.equal(key.use, 'sig');
        assert.equal(key.kid, (await storage.getKeys())?.signingKeyPub.kid);
        for (const member of PRIVATE_MEMBERS) assert.equal(member in key, false, `${member} must not be published`);
        const expected = { RS256: ['e', 'kty', 'n'], ES256: ['crv', 'kty', 'x', 'y'], EdDSA: ['crv', 'kty', 'x'] }[
          algorithm
        ];
        assert.deepEqual(Object.keys(key).sort(), [...expected, 'alg', 'kid', 'use'].sort());
        if (algorithm === 'EdDSA') assert.equal(key.crv, 'Ed25519');
        if (algorithm === 'ES256') assert.equal(key.crv, 'P-256');
      });

      it('signs tokens a client verifies with createLocalJWKSet', async () => {
        const { signer, clock } = newSigner({ algorithm });
        await signer.ensureKeys();
        const claims = idTokenClaims(clock, HOUR, { nonce: 'n-0S6_WzA2Mj' });
        const token = await signer.sign(claims, { typ: 'JWT' });
        const jwks = await signer.jwks();
        const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
          issuer,
          audience: 'example-app',
          currentDate: clock.now(),
        });
        assert.deepEqual(payload, claims);
        assert.deepEqual(protectedHeader, { alg: algorithm, kid: jwks.keys[0]?.kid, typ: 'JWT' });
        assert.deepEqual(await signer.verify(token, { audience: 'example-app' }), claims);
      });

      it('reports its algorithm for discovery', () => {
        const { signer } = newSigner({ algorithm });
        assert.equal(signer.algorithm, algorithm);
        assert.deepEqual(signer.signingAlgorithms(), [algorithm]);
      });
    });
  }

  it('omits typ from the header unless asked', async () => {
    const { signer, clock } = newSigner({ algorithm: 'ES256' });
    const token = await signer.sign(idTokenClaims(clock));
    assert.deepEqual(Object.keys(decodeProtectedHeader(token)).sort(), ['alg', 'kid']);
  });

  it('refuses to sign a token without exp or living longer than idTokenTtl', async () => {
    const { signer, clock } = newSigner({ algorithm: 'ES256' });
    const claims = idTokenClaims(clock);
    const expected = {
      name: 'RangeError',
      message: 'exp must be set and at most idTokenTtl from now: retired keys are published only that long',
    };
    await assert.rejects(signer.sign({ ...claims, exp: undefined }), expected);
    await assert.rejects(signer.sign({ ...claims, exp: (claims.exp ?? 0) + 1 }), expected);
    await signer.sign(claims);
  });
});

describe('algorithm change in config', () => {
  it('rotates at once to a key of the new algorithm on restart, keeping the old key for verification', async () => {
    const clock = new ManualClock();
    const storage = openMemory();
    const before = createSigner(signerOptions({ storage, clock, algorithm: 'RS256' }));
    await before.ensureKeys();
    const oldToken = await before.sign(idTokenClaims(clock));
    const oldKid = decodeProtectedHeader(oldToken).kid;

    clock.advance(HOUR / 2);
    const after = createSigner(signerOptions({ storage, clock, algorithm: 'ES256' }));
    assert.equal(await after.ensureKeys(), true);
    const { keys } = await after.jwks();
    assert.deepEqual(
      keys.map((k) => k.alg),
      ['ES256', 'RS256'],
    );
    assert.equal(keys[1]?.kid, oldKid);
    assert.equal(decodeProtectedHeader(await after.sign(idTokenClaims(clock))).alg, 'ES256');
    // Tokens signed before the restart still verify, as a client would check them.
    await jwtVerify(oldToken, createLocalJWKSet({ keys }), { issuer, currentDate: clock.now() });
    await after.verify(oldToken);
    // The new key starts a full rotation period.
    assert.deepEqual((await storage.getKeys())?.nextRotation, new Date(clock.now().getTime() + 6 * HOUR));
  });

  it('rotates once when several replicas restart with the new algorithm together', async () => {
    const clock = new ManualClock();
    const storage = openMemory();
    await createSigner(signerOptions({ storage, clock, algorithm: 'RS256' })).ensureKeys();
    const replicas = [1, 2, 3].map(() => createSigner(signerOptions({ storage, clock, algorithm: 'EdDSA' })));
    const rotated = await Promise.all(replicas.map((r) => r.ensureKeys()));
    assert.deepEqual(rotated.filter(Boolean), [true]);
    const jwks = await Promise.all(replicas.map((r) => r.jwks()));
    assert.deepEqual(
      jwks[0]?.keys.map((k) => k.alg),
      ['EdDSA', 'RS256'],
    );
    for (const other of jwks) assert.deepEqual(other, jwks[0]);
  });

  it('does not rotate back before nextRotation when a replica with the old algorithm is still running', async () => {
    const clock = new ManualClock();
    const storage = openMemory();
    const old = createSigner(signerOptions({ storage, clock, algorithm: 'RS256' }));
    await old.ensureKeys();
    await createSigner(signerOptions({ storage, clock, algorithm: 'ES256' })).ensureKeys();
    clock.advance(HOUR);
    assert.equal(await old.rotateIfDue(), false);
    assert.equal((await storage.getKeys())?.signingKeyPub.alg, 'ES256');
    // The old replica signs with what storage holds, and says so in discovery.
    assert.equal(decodeProtectedHeader(await old.sign(idTokenClaims(clock))).alg, 'ES256');
    assert.deepEqual(old.signingAlgorithms(), ['RS256', 'ES256']);
    // Claims that depend on the algorithm (at_hash) are computed for the key really used.
    let seen: string | undefined;
    const token = await old.sign((alg) => {
      seen = alg;
      return idTokenClaims(clock, HOUR, { at_hash: `hashed with ${alg}` });
    });
    assert.equal(seen, 'ES256');
    assert.equal((await old.verify(token)).at_hash, 'hashed with ES256');
  });
});

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { openMemory } from '../../storage/memory/memory.js';
import type { Keys, Storage } from '../../storage/storage.js';
import { ManualClock } from '../../src/deps.js';
import { createSigner } from '../../src/signer/signer.js';
import { HOUR, idTokenClaims, instrumented, signerOptions } from './support.js';

const KEY_CACHE_TTL_MS = 30_000;

describe('key cache', () => {
  it('signs many tokens without reading storage for each', async () => {
    const clock = new ManualClock();
    const { storage, counts } = instrumented(openMemory());
    const signer = createSigner(signerOptions({ storage, clock, algorithm: 'ES256' }));
    await signer.ensureKeys();
    const reads = counts.getKeys;
    for (let i = 0; i < 100; i++) await signer.sign(idTokenClaims(clock));
    await Promise.all(Array.from({ length: 100 }, () => signer.sign(idTokenClaims(clock))));
    assert.equal(counts.getKeys, reads);
    // Once the cache is stale, concurrent signers share a single read.
    clock.advance(KEY_CACHE_TTL_MS);
    await Promise.all(Array.from({ length: 20 }, () => signer.sign(idTokenClaims(clock))));
    assert.equal(counts.getKeys, reads + 1);
  });

  it('notices a rotation by another replica within the cache lifetime', async () => {
    const clock = new ManualClock();
    const storage = openMemory();
    const a = createSigner(signerOptions({ storage, clock }));
    const b = createSigner(signerOptions({ storage, clock }));
    await Promise.all([a.ensureKeys(), b.ensureKeys()]);
    clock.advance(6 * HOUR);
    const oldKid = decodeProtectedHeader(await b.sign(idTokenClaims(clock))).kid;
    assert.equal(await a.rotateIfDue(), true);
    const fromA = await a.sign(idTokenClaims(clock));
    const newKid = decodeProtectedHeader(fromA).kid;
    assert.notEqual(newKid, oldKid);

    // b has not looked yet: it still signs with the old key, which a still publishes and accepts.
    const fromB = await b.sign(idTokenClaims(clock));
    assert.equal(decodeProtectedHeader(fromB).kid, oldKid);
    await a.verify(fromB);
    // A token with a kid b has not seen makes b look at storage at once.
    await b.verify(fromA);
    assert.equal(decodeProtectedHeader(await b.sign(idTokenClaims(clock))).kid, newKid);
  });

  it('switches to the new key after the cache lifetime without any unknown kid', async () => {
    const clock = new ManualClock();
    const storage = openMemory();
    const a = createSigner(signerOptions({ storage, clock }));
    const b = createSigner(signerOptions({ storage, clock }));
    await Promise.all([a.ensureKeys(), b.ensureKeys()]);
    clock.advance(6 * HOUR);
    await b.jwks(); // b reads storage now, just before a rotates
    await a.rotateIfDue();
    const newKid = (await a.jwks()).keys[0]?.kid;
    assert.notEqual((await b.jwks()).keys[0]?.kid, newKid);
    clock.advance(KEY_CACHE_TTL_MS - 1);
    assert.notEqual((await b.jwks()).keys[0]?.kid, newKid);
    clock.advance(1);
    assert.equal((await b.jwks()).keys[0]?.kid, newKid);
    assert.deepEqual(await b.jwks(), await a.jwks());
  });

  it('reads storage for unknown kids at most once a second', async () => {
    const clock = new ManualClock();
    const { storage, counts } = instrumented(openMemory());
    const signer = createSigner(signerOptions({ storage, clock, algorithm: 'ES256' }));
    await signer.ensureKeys();
    const { privateKey } = await generateKeyPair('ES256');
    const bogus = await Promise.all(
      ['x1', 'x2', 'x3'].map((kid) =>
        new SignJWT(idTokenClaims(clock)).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey),
      ),
    );
    const reads = counts.getKeys;
    for (const token of bogus) await assert.rejects(signer.verify(token), { reason: 'unknown_key' });
    assert.equal(counts.getKeys, reads + 1);
    clock.advance(1000);
    await assert.rejects(signer.verify(bogus[0] ?? ''), { reason: 'unknown_key' });
    assert.equal(counts.getKeys, reads + 2);
  });

  it('reads keys again when the clock goes backwards', async () => {
    const clock = new ManualClock();
    const { storage, counts } = instrumented(openMemory());
    const signer = createSigner(signerOptions({ storage, clock, algorithm: 'ES256' }));
    await signer.ensureKeys();
    const reads = counts.getKeys;
    clock.advance(-1);
    await signer.jwks();
    assert.equal(counts.getKeys, reads + 1);
  });
});

describe('JWKS document', () => {
  it('drops a retired key when it expires, even when storage hands back the same keys object', async () => {
    const clock = new ManualClock();
    // A backend that returns the very object it returned last while the stored keys are unchanged (as a caching one
    // may): the signer cannot tell from the object that anything is due, only from the clock.
    const base = openMemory();
    let last: { json: string; keys: Keys | undefined } = { json: '', keys: undefined };
    const storage: Storage = Object.create(base) as Storage;
    Object.assign(storage, {
      getKeys: async (): Promise<Keys | undefined> => {
        const keys = await base.getKeys();
        const json = JSON.stringify(keys);
        if (json !== last.json) last = { json, keys };
        return last.keys;
      },
      updateKeys: base.updateKeys.bind(base),
    });
    const signer = createSigner(signerOptions({ clock, storage }));
    await signer.ensureKeys();
    clock.advance(6 * HOUR);
    assert.equal(await signer.rotateIfDue(), true);
    const rotated = await signer.jwksDocument();
    const kidsOf = (document: { body: Buffer }): string[] =>
      (JSON.parse(document.body.toString('utf8')) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    assert.equal(kidsOf(rotated).length, 2, 'the new key and the retired one');
    const retiredUntil = (await base.getKeys())?.verificationKeys[0]?.expiry.getTime() ?? Number.NaN;
    clock.advance(retiredUntil - clock.now().getTime() - 1);
    assert.deepEqual(kidsOf(await signer.jwksDocument()), kidsOf(rotated), 'published while it may still verify');
    clock.advance(1);
    const later = await signer.jwksDocument();
    assert.deepEqual(kidsOf(later), kidsOf(rotated).slice(0, 1));
    assert.notEqual(later.etag, rotated.etag);
  });
});

describe('rotation timer', () => {
  it('calls rotateIfDue on every tick until stopped', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const signer = createSigner(signerOptions());
    const rotateIfDue = t.mock.method(signer, 'rotateIfDue', async () => false);
    signer.startRotation(60_000);
    t.mock.timers.tick(59_999);
    assert.equal(rotateIfDue.mock.callCount(), 0);
    t.mock.timers.tick(1);
    await new Promise(setImmediate);
    t.mock.timers.tick(60_000);
    assert.equal(rotateIfDue.mock.callCount(), 2);
    signer.stop();
    t.mock.timers.tick(120_000);
    assert.equal(rotateIfDue.mock.callCount(), 2);
  });

  it('does not start a rotation while the previous one is still running', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const signer = createSigner(signerOptions());
    let finish: (rotated: boolean) => void = () => {};
    const rotateIfDue = t.mock.method(
      signer,
      'rotateIfDue',
      () => new Promise<boolean>((resolve) => (finish = resolve)),
    );
    signer.startRotation(1000);
    t.mock.timers.tick(1000);
    t.mock.timers.tick(1000);
    assert.equal(rotateIfDue.mock.callCount(), 1);
    finish(false);
    await new Promise(setImmediate);
    t.mock.timers.tick(1000);
    assert.equal(rotateIfDue.mock.callCount(), 2);
    signer.stop();
  });

  it('logs a failed rotation instead of throwing', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const signer = createSigner(signerOptions({ log: pino(stream) }));
    t.mock.method(signer, 'rotateIfDue', async () => {
      throw new Error('storage unavailable');
    });
    signer.startRotation(1000);
    t.mock.timers.tick(1000);
    await new Promise(setImmediate);
    signer.stop();
    assert.equal(lines.length, 1);
    const entry: unknown = JSON.parse(lines[0] ?? '');
    assert.ok(typeof entry === 'object' && entry !== null && 'msg' in entry && 'err' in entry);
    assert.equal(entry.msg, 'signing key rotation failed');
  });
});

/** The pooled CSPRNG reader behind every token, code and jti (src/deps.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pooledRandomBytes } from '../../src/deps.js';

describe('pooled random bytes', () => {
  it('hands out each byte once: no two tokens share bytes across several refills of the pool', () => {
    const random = pooledRandomBytes();
    const tokens = Array.from({ length: 1000 }, () => random(32));
    assert.ok(tokens.every((token) => token.length === 32));
    assert.equal(new Set(tokens.map((token) => token.toString('hex'))).size, 1000);
    // 32 KB of output is not mostly zeros (a pool handed out after wiping, or before filling, would be).
    const zeros = tokens.reduce((n, token) => n + token.filter((byte) => byte === 0).length, 0);
    assert.ok(zeros < 32_000 / 64, `${zeros} zero bytes`);
  });

  it('returns copies that later refills and wipes do not change', () => {
    const random = pooledRandomBytes();
    const first = random(16);
    const kept = Buffer.from(first);
    for (let i = 0; i < 600; i++) random(16);
    assert.deepEqual(first, kept);
  });

  it('serves odd and large sizes, the large ones straight from the CSPRNG', () => {
    const random = pooledRandomBytes();
    for (const size of [0, 1, 7, 255, 256, 257, 4096, 10_000]) assert.equal(random(size).length, size);
    assert.notDeepEqual(random(10_000), random(10_000));
  });
});

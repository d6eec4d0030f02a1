/** Issue 6: three replicas on one PostgreSQL schema rotate the signing key exactly once per period. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { JWK } from 'jose';
import { ManualClock } from '../../src/deps.js';
import { createSchema, postgresSkip, urlWithSchema } from '../support/postgres.js';
import { replicaYaml, startReplica, type Replica } from './support.js';

const MINUTE = 60_000;

describe('signing-key rotation with three replicas', { skip: postgresSkip }, () => {
  const replicas: Replica[] = [];
  after(async () => Promise.all(replicas.map((r) => r.close())));

  const publishedBy = async (replica: Replica): Promise<JWK[]> => {
    const response = await fetch(`${replica.origin}/dex/keys`);
    assert.equal(response.status, 200);
    return ((await response.json()) as { keys: JWK[] }).keys;
  };

  it('creates one key at a simultaneous start, then exactly one replica rotates each period and all publish the same JWKS', async () => {
    const schema = await createSchema('rotation');
    // Nothing here fetches through the issuer, so the replicas bind free ports (0) and the issuer names none of
    // them: a port picked beforehand could be taken by a concurrent test before the replica listens on it.
    const issuer = 'http://127.0.0.1:5556/dex';
    // Replica clocks disagree by a few seconds, as NTP-synchronised hosts do.
    const start = Date.UTC(2026, 0, 1, 0, 0, 0);
    const clocks = [0, 1_500, -2_500].map((skew) => new ManualClock(start + skew));
    const yaml = replicaYaml({ issuer, port: 0, url: urlWithSchema(schema), signingKeys: '6h' });
    // Each replica is kept for `after` as soon as it runs, so a failed start never leaves the others listening.
    await Promise.all(clocks.map(async (clock) => replicas.push(await startReplica(yaml, 0, clock))));
    const initial = await Promise.all(replicas.map(publishedBy));
    assert.equal(initial[0]?.length, 1, 'three replicas starting at once created a single key');
    assert.deepEqual(initial[1], initial[0]);
    assert.deepEqual(initial[2], initial[0]);

    // A token signed before any rotation, to check every replica still accepts it afterwards.
    const [first, , third] = replicas as [Replica, Replica, Replica];
    const early = await first.server.signer.sign({
      iss: issuer,
      sub: 'someone',
      aud: 'example-app',
      exp: Math.floor(clocks[0]!.now().getTime() / 1000) + 3600,
    });

    // 13 hours in 10-minute ticks: every replica's rotation timer fires at each tick, at the same moment.
    const winners: number[][] = [];
    for (let tick = 1; tick <= 78; tick++) {
      for (const clock of clocks) clock.advance(10 * MINUTE);
      const rotated = await Promise.all(replicas.map((r) => r.server.signer.rotateIfDue()));
      const who = rotated.flatMap((didRotate, i) => (didRotate ? [i] : []));
      assert.ok(who.length <= 1, `tick ${tick}: replicas ${who.join(', ')} all rotated`);
      if (who.length === 1) winners.push([tick, ...who]);
    }
    // Rotations are due at 6 h and 12 h; the ticks that cross them are 36 and 72.
    assert.deepEqual(
      winners.map(([tick]) => tick),
      [36, 72],
      `rotations at ticks ${JSON.stringify(winners)}`,
    );

    const after13h = await Promise.all(replicas.map(publishedBy));
    assert.deepEqual(after13h[1], after13h[0]);
    assert.deepEqual(after13h[2], after13h[0]);
    // The current key and both retired ones: tokens they signed (24 h ID tokens) may still be in use.
    assert.equal(after13h[0]?.length, 3);
    assert.equal(after13h[0]?.[2]?.kid, initial[0]?.[0]?.kid);
    assert.ok(
      after13h[0]?.every((k) => k.d === undefined),
      'no private members are published',
    );
    assert.equal((await third.server.signer.verify(early, { ignoreExpiry: true })).sub, 'someone');
  });
});

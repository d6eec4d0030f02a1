/**
 * Issue 6: the same refresh token presented at the same moment to two replicas on one PostgreSQL
 * schema. Inside the reuse interval both get the same new token; without one, one wins and the other
 * gets invalid_grant. Never two different live tokens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/config-server.js';
import { createSchema, postgresSkip, urlWithSchema } from '../support/postgres.js';
import { clientFor, login, refreshAt, replicaYaml, startReplica, type Replica, type TokenAnswer } from './support.js';

/** Two replicas behind one issuer on a fresh schema. */
async function twoReplicas(reuseInterval: string): Promise<{ a: Replica; b: Replica; issuer: string }> {
  const schema = await createSchema('refresh');
  const [portA, portB] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${portA}/dex`;
  const yaml = (port: number) => replicaYaml({ issuer, port, url: urlWithSchema(schema), reuseInterval });
  const [a, b] = await Promise.all([startReplica(yaml(portA), portA), startReplica(yaml(portB), portB)]);
  return { a, b, issuer };
}

const refreshTokenOf = (answer: TokenAnswer): string => {
  const token = answer.body.refresh_token;
  assert.equal(typeof token, 'string', `expected a refresh token, got ${answer.status} ${JSON.stringify(answer.body)}`);
  return token as string;
};

describe('refresh race between two replicas', { skip: postgresSkip }, () => {
  const running: Replica[] = [];
  after(async () => Promise.all(running.map((r) => r.close())));

  it('gives both replicas the same new token when the race falls inside reuseInterval', async () => {
    const { a, b, issuer } = await twoReplicas('3s');
    running.push(a, b);
    let token = (await login(await clientFor(issuer))).refresh_token ?? '';
    const rounds = 15;
    for (let round = 0; round < rounds; round++) {
      const [fromA, fromB] = await Promise.all([refreshAt(a.origin, token), refreshAt(b.origin, token)]);
      assert.equal(fromA.status, 200, `round ${round}: ${JSON.stringify(fromA.body)}`);
      assert.equal(fromB.status, 200, `round ${round}: ${JSON.stringify(fromB.body)}`);
      const next = refreshTokenOf(fromA);
      assert.equal(refreshTokenOf(fromB), next, `round ${round}: both replicas hand out the same new token`);
      assert.notEqual(next, token);
      token = next;
    }
    // The token both received is the live one: it works once more, on either replica.
    assert.equal((await refreshAt(b.origin, token)).status, 200);
  });

  describe('with reuseInterval 0s', () => {
    const rounds: { a: TokenAnswer; b: TokenAnswer; again?: TokenAnswer }[] = [];
    before(async () => {
      const { a, b, issuer } = await twoReplicas('0s');
      running.push(a, b);
      const client = await clientFor(issuer);
      for (let round = 0; round < 12; round++) {
        const token = (await login(client)).refresh_token ?? '';
        const [fromA, fromB] = await Promise.all([refreshAt(a.origin, token), refreshAt(b.origin, token)]);
        const winner = [fromA, fromB].find((r) => r.status === 200);
        // Is the winner's token live afterwards? Asked of the other replica.
        const again =
          winner === undefined
            ? undefined
            : await refreshAt(winner === fromA ? b.origin : a.origin, refreshTokenOf(winner));
        rounds.push({ a: fromA, b: fromB, ...(again !== undefined ? { again } : {}) });
      }
      const count = (test: (r: (typeof rounds)[number]) => boolean): number => rounds.filter(test).length;
      const outcomes = {
        aWon: count((r) => r.a.status === 200 && r.b.status !== 200),
        bWon: count((r) => r.b.status === 200 && r.a.status !== 200),
        bothSucceeded: count((r) => r.a.status === 200 && r.b.status === 200),
        bothFailed: count((r) => r.a.status !== 200 && r.b.status !== 200),
        winnerStillLive: count((r) => r.again?.status === 200),
      };
      process.stderr.write(`# reuseInterval 0s, ${rounds.length} rounds: ${JSON.stringify(outcomes)}\n`);
    });

    it('never hands out two different tokens, and at least one request wins', () => {
      for (const [i, { a, b }] of rounds.entries()) {
        const tokens = new Set([a, b].filter((r) => r.status === 200).map(refreshTokenOf));
        assert.equal(
          tokens.size,
          1,
          `round ${i}: ${a.status} ${JSON.stringify(a.body)} / ${b.status} ${JSON.stringify(b.body)}`,
        );
        for (const r of [a, b])
          if (r.status !== 200)
            assert.deepEqual(r.body, { error: 'invalid_grant', error_description: 'invalid refresh token' });
      }
    });

    it(
      'answers the loser with invalid_grant in every round',
      // A reuseInterval of 0 means no reuse (Dex's AllowedToReuse), even for a loser whose clock read came first.
      () => {
        for (const [i, { a, b }] of rounds.entries()) {
          assert.deepEqual([a.status, b.status].sort(), [200, 400], `round ${i}`);
        }
      },
    );
  });
});

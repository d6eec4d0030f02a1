/**
 * The refresh race between two replicas (refresh-race.test.ts), on Kubernetes storage: the same refresh token
 * presented at once to two replicas sharing one namespace of the API server stand-in. The rotation is a
 * resourceVersion compare-and-swap: inside the reuse interval both get the same new token; without one, one wins
 * and the other gets invalid_grant. Never a 5xx, never two different live tokens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/config-server.js';
import { idportChartRules, startKubeApiServer, type KubeApiServer } from '../support/kube-apiserver.js';
import { clientFor, login, refreshAt, replicaYaml, startReplica, type Replica, type TokenAnswer } from './support.js';

const tokenOf = (answer: TokenAnswer): string => {
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return String(answer.body.refresh_token);
};

describe('refresh race between two replicas on kubernetes storage', () => {
  let server: KubeApiServer;
  const running: Replica[] = [];
  let namespaces = 0;
  before(async () => {
    server = await startKubeApiServer({ users: { replicas: idportChartRules } });
  });
  after(async () => {
    await Promise.all(running.map((r) => r.close()));
    await server.close();
  });

  const twoReplicas = async (reuseInterval: string): Promise<{ a: Replica; b: Replica; issuer: string }> => {
    const kubeconfig = server.kubeconfig('replicas', `race-${++namespaces}`);
    const [portA, portB] = [await freePort(), await freePort()];
    const issuer = `http://127.0.0.1:${portA}/dex`;
    const yaml = (port: number): string =>
      replicaYaml({ issuer, port, url: 'unused', reuseInterval }).replace(
        /storage:[\s\S]*?\nweb:/,
        `storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: ${kubeconfig}\nweb:`,
      );
    const a = await startReplica(yaml(portA), portA);
    const b = await startReplica(yaml(portB), portB);
    running.push(a, b);
    return { a, b, issuer };
  };

  it('gives both replicas the same new token when the race falls inside reuseInterval', async () => {
    const { a, b, issuer } = await twoReplicas('3s');
    let token = (await login(await clientFor(issuer))).refresh_token ?? '';
    for (let round = 0; round < 8; round++) {
      const [fromA, fromB] = await Promise.all([refreshAt(a.origin, token), refreshAt(b.origin, token)]);
      const next = tokenOf(fromA);
      assert.equal(tokenOf(fromB), next, `round ${round}: both replicas hand out the same new token`);
      assert.notEqual(next, token);
      token = next;
    }
    assert.equal((await refreshAt(b.origin, token)).status, 200);
  });

  it('with reuseInterval 0s, lets exactly one replica win each round and answers the other invalid_grant', async () => {
    const { a, b, issuer } = await twoReplicas('0s');
    const client = await clientFor(issuer);
    for (let round = 0; round < 6; round++) {
      const token = (await login(client)).refresh_token ?? '';
      const [fromA, fromB] = await Promise.all([refreshAt(a.origin, token), refreshAt(b.origin, token)]);
      assert.deepEqual([fromA.status, fromB.status].sort(), [200, 400], `round ${round}`);
      const loser = fromA.status === 200 ? fromB : fromA;
      assert.deepEqual(loser.body, { error: 'invalid_grant', error_description: 'invalid refresh token' });
      const winner = fromA.status === 200 ? fromA : fromB;
      assert.equal((await refreshAt(winner === fromA ? b.origin : a.origin, tokenOf(winner))).status, 200);
    }
  });
});

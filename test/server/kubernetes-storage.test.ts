/**
 * `idport serve` on a Dex config with `storage: {type: kubernetes}`, against the Kubernetes API stand-in with only
 * the RBAC of Dex's chart: the config-to-server path opens the backend, the fallback warning reaches the log once,
 * a login works, and garbage collection at start removes what expired, Dex's objects included.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { dexChartRules, startKubeApiServer, type KubeApiServer } from '../support/kube-apiserver.js';
import { configYaml, loginAndRedeem, start, type Started } from './support.js';

const NS = 'auth';

describe("idport serve with Kubernetes storage and the RBAC of Dex's chart", () => {
  let kube: KubeApiServer;
  let idport: Started;
  const expiredCode = 'dexexpiredcode';

  before(async () => {
    kube = await startKubeApiServer({ users: { 'dex-sa': dexChartRules } });
    const kubeconfig = kube.kubeconfig('dex-sa', NS);
    const storage = `storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: ${kubeconfig}`;
    idport = await start(configYaml().replace('storage:\n  type: memory', storage));
    // An auth code Dex left behind, long expired (Dex's AuthCode shape).
    kube.plant('dex.coreos.com', 'authcodes', NS, {
      apiVersion: 'dex.coreos.com/v1',
      kind: 'AuthCode',
      metadata: { name: expiredCode },
      clientID: 'example-app',
      redirectURI: 'http://127.0.0.1:5555/callback',
      claims: { userID: 'u', username: 'u', preferredUsername: '', email: 'u@example.com', emailVerified: true },
      expiry: '2020-01-01T00:00:00.123456789Z',
    });
  });
  after(async () => {
    await idport.close();
    await kube.close();
  });

  it("logs one warning from the storage component naming the fallback into Dex's group", () => {
    const warnings = idport.logs().filter((line) => line['level'] === 40 && line['component'] === 'storage');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(String(warnings[0]?.['msg']), /refuses group idport\.dev .* kept as idportsessions\.dex\.coreos\.com/);
  });

  it('logs the user in and issues tokens, with the session kept in dex.coreos.com', async () => {
    const tokens = await loginAndRedeem(idport.origin);
    assert.equal(typeof tokens['id_token'], 'string');
    assert.ok([...kube.objects.keys()].some((k) => k.startsWith(`dex.coreos.com/idportsessions/${NS}/`)));
  });

  it('collects expired objects when its timers start, Dex-written ones included', async () => {
    const key = `dex.coreos.com/authcodes/${NS}/${expiredCode}`;
    assert.ok(kube.objects.has(key));
    idport.server.startTimers();
    // The first pass runs at once, in the background: wait for its deletion request to arrive.
    const deletion = `DELETE /apis/dex.coreos.com/v1/namespaces/${NS}/authcodes/${expiredCode}`;
    // A guard against hanging, not a timing assertion: the pass takes milliseconds.
    const giveUp = Date.now() + 120_000;
    while (!kube.requests.includes(deletion)) {
      if (Date.now() > giveUp) assert.fail(`no garbage collection: ${kube.requests.slice(-5).join(', ')}`);
      await sleep(20);
    }
    assert.equal(kube.objects.has(key), false);
  });
});

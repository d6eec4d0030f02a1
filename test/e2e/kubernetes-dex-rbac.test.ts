/**
 * idport swapped in for Dex under Dex's own chart (or a manifest written for Dex, such as Kubeflow's or Kyma's):
 * the service account has exactly the RBAC of Dex's chart, which covers dex.coreos.com and nothing of idport.dev.
 * idport starts, says once where it keeps what Dex does not have, and a login's browser session, the brute-force
 * counter and the deny-list of revoked access tokens work, stored as objects of Dex's group.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_BRUTE_FORCE } from '../support/settings.js';
import { openKubernetes } from '../../storage/kubernetes/kubernetes.js';
import { Browser, formsOf } from '../support/browser.js';
import { confidentialClient, demoUser, startIdport, type TestIdport } from '../support/idport.js';
import { dexChartRules, startKubeApiServer, type KubeApiServer } from '../support/kube-apiserver.js';
import { testFetch } from '../support/in-process.js';
import {
  authorize,
  authUrl,
  basicAuth,
  callUserinfo,
  codeRequest,
  credentialsOf,
  redeemCode,
  REDIRECT,
  str,
} from './helpers.js';

const NS = 'kubeflow';

describe("idport under the RBAC of Dex's chart", () => {
  let server: KubeApiServer;
  let idport: TestIdport;
  const warnings: string[] = [];
  /** Object keys (`group/plural/namespace/name`) of one plural in the namespace. */
  const stored = (plural: string): string[] =>
    [...server.objects.keys()].filter((k) => k.startsWith(`dex.coreos.com/${plural}/${NS}/`));

  before(async () => {
    server = await startKubeApiServer({ users: { 'dex-sa': dexChartRules } });
    const storage = await openKubernetes(
      { kubeConfigFile: server.kubeconfig('dex-sa', NS) },
      { warn: (m) => void warnings.push(m), info: () => undefined },
    );
    idport = await startIdport({ clients: [confidentialClient('web', [REDIRECT])], storage });
  });
  after(async () => {
    await idport.close();
    await server.close();
  });

  it("starts, creating Dex's CRDs and idport's kinds inside dex.coreos.com, with one warning naming them", () => {
    assert.ok(server.crds.has('idportsessions.dex.coreos.com'));
    assert.deepEqual(
      [...server.crds.keys()].filter((name) => !name.endsWith('.dex.coreos.com')),
      [],
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /refuses group idport\.dev .*403/);
    assert.match(warnings[0] ?? '', /kept as idportsessions\.dex\.coreos\.com/);
  });

  it('keeps the browser session of a login as an IdportSession, and signs the user in with it again', async () => {
    const browser = new Browser();
    const first = await authorize(idport, codeRequest('web', { scope: 'openid email' }), browser);
    assert.ok(first.get('code'));
    const [name] = stored('idportsessions');
    assert.ok(name, 'one session object');
    assert.equal(server.objects.get(name)?.['kind'], 'IdportSession');
    // The same browser comes back: the session answers without the password form.
    const again = await browser.follow(authUrl(idport, codeRequest('web')), REDIRECT);
    assert.ok(
      again.location?.startsWith(REDIRECT),
      `redirected without a login form: ${again.page.body.slice(0, 200)}`,
    );
  });

  it('counts wrong passwords in IdportPasswordFailures and locks the account at the limit', async () => {
    const browser = new Browser();
    const page = await browser.follow(authUrl(idport, codeRequest('web')), REDIRECT);
    const [form] = formsOf(page.page);
    assert.ok(form);
    const attempt = () =>
      browser.request(form.action, { form: { ...form.fields, login: 'nobody@example.com', password: 'x' } });
    assert.equal((await attempt()).status, 401);
    const [counter] = stored('idportpasswordfailures');
    assert.ok(counter, 'one counter object');
    assert.equal(server.objects.get(counter)?.['kind'], 'IdportPasswordFailures');
    for (let i = 1; i < DEFAULT_BRUTE_FORCE.maxFailures; i++) assert.equal((await attempt()).status, 401);
    assert.equal((await attempt()).status, 429);
  });

  it('revokes an access token at /token/revoke into IdportRevokedToken, after which /userinfo refuses it', async () => {
    const params = await authorize(idport, codeRequest('web', { scope: 'openid email' }));
    const tokens = await redeemCode(idport, 'web', params.get('code') ?? '');
    const accessToken = str(tokens.body, 'access_token');
    assert.equal((await callUserinfo(idport, accessToken)).body['email'], demoUser.email);
    const revoked = await testFetch(`${idport.issuer}/token/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(credentialsOf('web')) },
      body: new URLSearchParams({ token: accessToken }).toString(),
    });
    assert.equal(revoked.status, 200);
    // The deny-list entry is an IdportRevokedToken in Dex's group.
    const [entry] = stored('idportrevokedtokens');
    assert.ok(entry, 'one deny-list object');
    assert.equal(server.objects.get(entry)?.['kind'], 'IdportRevokedToken');
    const info = await callUserinfo(idport, accessToken);
    assert.equal(info.status, 401);
    assert.deepEqual(info.body, { error: 'invalid_token', error_description: 'the access token was revoked' });
  });
});

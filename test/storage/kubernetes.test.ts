/**
 * The Kubernetes backend: the conformance suite against the API server stand-in, then what is particular to
 * Kubernetes — CRDs at start, RBAC, compare-and-swap between replicas, paging, and names as Dex derives them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openKubernetes, type StorageLog } from '../../storage/kubernetes/kubernetes.js';
import { idToName, offlineTokenName } from '../../storage/kubernetes/names.js';
import { StorageUnavailableError, type Storage } from '../../storage/storage.js';
import { dexChartRules, idportChartRules, startKubeApiServer, type KubeApiServer } from '../support/kube-apiserver.js';
import { runStorageConformance } from './conformance.js';
import * as fx from './fixtures.js';

const server: KubeApiServer = await startKubeApiServer({
  users: { 'idport-token': idportChartRules, 'dex-chart-token': dexChartRules, 'nobody-token': [] },
});
const opened: Storage[] = [];
after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await server.close();
});

/** A log that keeps what the backend reported. */
const captureLog = (): StorageLog & { warnings: string[]; infos: string[] } => {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, warn: (m) => void warnings.push(m), info: (m) => void infos.push(m) };
};

let namespaces = 0;
/** A storage in a namespace of its own, so each test starts empty. */
const open = async (namespace = `ns-${++namespaces}`, token = 'idport-token', log = captureLog()): Promise<Storage> => {
  const storage = await openKubernetes({ kubeConfigFile: server.kubeconfig(token, namespace) }, log);
  opened.push(storage);
  return storage;
};

runStorageConformance('kubernetes storage', () => open());
// A service account with exactly the RBAC of Dex's chart: idport's kinds live in dex.coreos.com, and the whole
// contract holds there too.
runStorageConformance("kubernetes storage with the RBAC of Dex's chart", () => open(undefined, 'dex-chart-token'));

describe('kubernetes storage: start-up', () => {
  it('creates every missing CRD as Dex defines it, and only checks them on the next start', async () => {
    const fresh = await startKubeApiServer({ users: { t: idportChartRules } });
    try {
      const log = captureLog();
      const storage = await openKubernetes({ kubeConfigFile: fresh.kubeconfig('t', 'dex') }, log);
      await storage.close();
      // Permitted to use idport's group, idport keeps its kinds there, and has nothing to warn about.
      assert.deepEqual(log.warnings, []);
      assert.deepEqual([...fresh.crds.keys()].sort(), [
        'authcodes.dex.coreos.com',
        'authrequests.dex.coreos.com',
        'connectors.dex.coreos.com',
        'devicerequests.dex.coreos.com',
        'devicetokens.dex.coreos.com',
        'oauth2clients.dex.coreos.com',
        'offlinesessionses.dex.coreos.com',
        'passwordfailures.idport.dev',
        'passwords.dex.coreos.com',
        'refreshtokens.dex.coreos.com',
        'revokedtokens.idport.dev',
        'sessions.idport.dev',
        'signingkeies.dex.coreos.com',
      ]);
      const keys = fresh.crds.get('signingkeies.dex.coreos.com');
      assert.deepEqual(keys?.['spec'], {
        group: 'dex.coreos.com',
        names: { plural: 'signingkeies', singular: 'signingkey', kind: 'SigningKey' },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      });
      fresh.requests.length = 0;
      await (await openKubernetes({ kubeConfigFile: fresh.kubeconfig('t', 'dex') })).close();
      assert.equal(fresh.requests.filter((r) => r.startsWith('POST')).length, 0);
      assert.ok(fresh.requests.includes('GET /apis/dex.coreos.com/v1/namespaces/dex/signingkeies?limit=1'));
    } finally {
      await fresh.close();
    }
  });

  it('with crdHandling: check, refuses to start without the CRDs and creates none', async () => {
    const fresh = await startKubeApiServer({ users: { t: idportChartRules } });
    try {
      await assert.rejects(
        openKubernetes({ kubeConfigFile: fresh.kubeconfig('t', 'dex'), crdHandling: 'check' }),
        (err: unknown) =>
          err instanceof StorageUnavailableError &&
          err.message.includes('storage is not initialized, CRDs are not created') &&
          err.message.includes('authcodes.dex.coreos.com'),
      );
      assert.equal(fresh.crds.size, 0);
    } finally {
      await fresh.close();
    }
  });

  it('names the API refusal when the service account may not create CRDs', async () => {
    const fresh = await startKubeApiServer({
      users: { t: [{ apiGroups: ['dex.coreos.com', 'idport.dev'], resources: ['*'], verbs: ['*'] }] },
    });
    try {
      await assert.rejects(openKubernetes({ kubeConfigFile: fresh.kubeconfig('t', 'dex') }), (err: unknown) => {
        assert.ok(err instanceof StorageUnavailableError);
        assert.match(err.message, /403: customresourcedefinitions.apiextensions.k8s.io is forbidden/);
        return true;
      });
    } finally {
      await fresh.close();
    }
  });

  it("refuses an unknown bearer token with the API server's 401", async () => {
    await assert.rejects(
      openKubernetes({ kubeConfigFile: server.kubeconfig('wrong-token', 'x'), crdHandling: 'check' }),
      StorageUnavailableError,
    );
  });
});

const DEX_KINDS = [
  'authcodes.dex.coreos.com',
  'authrequests.dex.coreos.com',
  'connectors.dex.coreos.com',
  'devicerequests.dex.coreos.com',
  'devicetokens.dex.coreos.com',
  'oauth2clients.dex.coreos.com',
  'offlinesessionses.dex.coreos.com',
  'passwords.dex.coreos.com',
  'refreshtokens.dex.coreos.com',
  'signingkeies.dex.coreos.com',
];
const FALLBACK_KINDS = [
  'idportpasswordfailures.dex.coreos.com',
  'idportrevokedtokens.dex.coreos.com',
  'idportsessions.dex.coreos.com',
];

describe("kubernetes storage: the RBAC of Dex's chart", () => {
  it("starts with exactly Dex's chart rules, keeping idport's kinds in dex.coreos.com, with one warning", async () => {
    const fresh = await startKubeApiServer({ users: { t: dexChartRules } });
    try {
      const log = captureLog();
      const storage = await openKubernetes({ kubeConfigFile: fresh.kubeconfig('t', 'dex') }, log);
      assert.deepEqual([...fresh.crds.keys()].sort(), [...DEX_KINDS, ...FALLBACK_KINDS].sort());
      assert.deepEqual((fresh.crds.get('idportsessions.dex.coreos.com')?.['spec'] as { names: unknown }).names, {
        plural: 'idportsessions',
        singular: 'idportsession',
        kind: 'IdportSession',
      });
      assert.equal(log.warnings.length, 1);
      assert.match(log.warnings[0] ?? '', /refuses group idport\.dev \(kubernetes: list sessions\.idport\.dev: 403: /);
      assert.match(log.warnings[0] ?? '', /idportsessions\.dex\.coreos\.com, idportpasswordfailures\.dex\.coreos\.com/);
      // The entities Dex does not have work, and are stored as objects of Dex's group.
      await storage.sessions.create(fx.session(1));
      await storage.passwordFailures.create(fx.passwordFailures(2));
      await storage.revokedTokens.create(fx.revokedToken(3));
      assert.deepEqual(await storage.sessions.get('session-1'), fx.session(1));
      assert.deepEqual(await storage.passwordFailures.get('failures-2'), fx.passwordFailures(2));
      assert.deepEqual(await storage.revokedTokens.get('jti-3'), fx.revokedToken(3));
      const kinds = [...fresh.objects.entries()].map(
        ([key, obj]) => `${key.split('/')[1] ?? ''} ${String(obj['kind'])}`,
      );
      assert.deepEqual(kinds.sort(), [
        'idportpasswordfailures IdportPasswordFailures',
        'idportrevokedtokens IdportRevokedToken',
        'idportsessions IdportSession',
      ]);
      assert.ok([...fresh.objects.values()].every((o) => o['apiVersion'] === 'dex.coreos.com/v1'));
      await storage.close();
      // The next start finds everything and creates nothing; it warns again, once.
      fresh.requests.length = 0;
      const again = captureLog();
      await (await openKubernetes({ kubeConfigFile: fresh.kubeconfig('t', 'dex') }, again)).close();
      assert.equal(fresh.requests.filter((r) => r.startsWith('POST')).length, 0);
      assert.equal(again.warnings.length, 1);
    } finally {
      await fresh.close();
    }
  });

  it("falls back when an admission policy refuses idport's CRDs, though the role allows the group", async () => {
    const fresh = await startKubeApiServer({
      users: { t: idportChartRules },
      admitDefinition: (name) => (name.endsWith('.idport.dev') ? 'API group idport.dev is not approved' : undefined),
    });
    try {
      const log = captureLog();
      const storage = await openKubernetes({ kubeConfigFile: fresh.kubeconfig('t', 'dex') }, log);
      await storage.revokedTokens.create(fx.revokedToken(1));
      await storage.close();
      assert.deepEqual([...fresh.crds.keys()].sort(), [...DEX_KINDS, ...FALLBACK_KINDS].sort());
      assert.equal(log.warnings.length, 1);
      assert.match(log.warnings[0] ?? '', /sessions\.idport\.dev: 403: admission webhook .* is not approved/);
      assert.ok(fresh.objects.has('dex.coreos.com/idportrevokedtokens/dex/jti-1'));
    } finally {
      await fresh.close();
    }
  });

  it("with crdHandling: check, names the missing kinds of the fallback, not idport's group", async () => {
    const fresh = await startKubeApiServer({ users: { t: dexChartRules } });
    try {
      await assert.rejects(
        openKubernetes({ kubeConfigFile: fresh.kubeconfig('t', 'dex'), crdHandling: 'check' }, captureLog()),
        (err: unknown) => {
          assert.ok(err instanceof StorageUnavailableError);
          assert.match(err.message, /crdHandling: check\): missing authcodes\.dex\.coreos\.com, /);
          assert.match(err.message, /, idportsessions\.dex\.coreos\.com, /);
          assert.doesNotMatch(err.message, /idport\.dev/);
          return true;
        },
      );
      assert.equal(fresh.crds.size, 0);
    } finally {
      await fresh.close();
    }
  });

  it("refuses to start, naming the 403, when even Dex's group is refused", async () => {
    const fresh = await startKubeApiServer({ users: { t: dexChartRules.slice(1) } });
    try {
      await assert.rejects(
        openKubernetes({ kubeConfigFile: fresh.kubeconfig('t', 'dex') }, captureLog()),
        (err: unknown) => {
          assert.ok(err instanceof StorageUnavailableError);
          assert.match(err.message, /list authcodes\.dex\.coreos\.com: 403: authcodes\.dex\.coreos\.com is forbidden/);
          assert.match(err.message, /every verb on group dex\.coreos\.com/);
          return true;
        },
      );
    } finally {
      await fresh.close();
    }
  });

  it("moves what the fallback kept into idport.dev once the role grants idport's group", async () => {
    const before = await open('rbac-granted', 'dex-chart-token');
    await before.sessions.create(fx.session(1));
    await before.passwordFailures.create(fx.passwordFailures(2));
    await before.revokedTokens.create(fx.revokedToken(3));
    const log = captureLog();
    const after = await open('rbac-granted', 'idport-token', log);
    assert.deepEqual(log.warnings, []);
    assert.deepEqual(log.infos, [
      "kubernetes storage: moved 3 objects from dex.coreos.com's Idport kinds to idport.dev",
    ]);
    // Still logged in, still counted, still revoked.
    assert.deepEqual(await after.sessions.get('session-1'), fx.session(1));
    assert.deepEqual(await after.passwordFailures.get('failures-2'), fx.passwordFailures(2));
    assert.deepEqual(await after.revokedTokens.get('jti-3'), fx.revokedToken(3));
    const keys = [...server.objects.keys()].filter((k) => k.includes('/rbac-granted/'));
    assert.deepEqual(keys.sort(), [
      'idport.dev/passwordfailures/rbac-granted/failures-2',
      'idport.dev/revokedtokens/rbac-granted/jti-3',
      'idport.dev/sessions/rbac-granted/session-1',
    ]);
    assert.equal(server.objects.get('idport.dev/sessions/rbac-granted/session-1')?.['kind'], 'Session');
  });

  it("starts without what idport.dev holds once the role loses idport's group (documented)", async () => {
    const granted = await open('rbac-lost', 'idport-token');
    await granted.sessions.create(fx.session(1));
    const log = captureLog();
    const lost = await open('rbac-lost', 'dex-chart-token', log);
    assert.equal(log.warnings.length, 1);
    assert.equal(await lost.sessions.get('session-1'), undefined);
    assert.ok(server.objects.has('idport.dev/sessions/rbac-lost/session-1'), 'left in place, not deleted');
  });
});

describe('kubernetes storage: compare-and-swap', () => {
  it('re-reads and re-applies an update that lost to another replica (409 Conflict)', async () => {
    const namespace = 'cas';
    const a = await open(namespace);
    await a.refreshTokens.create(fx.refreshToken(1));
    let calls = 0;
    const result = await a.refreshTokens.update('refresh-token-1', (old) => {
      calls++;
      // On the first try another replica writes between our read and our write: the stored object moves on.
      if (calls === 1) {
        const stored = [...server.objects.entries()].find(([k]) => k.startsWith('dex.coreos.com/refreshtokens/cas/'));
        assert.ok(stored);
        const [key, obj] = stored;
        server.objects.set(key, { ...obj, nonce: 'from-b', metadata: { ...obj.metadata, resourceVersion: 'moved' } });
      }
      return fx.useOnce(old);
    });
    assert.equal(calls, 2);
    assert.equal(result.nonce, 'from-b');
    assert.equal(fx.usesOf(result), 1);
    assert.ok(server.requests.some((r) => r.startsWith('PUT /apis/dex.coreos.com/v1/namespaces/cas/refreshtokens/')));
  });

  it('applies parallel updates from two replicas without losing any', async () => {
    const [a, b] = [await open('two-replicas'), await open('two-replicas')];
    await a.refreshTokens.create(fx.refreshToken(1));
    const bump = (s: Storage) => s.refreshTokens.update('refresh-token-1', fx.useOnce);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 === 0 ? a : b)));
    assert.deepEqual(
      results.map((r) => fx.usesOf(r) ?? 0).sort((x, y) => x - y),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('lets exactly one of two replicas create the first key set; the other builds on it', async () => {
    const [a, b] = [await open('keys-race'), await open('keys-race')];
    const results = await Promise.all([
      a.updateKeys((old) => fx.keys('a', old === undefined ? [] : [String(old.signingKey.kid)])),
      b.updateKeys((old) => fx.keys('b', old === undefined ? [] : [String(old.signingKey.kid)])),
    ]);
    const final = await a.getKeys();
    assert.equal(final?.verificationKeys.length, 1);
    assert.deepEqual(results.map((k) => k.verificationKeys.length).sort(), [0, 1]);
  });
});

describe('kubernetes storage: garbage collection', () => {
  it('reads the collections page by page (limit and continue) and removes every expired object', async () => {
    const storage = await open('gc-paging');
    for (let i = 1; i <= 1203; i++) await storage.authCodes.create(fx.authCode(i, fx.at(i <= 1100 ? -1 : 1)));
    server.requests.length = 0;
    const result = await storage.garbageCollect(fx.at(0));
    assert.equal(result.authCodes, 1100);
    assert.equal((await storage.authCodes.list()).length, 103);
    const pages = server.requests.filter((r) =>
      r.startsWith('GET /apis/dex.coreos.com/v1/namespaces/gc-paging/authcodes?'),
    );
    assert.ok(
      pages.some((r) => r.includes('limit=500&continue=')),
      pages.join('\n'),
    );
  });
});

describe('kubernetes storage: object names', () => {
  it('names clients, passwords and offline sessions exactly as Dex does', async () => {
    const storage = await open('names');
    await storage.clients.create(fx.client(1));
    await storage.passwords.create(fx.password(1, 'Admin@Example.com'));
    await storage.offlineSessions.create(fx.offlineSession(1));
    const names = [...server.objects.keys()].filter((k) => k.includes('/names/'));
    assert.ok(names.includes(`dex.coreos.com/oauth2clients/names/${idToName(fx.client(1).id)}`));
    assert.ok(names.includes(`dex.coreos.com/passwords/names/${idToName('admin@example.com')}`));
    assert.ok(names.includes(`dex.coreos.com/offlinesessionses/names/${offlineTokenName('user-1', 'github')}`));
  });

  it("matches Dex's idToName for a known id (base32 of the id followed by fnv64 of nothing)", () => {
    // "foo" ‖ cbf29ce484222325, base32 with Dex's lower-case alphabet, unpadded.
    assert.equal(idToName('foo'), 'mzxw7s7sttsiiirdeu');
    assert.equal(offlineTokenName('a', 'b'), offlineTokenName('ab', ''));
  });
});

describe("kubernetes storage: Dex's objects", () => {
  it("reads a connector Dex's API stored: named by its id, the config as base64 of its JSON bytes", async () => {
    const storage = await open('dex-connectors');
    const config = { issuer: 'https://accounts.example.com', clientID: 'dex', clientSecret: 's', scopes: ['groups'] };
    server.plant('dex.coreos.com', 'connectors', 'dex-connectors', {
      apiVersion: 'dex.coreos.com/v1',
      kind: 'Connector',
      metadata: { name: 'corp-sso', namespace: 'dex-connectors' },
      id: 'corp-sso',
      type: 'oidc',
      name: 'Corp SSO',
      config: Buffer.from(JSON.stringify(config)).toString('base64'),
    });
    const read = await storage.connectors.get('corp-sso');
    assert.deepEqual(
      { id: read?.id, type: read?.type, name: read?.name, config: read?.config },
      {
        id: 'corp-sso',
        type: 'oidc',
        name: 'Corp SSO',
        config,
      },
    );
    assert.deepEqual(
      (await storage.connectors.list()).map((c) => c.id),
      ['corp-sso'],
    );
    assert.equal(await storage.connectors.get('other'), undefined);
  });
});

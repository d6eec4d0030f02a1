/**
 * How the Kubernetes backend finds and trusts its API server: in-cluster discovery in Dex's order
 * (client.go: KUBERNETES_POD_NAMESPACE, the token's namespace claim, the namespace file), TLS against the
 * cluster CA only, and — with Debian's kubectl — the objects idport writes reading back in Dex's shapes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { promisify } from 'node:util';
import { KubernetesConfigError, openKubernetes } from '../../storage/kubernetes/kubernetes.js';
import { StorageUnavailableError, type Storage } from '../../storage/storage.js';
import { dexChartRules, idportChartRules, startKubeApiServer, type KubeApiServer } from '../support/kube-apiserver.js';
import * as fx from './fixtures.js';

const run = promisify(execFile);
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A legacy service-account token: a JWT whose payload names the namespace. */
const LEGACY_TOKEN = `${b64url({ alg: 'RS256' })}.${b64url({ 'kubernetes.io/serviceaccount/namespace': 'from-token' })}.c2ln`;
const PROJECTED_TOKEN = `${b64url({ alg: 'RS256' })}.${b64url({ aud: ['https://kubernetes.default.svc'] })}.c2ln`;

describe('kubernetes storage: connection', () => {
  let server: KubeApiServer;
  let dir: string;
  const opened: Storage[] = [];
  /** Bearer tokens the stand-in accepts; a test rotates one by adding the new and deleting the old. */
  const users: Record<string, typeof idportChartRules> = {
    [LEGACY_TOKEN]: idportChartRules,
    [PROJECTED_TOKEN]: idportChartRules,
    kubectl: idportChartRules,
    'kubectl-dex-rbac': dexChartRules,
  };
  before(async () => {
    server = await startKubeApiServer({ users });
    dir = mkdtempSync(join(tmpdir(), 'idport-sa-'));
  });
  after(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A mounted service account in a directory of its own. */
  const serviceAccount = (token: string, namespaceFile?: string): string => {
    const sa = mkdtempSync(join(dir, 'sa-'));
    writeFileSync(join(sa, 'token'), token);
    copyFileSync(server.caFile, join(sa, 'ca.crt'));
    if (namespaceFile !== undefined) writeFileSync(join(sa, 'namespace'), namespaceFile);
    return sa;
  };
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    KUBERNETES_SERVICE_PORT: new URL(server.url).port,
    ...extra,
  });
  /** Opens in-cluster, writes one client, and returns the namespace the write went to. */
  const namespaceUsed = async (options: Parameters<typeof openKubernetes>[0]): Promise<string> => {
    const storage = await openKubernetes({ inCluster: true, ...options });
    opened.push(storage);
    await storage.clients.create(fx.client(opened.length));
    const post = server.requests.filter((r) => r.startsWith('POST /apis/dex.coreos.com/v1/namespaces/')).at(-1);
    return post?.split('/')[5] ?? '';
  };

  it('in cluster, takes the namespace from KUBERNETES_POD_NAMESPACE first', async () => {
    const sa = serviceAccount(LEGACY_TOKEN, 'from-file');
    assert.equal(
      await namespaceUsed({ env: env({ KUBERNETES_POD_NAMESPACE: 'from-env' }), serviceAccountDir: sa }),
      'from-env',
    );
  });

  it("in cluster, then from the legacy token's namespace claim", async () => {
    assert.equal(
      await namespaceUsed({ env: env(), serviceAccountDir: serviceAccount(LEGACY_TOKEN, 'from-file') }),
      'from-token',
    );
  });

  it('in cluster, then from the namespace file (projected tokens have no claim)', async () => {
    assert.equal(
      await namespaceUsed({ env: env(), serviceAccountDir: serviceAccount(PROJECTED_TOKEN, 'from-file\n') }),
      'from-file',
    );
  });

  it('in cluster, refuses to start without a namespace, or without KUBERNETES_SERVICE_HOST', async () => {
    await assert.rejects(
      openKubernetes({ inCluster: true, env: env(), serviceAccountDir: serviceAccount(PROJECTED_TOKEN) }),
      (err: unknown) => err instanceof KubernetesConfigError && /no namespace/.test(err.message),
    );
    await assert.rejects(
      openKubernetes({ inCluster: true, env: {}, serviceAccountDir: serviceAccount(PROJECTED_TOKEN, 'x') }),
      (err: unknown) => err instanceof KubernetesConfigError && /KUBERNETES_SERVICE_HOST/.test(err.message),
    );
  });

  it("with a kubeconfig whose context names no namespace, uses Dex's default namespace", async () => {
    const named = server.kubeconfig('kubectl', 'unused');
    const file = join(dir, 'no-namespace.yaml');
    writeFileSync(file, readFileSync(named, 'utf8').replace(/\n\s*namespace: unused/, ''));
    assert.doesNotMatch(readFileSync(file, 'utf8'), /namespace/);
    const storage = await openKubernetes({ kubeConfigFile: file });
    opened.push(storage);
    await storage.clients.create(fx.client(201));
    const post = server.requests.filter((r) => r.startsWith('POST /apis/dex.coreos.com/v1/namespaces/')).at(-1);
    assert.equal(post?.split('/')[5], 'default');
  });

  it('re-reads the projected token file once a minute, so a rotated token replaces a revoked one', async () => {
    users['rotating-1'] = idportChartRules;
    const sa = serviceAccount('rotating-1', 'rotation');
    const storage = await openKubernetes({ inCluster: true, env: env(), serviceAccountDir: sa });
    opened.push(storage);
    await storage.clients.create(fx.client(101));
    // The kubelet writes a new token; the API server stops accepting the old one.
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      writeFileSync(join(sa, 'token'), 'rotating-2');
      users['rotating-2'] = idportChartRules;
      delete users['rotating-1'];
      mock.timers.tick(30_000);
      // Within the minute the token read before is still sent, and refused.
      await assert.rejects(storage.clients.create(fx.client(102)), /401|Unauthorized/);
      mock.timers.tick(31_000);
      await storage.clients.create(fx.client(103));
      assert.equal((await storage.clients.get(fx.client(103).id))?.id, fx.client(103).id);
    } finally {
      mock.timers.reset();
    }
  });

  it('refuses an API server whose certificate the configured CA did not sign', async () => {
    const other = await startKubeApiServer({ users: {} });
    try {
      const sa = serviceAccount(PROJECTED_TOKEN, 'ns');
      copyFileSync(other.caFile, join(sa, 'ca.crt'));
      const before = server.requests.length;
      await assert.rejects(
        openKubernetes({ inCluster: true, env: env(), serviceAccountDir: sa }),
        (err: unknown) =>
          err instanceof StorageUnavailableError &&
          /certificate/i.test(String((err.cause as Error | undefined)?.message ?? '')),
      );
      // The TLS handshake failed, so not one request reached the API server.
      assert.equal(server.requests.length, before);
    } finally {
      await other.close();
    }
  });

  it("writes objects that Debian's kubectl reads back in Dex's shapes", async () => {
    const kubeconfig = server.kubeconfig('kubectl', 'kubectl-ns');
    const storage = await openKubernetes({ kubeConfigFile: kubeconfig });
    opened.push(storage);
    await storage.clients.create(fx.client(1));
    await storage.passwords.create(fx.password(1));
    await storage.refreshTokens.create(fx.refreshToken(1));
    await storage.offlineSessions.create(fx.offlineSession(1));
    await storage.updateKeys(() => fx.keys('current', ['retired']));
    const kubectl = async (...args: string[]): Promise<Record<string, unknown>[]> => {
      const { stdout } = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', ...args, '-o', 'json'], {
        env: { PATH: process.env['PATH'] ?? '', HOME: dir },
      });
      return (JSON.parse(stdout) as { items: Record<string, unknown>[] }).items;
    };
    const common = ['apiVersion', 'kind', 'metadata', 'idport'];
    /** Every top-level field is one Dex's type has (or the extension), and the named ones hold these values. */
    const assertDexShape = (item: Record<string, unknown> | undefined, dexFields: string[], values: object): void => {
      assert.ok(item);
      for (const key of Object.keys(item))
        assert.ok([...common, ...dexFields].includes(key), `unexpected field ${key}`);
      for (const [key, value] of Object.entries(values)) assert.deepEqual(item[key], value, key);
    };
    const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

    const [client] = await kubectl('oauth2clients.dex.coreos.com');
    const c = fx.client(1);
    assertDexShape(client, ['id', 'secret', 'redirectURIs', 'trustedPeers', 'public', 'name', 'logoURL'], {
      kind: 'OAuth2Client',
      id: c.id,
      secret: c.secret,
      redirectURIs: c.redirectURIs,
      public: c.public,
    });
    const [password] = await kubectl('passwords.dex.coreos.com');
    const p = fx.password(1);
    assertDexShape(
      password,
      ['email', 'hash', 'username', 'name', 'preferredUsername', 'emailVerified', 'userID', 'groups'],
      { email: p.email.toLowerCase(), userID: p.userId, username: p.username },
    );
    assert.equal(Buffer.from(String(password?.['hash']), 'base64').toString(), p.hash);
    const [refresh] = await kubectl('refreshtokens.dex.coreos.com');
    const r = fx.refreshToken(1);
    assertDexShape(
      refresh,
      ['CreatedAt', 'LastUsed', 'clientID', 'scopes', 'nonce', 'claims', 'connectorID', 'connectorData'],
      {
        clientID: r.clientId,
        connectorID: r.connectorId,
        CreatedAt: r.createdAt.toISOString(),
      },
    );
    assert.equal((refresh?.['claims'] as Record<string, unknown>)['userID'], r.claims.userId);
    const [offline] = await kubectl('offlinesessionses.dex.coreos.com');
    assertDexShape(offline, ['userID', 'connID', 'refresh', 'connectorData'], { userID: 'user-1', connID: 'github' });
    const ref = Object.values(offline?.['refresh'] as Record<string, Record<string, unknown>>)[0];
    assert.deepEqual(Object.keys(ref ?? {}).sort(), ['ClientID', 'CreatedAt', 'ID', 'LastUsed']);
    // Dex keeps one key set, under a fixed name.
    const [keys] = await kubectl('signingkeies.dex.coreos.com');
    assert.equal((keys?.['metadata'] as Record<string, unknown>)['name'], 'openid-connect-keys');
    assertDexShape(keys, ['signingKey', 'signingKeyPub', 'verificationKeys', 'nextRotation'], {
      signingKeyPub: fx.keys('current').signingKeyPub,
    });
    assert.match(String(keys?.['nextRotation']), rfc3339);
  });

  it("with only Dex's chart RBAC, writes idport's kinds that kubectl reads under dex.coreos.com", async () => {
    const kubeconfig = server.kubeconfig('kubectl-dex-rbac', 'dex-rbac-ns');
    const storage = await openKubernetes(
      { kubeConfigFile: kubeconfig },
      { warn: () => undefined, info: () => undefined },
    );
    opened.push(storage);
    await storage.sessions.create(fx.session(1));
    await storage.passwordFailures.create(fx.passwordFailures(2));
    await storage.revokedTokens.create(fx.revokedToken(3));
    const kubectl = async (...args: string[]): Promise<string> =>
      (
        await run('kubectl', ['--kubeconfig', kubeconfig, ...args], {
          env: { PATH: process.env['PATH'] ?? '', HOME: dir },
        })
      ).stdout;
    // Discovery lists the kinds in Dex's group, so kubectl resolves their short plurals too.
    const resources = await kubectl('api-resources', '--api-group', 'dex.coreos.com', '-o', 'name');
    for (const name of ['idportsessions', 'idportpasswordfailures', 'idportrevokedtokens'])
      assert.ok(resources.split('\n').includes(`${name}.dex.coreos.com`), resources);
    const items = async (resource: string): Promise<Record<string, unknown>[]> =>
      (JSON.parse(await kubectl('get', resource, '-o', 'json')) as { items: Record<string, unknown>[] }).items;
    const [session] = await items('idportsessions');
    assert.equal(session?.['apiVersion'], 'dex.coreos.com/v1');
    assert.equal(session?.['kind'], 'IdportSession');
    assert.equal((session?.['metadata'] as Record<string, unknown>)['name'], 'session-1');
    assert.equal((session?.['idport'] as Record<string, unknown>)['connectorId'], 'ldap');
    const [failures] = await items('idportpasswordfailures.dex.coreos.com');
    assert.equal(failures?.['kind'], 'IdportPasswordFailures');
    assert.equal((failures?.['idport'] as Record<string, unknown>)['failures'], 2);
    const names = await kubectl('get', 'idportrevokedtokens.dex.coreos.com', '-o', 'name');
    assert.equal(names.trim(), 'idportrevokedtoken.dex.coreos.com/jti-3');
  });
});

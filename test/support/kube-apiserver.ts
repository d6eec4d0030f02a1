/**
 * A Kubernetes API server stand-in for the Kubernetes storage tests: HTTPS with a certificate from a CA made
 * here by openssl, bearer-token authentication, RBAC rules per user (403 for anything they do not grant),
 * discovery, CustomResourceDefinitions, and namespaced custom resources with resourceVersion
 * compare-and-swap (409 Conflict on a stale update), paging with limit/continue, delete preconditions, and
 * errors as metav1.Status objects — the shapes a real API server speaks, enough for kubectl too.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleResources, type RequestContext } from './kube-resources.js';

/** An RBAC PolicyRule: what a user may do. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/** Dex's Helm chart: `*` on dex.coreos.com in its namespace, list/create on CRDs (charts/dex/templates/rbac.yaml). */
export const dexChartRules: readonly PolicyRule[] = [
  { apiGroups: ['dex.coreos.com'], resources: ['*'], verbs: ['*'] },
  { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['list', 'create'] },
];

/** idport's chart: Dex's rules plus its own group. */
export const idportChartRules: readonly PolicyRule[] = [
  ...dexChartRules,
  { apiGroups: ['idport.dev'], resources: ['*'], verbs: ['*'] },
];

export interface KubeApiServerOptions {
  /** Bearer token → that user's rules. */
  readonly users: Readonly<Record<string, readonly PolicyRule[]>>;
  /**
   * An admission policy on CRD creation (a Gatekeeper or Kyverno rule, say): the reason a CRD of this name is
   * refused with 403, or undefined to admit it.
   */
  readonly admitDefinition?: (name: string) => string | undefined;
}

/** One stored object (a CRD or a custom resource). */
export type StoredObject = Record<string, unknown> & { metadata: Record<string, unknown> };

export interface KubeApiServer {
  readonly url: string;
  /** PEM of the CA that signed the server certificate. */
  readonly caPem: string;
  readonly caFile: string;
  /** Every request as `METHOD path?query`, in order. */
  readonly requests: string[];
  /** Objects by `group/plural/namespace/name`; tests read and plant objects here directly. */
  readonly objects: Map<string, StoredObject>;
  /** Definitions by `plural.group`. */
  readonly crds: Map<string, StoredObject>;
  /** Stores an object as a client's create would (Dex's objects planted by a test). */
  plant(group: string, plural: string, namespace: string, object: Record<string, unknown>): StoredObject;
  /** Writes a kubeconfig for `token` with the given namespace and returns its path. */
  kubeconfig(token: string, namespace: string): string;
  close(): Promise<void>;
}

function makeServerCertificate(dir: string): void {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=kube test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '1',
    '-extfile',
    'server.ext',
  );
}

/** A metav1.Status failure body. */
export const status = (code: number, reason: string, message: string): Record<string, unknown> => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

export const send = (res: ServerResponse, code: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};

const readBody = async (req: IncomingMessage): Promise<unknown> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : (JSON.parse(text) as unknown);
};

const matches = (list: readonly string[], value: string): boolean => list.includes('*') || list.includes(value);

/** Whether `rules` allow `verb` on `resource` in `group` (RBAC: any rule that matches all three). */
export const allowed = (rules: readonly PolicyRule[], verb: string, group: string, resource: string): boolean =>
  rules.some((r) => matches(r.apiGroups, group) && matches(r.resources, resource) && matches(r.verbs, verb));

/** A kubeconfig with one cluster (server URL and CA), one bearer-token user and a context naming the namespace. */
function writeKubeconfig(
  file: string,
  o: { readonly url: string; readonly caFile: string; readonly token: string; readonly namespace: string },
): string {
  const ca = readFileSync(o.caFile).toString('base64');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: test\n  cluster:\n    server: ${o.url}\n    certificate-authority-data: ${ca}`,
      'users:',
      `- name: test\n  user:\n    token: ${o.token}`,
      'contexts:',
      `- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: ${o.namespace}`,
      'current-context: test',
      '',
    ].join('\n'),
  );
  return file;
}

export async function startKubeApiServer(options: KubeApiServerOptions): Promise<KubeApiServer> {
  const dir = mkdtempSync(join(tmpdir(), 'idport-kube-'));
  makeServerCertificate(dir);
  const requests: string[] = [];
  const objects = new Map<string, StoredObject>();
  const crds = new Map<string, StoredObject>();
  const state = { revision: 1 };
  const nextVersion = (): string => String(++state.revision);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    requests.push(`${req.method ?? ''} ${url.pathname}${url.search}`);
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : '';
    const rules = options.users[token];
    if (rules === undefined) return send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    let body: unknown;
    try {
      body = await readBody(req);
    } catch {
      return send(res, 400, status(400, 'BadRequest', 'the body is not JSON'));
    }
    const context: RequestContext = {
      method: req.method ?? 'GET',
      url,
      body,
      rules,
      objects,
      crds,
      nextVersion,
      user: `system:serviceaccount:${token.slice(0, 8)}`,
      admitDefinition: options.admitDefinition ?? (() => undefined),
    };
    const { code, payload } = handleResources(context);
    send(res, code, payload);
  };

  const server: Server = createServer(
    { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
    (req, res) => {
      handle(req, res).catch((err: unknown) => send(res, 500, status(500, 'InternalError', String(err))));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const caFile = join(dir, 'ca.crt');
  let configs = 0;
  return {
    url,
    caPem: readFileSync(caFile, 'utf8'),
    caFile,
    requests,
    objects,
    crds,
    plant: (group, plural, namespace, object) => {
      const metadata = (object['metadata'] ?? {}) as Record<string, unknown>;
      const stored: StoredObject = {
        ...object,
        metadata: { ...metadata, namespace, resourceVersion: nextVersion(), uid: `uid-${state.revision}` },
      };
      objects.set(`${group}/${plural}/${namespace}/${String(metadata['name'])}`, stored);
      return stored;
    },
    kubeconfig: (token, namespace) =>
      writeKubeconfig(join(dir, `kubeconfig-${++configs}.yaml`), { url, caFile, token, namespace }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The request handling of the Kubernetes API stand-in (kube-apiserver.ts): discovery, CRDs and namespaced
 * custom resources, each checked against the caller's RBAC rules first.
 */
import { allowed, status, type PolicyRule, type StoredObject } from './kube-apiserver.js';

export interface RequestContext {
  readonly method: string;
  readonly url: URL;
  readonly body: unknown;
  readonly rules: readonly PolicyRule[];
  readonly objects: Map<string, StoredObject>;
  readonly crds: Map<string, StoredObject>;
  readonly nextVersion: () => string;
  readonly user: string;
  readonly admitDefinition: (name: string) => string | undefined;
}

interface Answer {
  readonly code: number;
  readonly payload: unknown;
}

const CRD_GROUP = 'apiextensions.k8s.io';
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ok = (payload: unknown, code = 200): Answer => ({ code, payload });
const fail = (code: number, reason: string, message: string): Answer => ({
  code,
  payload: status(code, reason, message),
});
const notFound = (): Answer => fail(404, 'NotFound', 'the server could not find the requested resource');

const crdSpec = (
  crd: StoredObject,
): { group: string; plural: string; singular: string; kind: string; version: string } => {
  const spec = crd['spec'] as {
    group: string;
    names: { plural: string; singular: string; kind: string };
    versions: { name: string }[];
  };
  return { group: spec.group, ...spec.names, version: spec.versions[0]?.name ?? 'v1' };
};

const groupsOf = (crds: Map<string, StoredObject>): Map<string, string> => {
  const groups = new Map<string, string>([[CRD_GROUP, 'v1']]);
  for (const crd of crds.values()) {
    const s = crdSpec(crd);
    groups.set(s.group, s.version);
  }
  return groups;
};

function discovery(c: RequestContext, parts: string[]): Answer | undefined {
  const path = `/${parts.join('/')}`;
  if (path === '/version') return ok({ major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
  if (path === '/api') return ok({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
  if (path === '/api/v1')
    return ok({
      kind: 'APIResourceList',
      groupVersion: 'v1',
      resources: [
        { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'] },
      ],
    });
  if (path === '/apis') {
    const groups = [...groupsOf(c.crds)].map(([name, version]) => {
      const gv = { groupVersion: `${name}/${version}`, version };
      return { name, versions: [gv], preferredVersion: gv };
    });
    return ok({ kind: 'APIGroupList', apiVersion: 'v1', groups });
  }
  if (parts[0] === 'apis' && parts.length === 3 && c.method === 'GET') {
    const [, group = '', version = ''] = parts;
    if (groupsOf(c.crds).get(group) !== version) return notFound();
    const resources =
      group === CRD_GROUP
        ? [
            {
              name: 'customresourcedefinitions',
              singularName: 'customresourcedefinition',
              namespaced: false,
              kind: 'CustomResourceDefinition',
              verbs: ['create', 'get', 'list'],
            },
          ]
        : [...c.crds.values()]
            .map(crdSpec)
            .filter((s) => s.group === group)
            .map((s) => ({
              name: s.plural,
              singularName: s.singular,
              namespaced: true,
              kind: s.kind,
              verbs: ['create', 'delete', 'get', 'list', 'update'],
            }));
    return ok({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}`, resources });
  }
  return undefined;
}

const verbOf = (method: string, named: boolean): string =>
  ({ GET: named ? 'get' : 'list', POST: 'create', PUT: 'update', DELETE: 'delete' })[method] ?? method.toLowerCase();

const forbidden = (c: RequestContext, verb: string, group: string, resource: string, namespace?: string): Answer =>
  fail(
    403,
    'Forbidden',
    `${resource}.${group} is forbidden: User "${c.user}" cannot ${verb} resource "${resource}" in API group "${group}"${
      namespace === undefined ? ' at the cluster scope' : ` in the namespace "${namespace}"`
    }`,
  );

function definitions(c: RequestContext, name: string | undefined): Answer {
  const verb = verbOf(c.method, name !== undefined);
  if (!allowed(c.rules, verb, CRD_GROUP, 'customresourcedefinitions'))
    return forbidden(c, verb, CRD_GROUP, 'customresourcedefinitions');
  if (c.method === 'GET' && name === undefined)
    return ok({
      kind: 'CustomResourceDefinitionList',
      apiVersion: `${CRD_GROUP}/v1`,
      metadata: {},
      items: [...c.crds.values()],
    });
  if (c.method === 'GET') return c.crds.get(name ?? '') === undefined ? notFound() : ok(c.crds.get(name ?? ''));
  if (c.method !== 'POST' || name !== undefined) return fail(405, 'MethodNotAllowed', 'method not allowed');
  const crd = structuredClone(c.body) as StoredObject;
  const spec = crdSpec(crd);
  const crdName = `${spec.plural}.${spec.group}`;
  if (crd.metadata?.['name'] !== crdName)
    return fail(422, 'Invalid', `metadata.name must be spec.names.plural+"."+spec.group`);
  const denied = c.admitDefinition(crdName);
  if (denied !== undefined)
    return fail(403, 'Forbidden', `admission webhook "crd-policy.example.com" denied the request: ${denied}`);
  if (c.crds.has(crdName))
    return fail(409, 'AlreadyExists', `customresourcedefinitions.${CRD_GROUP} "${crdName}" already exists`);
  crd.metadata = { ...crd.metadata, resourceVersion: c.nextVersion(), uid: `uid-crd-${crdName}` };
  crd['status'] = { conditions: [{ type: 'Established', status: 'True' }] };
  c.crds.set(crdName, crd);
  return ok(crd, 201);
}

function list(c: RequestContext, prefix: string, kind: string, apiVersion: string): Answer {
  const all = [...c.objects.entries()]
    .filter(([k]) => k.startsWith(prefix))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, v]) => v);
  const after = c.url.searchParams.get('continue');
  const start =
    after === null ? 0 : all.findIndex((o) => String(o.metadata['name']) > Buffer.from(after, 'base64url').toString());
  const rest = start < 0 ? [] : all.slice(start);
  const limit = Number(c.url.searchParams.get('limit') ?? '0');
  const items = limit > 0 ? rest.slice(0, limit) : rest;
  const more = items.length < rest.length;
  const last = items.at(-1)?.metadata['name'];
  const metadata = {
    resourceVersion: c.nextVersion(),
    ...(more
      ? { continue: Buffer.from(String(last)).toString('base64url'), remainingItemCount: rest.length - items.length }
      : {}),
  };
  return ok({ apiVersion, kind: `${kind}List`, metadata, items });
}

function customResources(c: RequestContext, parts: string[]): Answer {
  const [, group = '', version = '', , namespace = '', plural = '', name] = parts;
  const verb = verbOf(c.method, name !== undefined);
  if (!allowed(c.rules, verb, group, plural)) return forbidden(c, verb, group, plural, namespace);
  const crd = c.crds.get(`${plural}.${group}`);
  if (crd === undefined || crdSpec(crd).version !== version) return notFound();
  const { kind } = crdSpec(crd);
  const prefix = `${group}/${plural}/${namespace}/`;
  const what = `${plural}.${group} "${name ?? ''}"`;
  const existing = name === undefined ? undefined : c.objects.get(prefix + name);
  if (c.method === 'GET' && name === undefined) return list(c, prefix, kind, `${group}/${version}`);
  if (c.method === 'GET') return existing === undefined ? fail(404, 'NotFound', `${what} not found`) : ok(existing);
  const body = structuredClone(c.body) as StoredObject | undefined;
  if (c.method === 'POST' && name === undefined) {
    const newName = String(body?.metadata?.['name'] ?? '');
    if (body === undefined || !NAME.test(newName) || newName.length > 253)
      return fail(422, 'Invalid', `${plural}.${group} "${newName}" is invalid: metadata.name: Invalid value`);
    if (body['kind'] !== kind)
      return fail(400, 'BadRequest', `the kind ${String(body['kind'])} does not match ${kind}`);
    if (c.objects.has(prefix + newName))
      return fail(409, 'AlreadyExists', `${plural}.${group} "${newName}" already exists`);
    body.metadata = {
      ...body.metadata,
      namespace,
      resourceVersion: c.nextVersion(),
      uid: `uid-${newName}`,
      creationTimestamp: new Date().toISOString(),
      generation: 1,
    };
    c.objects.set(prefix + newName, body);
    return ok(body, 201);
  }
  if (existing === undefined || name === undefined) return fail(404, 'NotFound', `${what} not found`);
  const stale = (rv: unknown): boolean => rv !== undefined && rv !== existing.metadata['resourceVersion'];
  const conflict = (): Answer =>
    fail(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${what}: the object has been modified; please apply your changes to the latest version and try again`,
    );
  if (c.method === 'PUT') {
    if (body === undefined || body.metadata?.['name'] !== name)
      return fail(400, 'BadRequest', 'the name in the body does not match the URL');
    if (stale(body.metadata['resourceVersion'])) return conflict();
    body.metadata = {
      ...body.metadata,
      namespace,
      resourceVersion: c.nextVersion(),
      uid: existing.metadata['uid'],
      creationTimestamp: existing.metadata['creationTimestamp'],
    };
    c.objects.set(prefix + name, body);
    return ok(body);
  }
  if (c.method === 'DELETE') {
    const preconditions = (body as { preconditions?: { resourceVersion?: string } } | undefined)?.preconditions;
    if (stale(preconditions?.resourceVersion)) return conflict();
    c.objects.delete(prefix + name);
    return ok({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, group, kind: plural },
    });
  }
  return fail(405, 'MethodNotAllowed', 'method not allowed');
}

/** Routes one authenticated request. */
export function handleResources(c: RequestContext): Answer {
  const parts = c.url.pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  const found = discovery(c, parts);
  if (found !== undefined) return found;
  if (
    parts[0] === 'apis' &&
    parts[1] === CRD_GROUP &&
    parts[2] === 'v1' &&
    parts[3] === 'customresourcedefinitions' &&
    parts.length <= 5
  )
    return definitions(c, parts[4]);
  if (parts[0] === 'apis' && parts[3] === 'namespaces' && (parts.length === 6 || parts.length === 7))
    return customResources(c, parts);
  return notFound();
}

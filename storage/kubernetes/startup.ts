/**
 * What the Kubernetes backend does before serving (Dex's storage.go registerCustomResources): list each resource
 * with limit=1, create the CRDs that are missing (or, with `crdHandling: check`, refuse to start), and decide
 * where idport's own kinds live. They live in idport's group `idport.dev` when the service account may use it;
 * when the API server refuses that group (403, as with the RBAC of Dex's chart, which covers `dex.coreos.com`
 * only), they live as the `Idport`-prefixed kinds inside Dex's group, and one warning says so.
 */
import { AlreadyExistsError, StorageUnavailableError } from '../storage.js';
import { ResourceApi, pause, unexpected } from './api.js';
import type { KubeClient, KubeResponse } from './client.js';
import {
  DEX_GROUP,
  IDPORT_GROUP,
  crdName,
  customResourceDefinition,
  dexResources,
  fallbackKinds,
  kindList,
  ownKinds,
  type OwnKinds,
  type Resource,
} from './crds.js';

/** Where the backend reports what an operator should know; a pino logger fits. */
export interface StorageLog {
  warn(message: string): void;
  info(message: string): void;
}

type Probe = { readonly state: 'served' | 'missing' } | { readonly state: 'forbidden'; readonly res: KubeResponse };

const listPath = (client: KubeClient, r: Resource): string =>
  `/apis/${r.group}/${r.version}/namespaces/${encodeURIComponent(client.namespace)}/${r.plural}?limit=1`;

/** Lists one object, as Dex does (its RBAC allows exactly that): 404 is a missing CRD, 403 a refused group. */
async function probe(client: KubeClient, r: Resource): Promise<Probe> {
  const res = await client.request('GET', listPath(client, r));
  if (res.status === 200) return { state: 'served' };
  if (res.status === 404) return { state: 'missing' };
  if (res.status === 403) return { state: 'forbidden', res };
  throw unexpected(crdName(r), 'list', res);
}

const refusal = (r: Resource, verb: string, res: KubeResponse): StorageUnavailableError =>
  new StorageUnavailableError(
    `${unexpected(crdName(r), verb, res).message} (the role needs every verb on group ${r.group}, as Dex's chart grants)`,
  );

/** How long a freshly created CRD may take to be served; the API server establishes it within seconds. */
const ESTABLISH_WAIT_MS = 30_000;

/** Creates one CRD and waits until it is served; the 403 of a refused create is returned, not thrown. */
async function createDefinition(client: KubeClient, r: Resource): Promise<KubeResponse | undefined> {
  const res = await client.request(
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    customResourceDefinition(r),
  );
  if (res.status === 403) return res;
  // 409: another replica (or Dex) created it meanwhile.
  if (res.status !== 201 && res.status !== 200 && res.status !== 409)
    throw unexpected(`custom resource definition ${crdName(r)}`, 'create', res);
  for (let waited = 0; ; waited += 100) {
    const found = await probe(client, r);
    if (found.state === 'served') return undefined;
    if (found.state === 'forbidden') throw refusal(r, 'list', found.res);
    if (waited >= ESTABLISH_WAIT_MS)
      throw new StorageUnavailableError(`kubernetes: ${crdName(r)} was created but is not served`);
    await pause(100);
  }
}

/** Creates Dex's missing CRDs; a refusal stops the start with the API server's message. */
async function createAll(client: KubeClient, missing: readonly Resource[]): Promise<void> {
  for (const r of missing) {
    const refused = await createDefinition(client, r);
    if (refused !== undefined) throw unexpected(`custom resource definition ${crdName(r)}`, 'create', refused);
  }
}

/** The chosen home of idport's kinds, the CRDs it still lacks, and why idport's group was refused. */
interface Placement {
  readonly kinds: OwnKinds;
  readonly missing: readonly Resource[];
  readonly refused?: string;
}

/** Probes idport's kinds in Dex's group: the fallback must be usable, or the start stops naming the 403. */
async function fallbackPlacement(client: KubeClient, refused: string): Promise<Placement> {
  const missing: Resource[] = [];
  for (const r of kindList(fallbackKinds)) {
    const found = await probe(client, r);
    if (found.state === 'forbidden') throw refusal(r, 'list', found.res);
    if (found.state === 'missing') missing.push(r);
  }
  return { kinds: fallbackKinds, missing, refused };
}

/** idport's group when the API server lets the service account list it, else the fallback in Dex's group. */
async function placeOwnKinds(client: KubeClient): Promise<Placement> {
  const missing: Resource[] = [];
  for (const r of kindList(ownKinds)) {
    const found = await probe(client, r);
    if (found.state === 'forbidden')
      return fallbackPlacement(client, unexpected(crdName(r), 'list', found.res).message);
    if (found.state === 'missing') missing.push(r);
  }
  return { kinds: ownKinds, missing };
}

/** Creates the missing CRDs of idport's kinds; a 403 on one in idport's group moves them all to the fallback. */
async function createOwn(client: KubeClient, placement: Placement): Promise<Placement> {
  for (const r of placement.missing) {
    const refused = await createDefinition(client, r);
    if (refused === undefined) continue;
    if (placement.kinds === fallbackKinds)
      throw unexpected(`custom resource definition ${crdName(r)}`, 'create', refused);
    const moved = await fallbackPlacement(
      client,
      unexpected(`custom resource definition ${crdName(r)}`, 'create', refused).message,
    );
    return createOwn(client, moved);
  }
  return { ...placement, missing: [] };
}

const fallbackWarning = (refused: string): string =>
  `kubernetes storage: the API server refuses group ${IDPORT_GROUP} (${refused}); browser sessions, ` +
  `password-failure counts and revoked tokens are kept as ${kindList(fallbackKinds).map(crdName).join(', ')} ` +
  `in ${DEX_GROUP} instead, which the role of Dex's chart covers. Grant every verb on ${IDPORT_GROUP} ` +
  `(as charts/idport does) to keep them in idport's own group; see README "Kubernetes storage".`;

/**
 * After a start on the fallback, objects left in Dex's group (the service account has since been granted
 * idport's group) move to idport's kinds, so revoked tokens stay revoked and sessions stay logged in. Idempotent:
 * replicas doing it at once skip what another created or deleted.
 */
async function adoptFallbackObjects(client: KubeClient, log: StorageLog): Promise<void> {
  let moved = 0;
  for (const key of ['sessions', 'passwordFailures', 'revokedTokens'] as const) {
    const from = fallbackKinds[key];
    if ((await probe(client, from)).state !== 'served') continue;
    const source = new ResourceApi(client, from, crdName(from));
    const target = new ResourceApi(client, ownKinds[key], crdName(ownKinds[key]));
    for await (const obj of source.listAll()) {
      const { apiVersion: _v, kind: _k, metadata, ...body } = obj;
      const name = metadata?.name ?? '';
      try {
        await target.create(name, body);
      } catch (err: unknown) {
        if (!(err instanceof AlreadyExistsError)) throw err;
      }
      if (await source.remove(name, metadata?.resourceVersion)) moved++;
    }
  }
  if (moved > 0)
    log.info(`kubernetes storage: moved ${moved} objects from ${DEX_GROUP}'s Idport kinds to ${IDPORT_GROUP}`);
}

export interface StartOptions {
  readonly crdHandling: 'ensure' | 'check';
  readonly log: StorageLog;
}

/** Makes sure every resource is served and returns where idport's own kinds live. */
export async function ensureResources(client: KubeClient, options: StartOptions): Promise<OwnKinds> {
  const missing: Resource[] = [];
  for (const r of dexResources) {
    const found = await probe(client, r);
    if (found.state === 'forbidden') throw refusal(r, 'list', found.res);
    if (found.state === 'missing') missing.push(r);
  }
  let placement = await placeOwnKinds(client);
  if (options.crdHandling === 'check') {
    const absent = [...missing, ...placement.missing];
    if (absent.length > 0)
      throw new StorageUnavailableError(
        `kubernetes: storage is not initialized, CRDs are not created (crdHandling: check): missing ${absent.map(crdName).join(', ')}`,
      );
  } else {
    await createAll(client, missing);
    placement = await createOwn(client, placement);
  }
  if (placement.refused !== undefined) options.log.warn(fallbackWarning(placement.refused));
  else await adoptFallbackObjects(client, options.log);
  return placement.kinds;
}

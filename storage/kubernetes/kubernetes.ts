/**
 * Kubernetes storage (Dex's `storage.type: kubernetes`): every entity is a custom resource in one namespace,
 * in Dex's CRDs and Dex's object shapes (see crds.ts, objects.ts), so a Dex installation's clients, passwords,
 * connectors, keys and refresh tokens carry over. `update` is a compare-and-swap on resourceVersion: a 409
 * from the API server means another writer won, and the update is re-read and re-applied.
 */
import {
  AlreadyExistsError,
  NotFoundError,
  StorageUnavailableError,
  type AuthCode,
  type AuthRequest,
  type Client,
  type ConnectorRecord,
  type DeviceRequest,
  type DeviceToken,
  type OfflineSession,
  type OfflineSessionKey,
  type Password,
  type PasswordFailures,
  type RevokedToken,
  type RefreshToken,
  type Session,
  type GcResult,
  type Keys,
  type Storage,
  type Table,
} from '../storage.js';
import { ConflictError, KeyedQueue, ResourceApi, pause, retryOnConflict, unexpected } from './api.js';
import { KubernetesConfigError, loadConnection, type KubeClient, type KubernetesOptions } from './client.js';
import { allResources, customResourceDefinition, type Resource } from './crds.js';
import type { KubeObject } from './fields.js';
import { KEYS_NAME, connectorSpec, keysFromObject, keysResource, keysToBody } from './keys-connectors.js';
import {
  authCodeSpec,
  authRequestSpec,
  clientSpec,
  deviceRequestSpec,
  deviceTokenSpec,
  offlineSessionSpec,
  passwordFailuresSpec,
  passwordSpec,
  refreshTokenSpec,
  revokedTokenSpec,
  sessionSpec,
  type ObjectSpec,
} from './objects.js';

export { KubernetesConfigError, type KubernetesOptions } from './client.js';

class KubernetesTable<K, T> implements Table<K, T> {
  private readonly api: ResourceApi;

  constructor(
    client: KubeClient,
    private readonly spec: ObjectSpec<K, T>,
    private readonly queue: KeyedQueue,
  ) {
    this.api = new ResourceApi(client, spec.resource, spec.what);
  }

  private decode(obj: KubeObject): T {
    try {
      return this.spec.fromObject(obj);
    } catch (err: unknown) {
      throw new StorageUnavailableError(`kubernetes: ${this.spec.what} ${obj.metadata?.name ?? ''} is malformed`, {
        cause: err,
      });
    }
  }

  /** The object named for `key` and its value, if it holds that key (a hashed name may belong to another). */
  private async read(key: K): Promise<{ obj: KubeObject; value: T } | undefined> {
    const obj = await this.api.get(this.spec.nameOf(key));
    if (obj === undefined) return undefined;
    const value = this.decode(obj);
    const { keyString, keyOf } = this.spec;
    return keyString(keyOf(value)) === keyString(key) ? { obj, value } : undefined;
  }

  async create(value: T): Promise<void> {
    await this.api.create(this.spec.nameOf(this.spec.keyOf(value)), this.spec.toBody(value));
  }

  async get(key: K): Promise<T | undefined> {
    return (await this.read(key))?.value;
  }

  async list(): Promise<T[]> {
    const values: T[] = [];
    for await (const obj of this.api.listAll()) values.push(this.decode(obj));
    return values;
  }

  async update(key: K, update: (old: T) => T): Promise<T> {
    const { what, keyString, keyOf, toBody } = this.spec;
    // Updates from this process queue per object; only other replicas can make a write conflict.
    return this.queue.run(`${this.spec.resource.plural}/${this.spec.nameOf(key)}`, () =>
      retryOnConflict(what, async () => {
        const found = await this.read(key);
        if (found === undefined) throw new NotFoundError(what);
        const next = update(found.value);
        if (keyString(keyOf(next)) !== keyString(key)) throw new Error(`update must not change the ${what} key`);
        const stored = await this.api.replace(found.obj, toBody(next));
        if (stored === undefined) throw new NotFoundError(what);
        return this.decode(stored);
      }),
    );
  }

  async delete(key: K): Promise<boolean> {
    const found = await this.read(key);
    return found !== undefined && (await this.api.remove(this.spec.nameOf(key)));
  }

  /**
   * Deletes objects whose expiry is before `now`, reading the collection page by page. Each delete carries the
   * resourceVersion that was read, so an object updated meanwhile (its expiry moved) is left for the next pass.
   */
  async collect(now: Date): Promise<number> {
    const expiryOf = this.spec.expiryOf;
    if (expiryOf === undefined) return 0;
    let removed = 0;
    for await (const obj of this.api.listAll()) {
      let expiry: Date | undefined;
      try {
        expiry = expiryOf(this.spec.fromObject(obj));
      } catch {
        continue; // a malformed object is no reason to stop collecting the others
      }
      if (expiry === undefined || expiry.getTime() >= now.getTime()) continue;
      if (await this.api.remove(obj.metadata?.name ?? '', obj.metadata?.resourceVersion)) removed++;
    }
    return removed;
  }
}

class KubernetesStorage implements Storage {
  private readonly queue = new KeyedQueue();
  private readonly keys: ResourceApi;
  readonly authRequests: KubernetesTable<string, AuthRequest>;
  readonly authCodes: KubernetesTable<string, AuthCode>;
  readonly refreshTokens: KubernetesTable<string, RefreshToken>;
  readonly offlineSessions: KubernetesTable<OfflineSessionKey, OfflineSession>;
  readonly clients: KubernetesTable<string, Client>;
  readonly passwords: KubernetesTable<string, Password>;
  readonly connectors: KubernetesTable<string, ConnectorRecord>;
  readonly deviceRequests: KubernetesTable<string, DeviceRequest>;
  readonly deviceTokens: KubernetesTable<string, DeviceToken>;
  readonly sessions: KubernetesTable<string, Session>;
  readonly passwordFailures: KubernetesTable<string, PasswordFailures>;
  readonly revokedTokens: KubernetesTable<string, RevokedToken>;

  constructor(private readonly client: KubeClient) {
    const table = <K, T>(spec: ObjectSpec<K, T>): KubernetesTable<K, T> =>
      new KubernetesTable(client, spec, this.queue);
    this.authRequests = table(authRequestSpec);
    this.authCodes = table(authCodeSpec);
    this.refreshTokens = table(refreshTokenSpec);
    this.offlineSessions = table(offlineSessionSpec);
    this.clients = table(clientSpec);
    this.passwords = table(passwordSpec);
    this.connectors = table(connectorSpec);
    this.deviceRequests = table(deviceRequestSpec);
    this.deviceTokens = table(deviceTokenSpec);
    this.sessions = table(sessionSpec);
    this.passwordFailures = table(passwordFailuresSpec);
    this.revokedTokens = table(revokedTokenSpec);
    this.keys = new ResourceApi(client, keysResource, 'keys');
  }

  async getKeys(): Promise<Keys | undefined> {
    const obj = await this.keys.get(KEYS_NAME);
    return obj === undefined ? undefined : keysFromObject(obj);
  }

  async updateKeys(update: (old: Keys | undefined) => Keys): Promise<Keys> {
    return this.queue.run(`keys/${KEYS_NAME}`, () =>
      retryOnConflict('keys', async () => {
        const obj = await this.keys.get(KEYS_NAME);
        const next = update(obj === undefined ? undefined : keysFromObject(obj));
        let stored: KubeObject | undefined;
        if (obj === undefined) {
          try {
            stored = await this.keys.create(KEYS_NAME, keysToBody(next));
          } catch (err: unknown) {
            // Another replica created the first key set first: start over from theirs.
            if (err instanceof AlreadyExistsError) return retryLater();
            throw err;
          }
        } else {
          stored = await this.keys.replace(obj, keysToBody(next));
          if (stored === undefined) return retryLater();
        }
        const keys = keysFromObject(stored);
        if (keys === undefined) throw new StorageUnavailableError('kubernetes: the stored key set has no signing key');
        return keys;
      }),
    );
  }

  async garbageCollect(now: Date): Promise<GcResult> {
    return {
      authRequests: await this.authRequests.collect(now),
      authCodes: await this.authCodes.collect(now),
      refreshTokens: await this.refreshTokens.collect(now),
      deviceRequests: await this.deviceRequests.collect(now),
      deviceTokens: await this.deviceTokens.collect(now),
      sessions: await this.sessions.collect(now),
      passwordFailures: await this.passwordFailures.collect(now),
      revokedTokens: await this.revokedTokens.collect(now),
    };
  }

  async ping(): Promise<void> {
    await new ResourceApi(this.client, keysResource, 'keys').listPage(1);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

/** A create or replace that lost to another writer: handled like a 409 on update. */
const retryLater = (): never => {
  throw new ConflictError('keys');
};

/**
 * Whether the API serves a resource, by listing one object as Dex does (its RBAC allows exactly that). 404 means
 * the CRD is missing; any other refusal (403 when the role lacks idport's group, 401) stops the start with the
 * API server's own message, rather than being mistaken for a missing CRD as Dex does.
 */
const isServed = async (client: KubeClient, r: Resource): Promise<boolean> => {
  const path = `/apis/${r.group}/${r.version}/namespaces/${encodeURIComponent(client.namespace)}/${r.plural}?limit=1`;
  const res = await client.request('GET', path);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  const grant = res.status === 403 ? ` (the role needs every verb on group ${r.group}, as idport's chart grants)` : '';
  throw new StorageUnavailableError(`${unexpected(`${r.plural}.${r.group}`, 'list', res).message}${grant}`);
};

/** How long a freshly created CRD may take to be served; the API server establishes it within seconds. */
const ESTABLISH_WAIT_MS = 30_000;

async function createDefinition(client: KubeClient, r: Resource): Promise<void> {
  const res = await client.request(
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    customResourceDefinition(r),
  );
  // 409: another replica (or Dex) created it meanwhile.
  if (res.status !== 201 && res.status !== 200 && res.status !== 409)
    throw unexpected(`custom resource definition ${r.plural}.${r.group}`, 'create', res);
  for (let waited = 0; !(await isServed(client, r)); waited += 100) {
    if (waited >= ESTABLISH_WAIT_MS)
      throw new StorageUnavailableError(`kubernetes: ${r.plural}.${r.group} was created but is not served`);
    await pause(100);
  }
}

/** Dex's start-up (storage.go registerCustomResources): list each resource with limit=1; create what is missing. */
async function ensureResources(client: KubeClient, crdHandling: 'ensure' | 'check'): Promise<void> {
  const missing: Resource[] = [];
  for (const r of allResources) if (!(await isServed(client, r))) missing.push(r);
  if (missing.length === 0) return;
  const names = missing.map((r) => `${r.plural}.${r.group}`).join(', ');
  if (crdHandling === 'check')
    throw new StorageUnavailableError(
      `kubernetes: storage is not initialized, CRDs are not created (crdHandling: check): missing ${names}`,
    );
  for (const r of missing) await createDefinition(client, r);
}

/**
 * Connects as Dex does (in-cluster service account or a kubeconfig file), makes sure every custom resource
 * exists, and returns the storage. KubernetesConfigError for settings that cannot work;
 * StorageUnavailableError when the API server refuses or cannot be reached.
 */
export async function openKubernetes(options: KubernetesOptions): Promise<Storage> {
  const crdHandling = options.crdHandling ?? 'ensure';
  const client = loadConnection(options);
  try {
    await ensureResources(client, crdHandling);
  } catch (err: unknown) {
    client.close();
    if (err instanceof KubernetesConfigError || err instanceof StorageUnavailableError) throw err;
    throw new StorageUnavailableError(`kubernetes: cannot reach ${client.serverUrl}`, { cause: err });
  }
  return new KubernetesStorage(client);
}

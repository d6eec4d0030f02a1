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
import { ConflictError, KeyedQueue, ResourceApi, retryOnConflict } from './api.js';
import { KubernetesConfigError, loadConnection, type KubeClient, type KubernetesOptions } from './client.js';
import type { OwnKinds } from './crds.js';
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
import { ensureResources, type StorageLog } from './startup.js';

export { KubernetesConfigError, type KubernetesOptions } from './client.js';
export type { StorageLog } from './startup.js';

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

  constructor(
    private readonly client: KubeClient,
    kinds: OwnKinds,
  ) {
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
    this.sessions = table(sessionSpec(kinds.sessions));
    this.passwordFailures = table(passwordFailuresSpec(kinds.passwordFailures));
    this.revokedTokens = table(revokedTokenSpec(kinds.revokedTokens));
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

/** Without a logger, the fallback warning still reaches the operator. */
const stderrLog: StorageLog = {
  warn: (message) => void process.stderr.write(`${message}\n`),
  info: () => undefined,
};

/** A create or replace that lost to another writer: handled like a 409 on update. */
const retryLater = (): never => {
  throw new ConflictError('keys');
};

/**
 * Connects as Dex does (in-cluster service account or a kubeconfig file), makes sure every custom resource
 * exists (see startup.ts for where idport's own kinds go), and returns the storage. KubernetesConfigError for settings that cannot work;
 * StorageUnavailableError when the API server refuses or cannot be reached.
 */
export async function openKubernetes(options: KubernetesOptions, log: StorageLog = stderrLog): Promise<Storage> {
  const client = loadConnection(options);
  let kinds: OwnKinds;
  try {
    kinds = await ensureResources(client, { crdHandling: options.crdHandling ?? 'ensure', log });
  } catch (err: unknown) {
    client.close();
    if (err instanceof KubernetesConfigError || err instanceof StorageUnavailableError) throw err;
    throw new StorageUnavailableError(`kubernetes: cannot reach ${client.serverUrl}`, { cause: err });
  }
  return new KubernetesStorage(client, kinds);
}

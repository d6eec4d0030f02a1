/**
 * Custom-resource calls in one namespace, with Kubernetes' answers turned into the contract's errors:
 * 404 is absence, 409 on create is AlreadyExistsError, 409 on a write with a resourceVersion is a lost
 * compare-and-swap (retried by the caller), anything else is StorageUnavailableError with the API's message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AlreadyExistsError, StorageUnavailableError } from '../storage.js';
import type { KubeClient, KubeResponse } from './client.js';
import type { Resource } from './crds.js';
import type { KubeObject } from './fields.js';

/** Objects one list call returns; Dex's gcResultLimit. */
export const PAGE_SIZE = 500;
/** Attempts of a compare-and-swap before giving up (Dex gives up after five). */
const MAX_ATTEMPTS = 40;

/** A write lost the race for a resourceVersion: re-read and try again. */
export class ConflictError extends Error {
  constructor(what: string) {
    super(`${what} was changed concurrently`);
    this.name = 'ConflictError';
  }
}

/** The `message` of a Kubernetes Status body, or the status code. */
const reason = (res: KubeResponse): string => {
  const body = res.body;
  if (typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string')
    return `${res.status}: ${body.message}`;
  return `HTTP ${res.status}`;
};

export const unexpected = (what: string, verb: string, res: KubeResponse): StorageUnavailableError =>
  new StorageUnavailableError(`kubernetes: ${verb} ${what}: ${reason(res)}`);

const asObject = (body: unknown): KubeObject => (typeof body === 'object' && body !== null ? body : {}) as KubeObject;

export class ResourceApi {
  constructor(
    readonly client: KubeClient,
    readonly resource: Resource,
    readonly what: string,
  ) {}

  private path(name = '', query = ''): string {
    const r = this.resource;
    const ns = encodeURIComponent(this.client.namespace);
    const tail = name === '' ? '' : `/${encodeURIComponent(name)}`;
    return `/apis/${r.group}/${r.version}/namespaces/${ns}/${r.plural}${tail}${query}`;
  }

  async get(name: string): Promise<KubeObject | undefined> {
    const res = await this.client.request('GET', this.path(name));
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw unexpected(this.what, 'get', res);
    return asObject(res.body);
  }

  /** One page of at most `limit` objects, and the token for the next page ('' at the end). */
  async listPage(limit: number, continueToken = ''): Promise<{ items: KubeObject[]; next: string }> {
    const query = `?limit=${limit}${continueToken === '' ? '' : `&continue=${encodeURIComponent(continueToken)}`}`;
    const res = await this.client.request('GET', this.path('', query));
    if (res.status !== 200) throw unexpected(this.what, 'list', res);
    const body = asObject(res.body);
    const items = Array.isArray(body['items']) ? body['items'].map(asObject) : [];
    const next = body.metadata?.['continue'];
    return { items, next: typeof next === 'string' ? next : '' };
  }

  /** Every object, page by page. */
  async *listAll(): AsyncGenerator<KubeObject> {
    let token = '';
    do {
      const page = await this.listPage(PAGE_SIZE, token);
      yield* page.items;
      token = page.next;
    } while (token !== '');
  }

  private envelope(name: string, body: Record<string, unknown>, metadata: Record<string, unknown> = {}): unknown {
    const r = this.resource;
    return {
      apiVersion: `${r.group}/${r.version}`,
      kind: r.kind,
      metadata: { ...metadata, name, namespace: this.client.namespace },
      ...body,
    };
  }

  /** POST; AlreadyExistsError on 409. Returns the stored object. */
  async create(name: string, body: Record<string, unknown>): Promise<KubeObject> {
    const res = await this.client.request('POST', this.path(), this.envelope(name, body));
    if (res.status === 409) throw new AlreadyExistsError(this.what);
    if (res.status !== 201 && res.status !== 200) throw unexpected(this.what, 'create', res);
    return asObject(res.body);
  }

  /**
   * PUT carrying the old object's metadata (labels, annotations and, above all, resourceVersion): the API
   * server refuses it with 409 if anyone wrote in between. undefined when the object is gone.
   */
  async replace(old: KubeObject, body: Record<string, unknown>): Promise<KubeObject | undefined> {
    const name = old.metadata?.name ?? '';
    const res = await this.client.request('PUT', this.path(name), this.envelope(name, body, old.metadata));
    if (res.status === 409) throw new ConflictError(this.what);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw unexpected(this.what, 'update', res);
    return asObject(res.body);
  }

  /** DELETE; false when already gone, or (with `resourceVersion`) changed since it was read. */
  async remove(name: string, resourceVersion?: string): Promise<boolean> {
    const options =
      resourceVersion === undefined
        ? undefined
        : { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } };
    const res = await this.client.request('DELETE', this.path(name), options);
    if (res.status === 404 || res.status === 409) return false;
    if (res.status !== 200 && res.status !== 202) throw unexpected(this.what, 'delete', res);
    return true;
  }
}

/** Runs `attempt` until it does not lose a compare-and-swap, backing off with jitter between tries. */
export async function retryOnConflict<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err: unknown) {
      if (!(err instanceof ConflictError)) throw err;
      if (n + 1 >= MAX_ATTEMPTS)
        throw new StorageUnavailableError(`kubernetes: ${what} kept changing; gave up after ${MAX_ATTEMPTS} attempts`);
      // Jitter spreads replicas that collided apart, so one of them wins the next round.
      await sleep(Math.min(5 * 2 ** n, 250) * (0.5 + Math.random()));
    }
  }
}

/** Serialises work per key inside one process, so concurrent updates here queue instead of colliding. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** Waits `ms`; exported so start-up polling reads as intent. */
export const pause = (ms: number): Promise<void> => sleep(ms);

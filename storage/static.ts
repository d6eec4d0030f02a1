/**
 * Dex's static overlays: clients, passwords and connectors from the config file sit in front of the
 * stored ones. They win on key clashes, are listed with the stored ones, and cannot be changed through
 * storage, so an API call or a bug can never rewrite what the operator put in the config file.
 */
import {
  ReadOnlyError,
  type Client,
  type ConnectorRecord,
  type GcResult,
  type Keys,
  type Password,
  type Storage,
  type Table,
} from './storage.js';

/** The entries of the config file that overlay storage (`staticClients`, `staticPasswords`, `connectors`). */
export interface StaticEntries {
  /** `staticClients`. */
  readonly clients: readonly Client[];
  /** `staticPasswords` (with `enablePasswordDB`); matched by email regardless of case. */
  readonly passwords: readonly Password[];
  /** `connectors`, as records. */
  readonly connectors: readonly ConnectorRecord[];
}

interface OverlayParts<T> {
  readonly what: string;
  readonly inner: Table<string, T>;
  readonly entries: readonly T[];
  readonly keyOf: (value: T) => string;
  /** Maps a key to its comparison form (emails compare case-insensitively). */
  readonly normalize: (key: string) => string;
}

/** Freezes `value` and everything it holds; a caller that tries to change a static entry gets a TypeError. */
const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
};

class StaticOverlayTable<T> implements Table<string, T> {
  private readonly statics = new Map<string, T>();

  private readonly what: string;
  private readonly inner: Table<string, T>;
  private readonly keyOf: (value: T) => string;
  private readonly normalize: (key: string) => string;

  constructor(parts: OverlayParts<T>) {
    this.what = parts.what;
    this.inner = parts.inner;
    this.keyOf = parts.keyOf;
    this.normalize = parts.normalize;
    for (const entry of parts.entries) {
      const key = this.normalize(this.keyOf(entry));
      if (this.statics.has(key))
        throw new Error(`static ${this.what} ${JSON.stringify(this.keyOf(entry))} is listed twice`);
      // A frozen copy, so neither the config object nor a caller's result can change the overlay later: `get` hands
      // the entry itself out (static clients are read at every token request, and copying cost 4 % of one).
      this.statics.set(key, deepFreeze(structuredClone(entry)));
    }
  }

  private staticEntry(key: string): T | undefined {
    return this.statics.get(this.normalize(key));
  }

  private refuseStatic(key: string): void {
    if (this.statics.has(this.normalize(key))) throw new ReadOnlyError(`${this.what} ${JSON.stringify(key)}`);
  }

  async create(value: T): Promise<void> {
    this.refuseStatic(this.keyOf(value));
    await this.inner.create(value);
  }

  async get(key: string): Promise<T | undefined> {
    return this.staticEntry(key) ?? (await this.inner.get(key));
  }

  async list(): Promise<T[]> {
    const stored = (await this.inner.list()).filter((value) => !this.statics.has(this.normalize(this.keyOf(value))));
    return [...this.statics.values(), ...stored];
  }

  async update(key: string, update: (old: T) => T): Promise<T> {
    this.refuseStatic(key);
    return this.inner.update(key, update);
  }

  async delete(key: string): Promise<boolean> {
    this.refuseStatic(key);
    return this.inner.delete(key);
  }
}

const same = (key: string): string => key;

/**
 * Wraps `storage` so the static entries are read first and cannot be written (ReadOnlyError);
 * everything else passes through. Throws when a static key is listed twice.
 */
export function withStaticOverlay(storage: Storage, entries: StaticEntries): Storage {
  return {
    authRequests: storage.authRequests,
    authCodes: storage.authCodes,
    refreshTokens: storage.refreshTokens,
    offlineSessions: storage.offlineSessions,
    clients: new StaticOverlayTable({
      what: 'client',
      inner: storage.clients,
      entries: entries.clients,
      keyOf: (c) => c.id,
      normalize: same,
    }),
    passwords: new StaticOverlayTable({
      what: 'password',
      inner: storage.passwords,
      entries: entries.passwords,
      keyOf: (p) => p.email,
      normalize: (email) => email.toLowerCase(),
    }),
    connectors: new StaticOverlayTable({
      what: 'connector',
      inner: storage.connectors,
      entries: entries.connectors,
      keyOf: (c) => c.id,
      normalize: same,
    }),
    deviceRequests: storage.deviceRequests,
    deviceTokens: storage.deviceTokens,
    sessions: storage.sessions,
    passwordFailures: storage.passwordFailures,
    revokedTokens: storage.revokedTokens,
    getKeys: (): Promise<Keys | undefined> => storage.getKeys(),
    updateKeys: (update: (old: Keys | undefined) => Keys): Promise<Keys> => storage.updateKeys(update),
    garbageCollect: (now: Date): Promise<GcResult> => storage.garbageCollect(now),
    ping: (): Promise<void> => storage.ping(),
    close: (): Promise<void> => storage.close(),
  };
}

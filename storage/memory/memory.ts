/**
 * In-memory storage, for tests and `storage.type: memory`. Values are deep-copied in and out so a
 * caller can never change stored state without going through `update`.
 */
import {
  AlreadyExistsError,
  NotFoundError,
  type AuthCode,
  type AuthRequest,
  type Client,
  type ConnectorRecord,
  type DeviceRequest,
  type DeviceToken,
  type GcResult,
  type Keys,
  type OfflineSession,
  type OfflineSessionKey,
  type Password,
  type PasswordFailures,
  type RevokedToken,
  type RefreshToken,
  type Session,
  type Storage,
  type Table,
} from '../storage.js';

class MemoryTable<K, T> implements Table<K, T> {
  readonly rows = new Map<string, T>();
  constructor(
    private readonly what: string,
    private readonly keyOf: (value: T) => K,
    private readonly keyString: (key: K) => string,
  ) {}

  async create(value: T): Promise<void> {
    const k = this.keyString(this.keyOf(value));
    if (this.rows.has(k)) throw new AlreadyExistsError(this.what);
    this.rows.set(k, structuredClone(value));
  }

  async get(key: K): Promise<T | undefined> {
    const row = this.rows.get(this.keyString(key));
    return row === undefined ? undefined : structuredClone(row);
  }

  async list(): Promise<T[]> {
    return [...this.rows.values()].map((row) => structuredClone(row));
  }

  async update(key: K, update: (old: T) => T): Promise<T> {
    const k = this.keyString(key);
    const old = this.rows.get(k);
    if (old === undefined) throw new NotFoundError(this.what);
    // Single-threaded: read, compute and write happen without an await in between, so this is atomic.
    const next = update(structuredClone(old));
    if (this.keyString(this.keyOf(next)) !== k) throw new Error(`update must not change the ${this.what} key`);
    this.rows.set(k, structuredClone(next));
    return structuredClone(next);
  }

  async delete(key: K): Promise<boolean> {
    return this.rows.delete(this.keyString(key));
  }

  /** Deletes rows whose expiry is before `now`; returns how many. */
  collect(now: Date, expiryOf: (value: T) => Date | undefined): number {
    let removed = 0;
    for (const [k, row] of this.rows) {
      const expiry = expiryOf(row);
      if (expiry !== undefined && expiry.getTime() < now.getTime()) {
        this.rows.delete(k);
        removed++;
      }
    }
    return removed;
  }
}

const byId = <T extends { id: string }>(value: T): string => value.id;
const same = (key: string): string => key;

export class MemoryStorage implements Storage {
  readonly authRequests = new MemoryTable<string, AuthRequest>('auth request', byId, same);
  readonly authCodes = new MemoryTable<string, AuthCode>('auth code', byId, same);
  readonly refreshTokens = new MemoryTable<string, RefreshToken>('refresh token', byId, same);
  readonly offlineSessions = new MemoryTable<OfflineSessionKey, OfflineSession>(
    'offline session',
    (s) => ({ userId: s.userId, connectorId: s.connectorId }),
    (k) => JSON.stringify([k.userId, k.connectorId]),
  );
  readonly clients = new MemoryTable<string, Client>('client', byId, same);
  readonly passwords = new MemoryTable<string, Password>(
    'password',
    (p) => p.email,
    (email) => email.toLowerCase(),
  );
  readonly connectors = new MemoryTable<string, ConnectorRecord>('connector', byId, same);
  readonly deviceRequests = new MemoryTable<string, DeviceRequest>('device request', (d) => d.userCode, same);
  readonly deviceTokens = new MemoryTable<string, DeviceToken>('device token', (d) => d.deviceCode, same);
  readonly sessions = new MemoryTable<string, Session>('session', byId, same);
  readonly passwordFailures = new MemoryTable<string, PasswordFailures>('password failures', byId, same);
  readonly revokedTokens = new MemoryTable<string, RevokedToken>('revoked token', byId, same);
  private keys: Keys | undefined;

  async getKeys(): Promise<Keys | undefined> {
    return this.keys === undefined ? undefined : structuredClone(this.keys);
  }

  async updateKeys(update: (old: Keys | undefined) => Keys): Promise<Keys> {
    const next = update(this.keys === undefined ? undefined : structuredClone(this.keys));
    this.keys = structuredClone(next);
    return structuredClone(next);
  }

  async garbageCollect(now: Date): Promise<GcResult> {
    return {
      authRequests: this.authRequests.collect(now, (r) => r.expiry),
      authCodes: this.authCodes.collect(now, (c) => c.expiry),
      refreshTokens: this.refreshTokens.collect(now, (t) => t.expiry),
      deviceRequests: this.deviceRequests.collect(now, (d) => d.expiry),
      deviceTokens: this.deviceTokens.collect(now, (d) => d.expiry),
      sessions: this.sessions.collect(now, (s) => s.expiry),
      passwordFailures: this.passwordFailures.collect(now, (f) => f.expiry),
      revokedTokens: this.revokedTokens.collect(now, (t) => t.expiry),
    };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

export const openMemory = (): Storage => new MemoryStorage();

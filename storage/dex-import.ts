/**
 * A Dex database reused as it is: the rows a running Dex (storage/sql, schema of v2.45.1) left behind, turned into
 * idport's entities. Each SQL backend reads Dex's tables once, at its first start on that database, and inserts the
 * result into its own tables (sqlite/dex.ts, postgres/dex.ts); Dex's tables are only read, never changed, so
 * pointing Dex back at the database is a rollback. What carries over: the signing keys (tokens Dex signed still
 * verify, and new ones are signed with Dex's key until its rotation time), clients, passwords, connectors created
 * through Dex's API, offline sessions and refresh tokens (Dex's tokens keep working, with the same `sub`). What does
 * not: auth requests, auth codes and device requests, which live minutes (a login in progress starts again).
 */
import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import { AlreadyExistsError } from './storage.js';
import type {
  Client,
  ConnectorRecord,
  Keys,
  OfflineSession,
  Password,
  RefreshToken,
  RefreshTokenRef,
  Storage,
} from './storage.js';

/** A column value as a driver returns it: SQLite gives numbers, strings and Buffers; PostgreSQL also booleans and Dates. */
export type DexValue = string | number | boolean | Date | Uint8Array | null | undefined;
/** One row of a Dex table, by column name. */
export type DexRow = Readonly<Record<string, DexValue>>;

/** Dex's rows, table by table (only the tables that carry over). */
export interface DexTables {
  readonly keys: readonly DexRow[];
  readonly client: readonly DexRow[];
  readonly password: readonly DexRow[];
  readonly connector: readonly DexRow[];
  readonly offline_session: readonly DexRow[];
  readonly refresh_token: readonly DexRow[];
}

/** Dex's data as idport entities. */
export interface DexImport {
  readonly keys: Keys | undefined;
  readonly clients: readonly Client[];
  readonly passwords: readonly Password[];
  readonly connectors: readonly ConnectorRecord[];
  readonly offlineSessions: readonly OfflineSession[];
  readonly refreshTokens: readonly RefreshToken[];
}

/** The Dex tables that carry over; a database with all of them (and Dex's `migrations` table) is Dex's. */
export const DEX_TABLES = ['keys', 'client', 'password', 'connector', 'offline_session', 'refresh_token'] as const;

/**
 * The storage id of a family Dex started: Dex's refresh id itself, which the refresh grant looks up for a token Dex
 * issued (src/oauth/grants/refresh-family.ts; the Kubernetes storage keeps Dex's families the same way).
 */
const familyIdOf = (refreshId: string): string => refreshId;
const hashOf = (secret: string): string => createHash('sha256').update(secret).digest('base64url');

const text = (value: DexValue): string => {
  if (value === null || value === undefined) return '';
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value instanceof Date) return value.toISOString();
  return String(value);
};

const bool = (value: DexValue): boolean => value === true || value === 1 || value === '1' || value === 't';

/** A Go time as a driver returns it: a Date (pg), or go-sqlite3's "2006-01-02 15:04:05.999999999-07:00". */
const time = (value: DexValue): Date => {
  if (value instanceof Date) return value;
  const parsed = new Date(
    text(value)
      .replace(' ', 'T')
      .replace(/(\.\d{3})\d+/, '$1'),
  );
  return Number.isNaN(parsed.getTime()) ? new Date(0) : parsed;
};

/** A JSON column (Dex's `encoder`): bytes or text holding JSON; `fallback` for NULL. */
const json = <T>(value: DexValue, fallback: T): T => {
  const raw = text(value);
  return raw === '' ? fallback : (JSON.parse(raw) as T);
};

const strings = (value: DexValue): string[] => json<string[] | null>(value, []) ?? [];
const bytes = (value: DexValue): Uint8Array | undefined =>
  value instanceof Uint8Array && value.length > 0 ? new Uint8Array(value) : undefined;

function keysOf(row: DexRow | undefined): Keys | undefined {
  if (row === undefined) return undefined;
  const signingKey = json<JWK | null>(row['signing_key'], null);
  const signingKeyPub = json<JWK | null>(row['signing_key_pub'], null);
  if (signingKey === null || signingKeyPub === null) return undefined;
  const verification = json<{ publicKey: JWK; expiry: string }[] | null>(row['verification_keys'], []) ?? [];
  return {
    signingKey,
    signingKeyPub,
    verificationKeys: verification.map((key) => ({ publicKey: key.publicKey, expiry: new Date(key.expiry) })),
    nextRotation: time(row['next_rotation']),
  };
}

const clientOf = (row: DexRow): Client => ({
  id: text(row['id']),
  secret: text(row['secret']),
  redirectURIs: strings(row['redirect_uris']),
  trustedPeers: strings(row['trusted_peers']),
  public: bool(row['public']),
  name: text(row['name']),
  logoURL: text(row['logo_url']),
});

const passwordOf = (row: DexRow): Password => ({
  email: text(row['email']),
  hash: text(row['hash']),
  username: text(row['username']),
  userId: text(row['user_id']),
  ...(text(row['name']) === '' ? {} : { name: text(row['name']) }),
  ...(text(row['preferred_username']) === '' ? {} : { preferredUsername: text(row['preferred_username']) }),
  // NULL (rows from before the column existed) means verified, as Dex reads it.
  emailVerified: row['email_verified'] === null || row['email_verified'] === undefined || bool(row['email_verified']),
  groups: strings(row['groups']),
});

const connectorOf = (row: DexRow): ConnectorRecord => ({
  id: text(row['id']),
  type: text(row['type']),
  name: text(row['name']),
  resourceVersion: text(row['resource_version']),
  config: json<unknown>(row['config'], {}),
});

function refreshTokenOf(row: DexRow): RefreshToken {
  const createdAt = time(row['created_at']);
  const lastUsed = time(row['last_used']);
  return {
    id: familyIdOf(text(row['id'])),
    clientId: text(row['client_id']),
    connectorId: text(row['connector_id']),
    claims: {
      userId: text(row['claims_user_id']),
      username: text(row['claims_username']),
      preferredUsername: text(row['claims_preferred_username']),
      email: text(row['claims_email']),
      emailVerified: bool(row['claims_email_verified']),
      groups: strings(row['claims_groups']),
    },
    connectorData: bytes(row['connector_data']),
    scopes: strings(row['scopes']),
    nonce: text(row['nonce']),
    // Dex keeps no auth_time for a refresh token; the token's creation is when the user last logged in for it.
    authTime: createdAt,
    currentHash: hashOf(text(row['token'])),
    previousHash: '',
    rotationNonce: '',
    createdAt,
    lastUsed,
  };
}

interface DexRefreshRef {
  readonly ID: string;
  readonly ClientID: string;
  readonly CreatedAt: string;
  readonly LastUsed: string;
}

function offlineSessionOf(row: DexRow): OfflineSession {
  // Dex keys the references by client id; idport by family id.
  const refs = json<Record<string, DexRefreshRef> | null>(row['refresh'], {}) ?? {};
  const refresh: Record<string, RefreshTokenRef> = {};
  for (const ref of Object.values(refs)) {
    const id = familyIdOf(ref.ID);
    Object.defineProperty(refresh, id, {
      value: { id, clientId: ref.ClientID, createdAt: new Date(ref.CreatedAt), lastUsed: new Date(ref.LastUsed) },
      enumerable: true,
    });
  }
  return {
    userId: text(row['user_id']),
    connectorId: text(row['conn_id']),
    refresh,
    connectorData: bytes(row['connector_data']),
  };
}

/** Dex's rows as idport entities; `keys` only from the row Dex writes (id `keys`). */
export const fromDexTables = (tables: DexTables): DexImport => ({
  keys: keysOf(tables.keys.find((row) => text(row['id']) === 'keys')),
  clients: tables.client.map(clientOf),
  passwords: tables.password.map(passwordOf),
  connectors: tables.connector.map(connectorOf),
  offlineSessions: tables.offline_session.map(offlineSessionOf),
  refreshTokens: tables.refresh_token.map(refreshTokenOf),
});

/** Where imported entities go: the parts of Storage the import writes. */
export interface DexImportTarget {
  readonly storage: Pick<
    Storage,
    'clients' | 'passwords' | 'connectors' | 'offlineSessions' | 'refreshTokens' | 'updateKeys'
  >;
}

/**
 * Writes Dex's entities into idport's tables. Safe to run again after a crash half-way: rows that exist are kept
 * (AlreadyExistsError is the contract's answer to a taken key), and keys are taken only when idport has none.
 */
export async function writeDexImport(target: DexImportTarget, data: DexImport): Promise<void> {
  const { storage } = target;
  const keep = async (create: () => Promise<void>): Promise<void> => {
    try {
      await create();
    } catch (err: unknown) {
      if (!(err instanceof AlreadyExistsError)) throw err;
    }
  };
  const dexKeys = data.keys;
  if (dexKeys !== undefined) await storage.updateKeys((old) => old ?? dexKeys);
  for (const client of data.clients) await keep(() => storage.clients.create(client));
  for (const password of data.passwords) await keep(() => storage.passwords.create(password));
  for (const connector of data.connectors) await keep(() => storage.connectors.create(connector));
  for (const session of data.offlineSessions) await keep(() => storage.offlineSessions.create(session));
  for (const token of data.refreshTokens) await keep(() => storage.refreshTokens.create(token));
}

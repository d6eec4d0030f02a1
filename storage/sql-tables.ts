/**
 * The table layout both SQL backends share: for each entity, its table, key columns, how a key becomes column
 * values, and whether garbage collection empties it. SQLite and PostgreSQL differ in SQL, not in this.
 */
import type {
  AuthCode,
  AuthRequest,
  Client,
  ConnectorRecord,
  DeviceRequest,
  DeviceToken,
  OfflineSession,
  OfflineSessionKey,
  Password,
  PasswordFailures,
  RevokedToken,
  RefreshToken,
  Session,
} from './storage.js';

/** One entity's table. */
export interface TableSpec<K, T> {
  /** Entity name for error messages ("auth request"). */
  readonly what: string;
  readonly table: string;
  /** Primary-key columns, in the order `keyParams` returns their values. */
  readonly keyColumns: readonly string[];
  readonly keyOf: (value: T) => K;
  /** The key as column values, normalised (passwords are lower-cased). */
  readonly keyParams: (key: K) => string[];
  /** Present only for tables that garbage collection empties. */
  readonly expiryOf?: (value: T) => Date | undefined;
}

/** Whether two key-column tuples are equal (an update must not move a row). */
export const sameKey = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

const byId = { keyColumns: ['id'], keyOf: (v: { id: string }): string => v.id, keyParams: (k: string) => [k] };
const expiry = (v: { expiry?: Date | undefined }): Date | undefined => v.expiry;
const single = <T>(column: string, keyOf: (value: T) => string) => ({
  keyColumns: [column],
  keyOf,
  keyParams: (k: string) => [k],
});

/** The spec of each entity table, by the Storage property that exposes it. */
export interface TableSpecs {
  readonly authRequests: TableSpec<string, AuthRequest>;
  readonly authCodes: TableSpec<string, AuthCode>;
  readonly refreshTokens: TableSpec<string, RefreshToken>;
  readonly offlineSessions: TableSpec<OfflineSessionKey, OfflineSession>;
  readonly clients: TableSpec<string, Client>;
  readonly passwords: TableSpec<string, Password>;
  readonly connectors: TableSpec<string, ConnectorRecord>;
  readonly deviceRequests: TableSpec<string, DeviceRequest>;
  readonly deviceTokens: TableSpec<string, DeviceToken>;
  readonly sessions: TableSpec<string, Session>;
  readonly passwordFailures: TableSpec<string, PasswordFailures>;
  readonly revokedTokens: TableSpec<string, RevokedToken>;
}

/** Every entity table. */
export const tableSpecs: TableSpecs = {
  authRequests: { what: 'auth request', table: 'auth_requests', ...byId, expiryOf: expiry },
  authCodes: { what: 'auth code', table: 'auth_codes', ...byId, expiryOf: expiry },
  refreshTokens: { what: 'refresh token', table: 'refresh_tokens', ...byId, expiryOf: expiry },
  offlineSessions: {
    what: 'offline session',
    table: 'offline_sessions',
    keyColumns: ['user_id', 'connector_id'],
    keyOf: (s: OfflineSession): OfflineSessionKey => ({ userId: s.userId, connectorId: s.connectorId }),
    keyParams: (k: OfflineSessionKey) => [k.userId, k.connectorId],
  },
  clients: { what: 'client', table: 'clients', ...byId },
  passwords: {
    what: 'password',
    table: 'passwords',
    keyColumns: ['email'],
    keyOf: (p: Password) => p.email,
    // Emails compare case-insensitively, by JavaScript's rule so every backend agrees beyond ASCII; the row keeps the email as written.
    keyParams: (email: string) => [email.toLowerCase()],
  },
  connectors: { what: 'connector', table: 'connectors', ...byId },
  deviceRequests: {
    what: 'device request',
    table: 'device_requests',
    ...single('user_code', (d: DeviceRequest) => d.userCode),
    expiryOf: expiry,
  },
  deviceTokens: {
    what: 'device token',
    table: 'device_tokens',
    ...single('device_code', (d: DeviceToken) => d.deviceCode),
    expiryOf: expiry,
  },
  sessions: { what: 'session', table: 'sessions', ...byId, expiryOf: expiry },
  passwordFailures: { what: 'password failures', table: 'password_failures', ...byId, expiryOf: expiry },
  revokedTokens: { what: 'revoked token', table: 'revoked_tokens', ...byId, expiryOf: expiry },
};

/**
 * A database as a running Dex v2.45.1 leaves it: Dex's tables (test/fixtures/dex) filled with Dex-shaped rows —
 * its signing key, a client, a password user, an offline session and the refresh token Dex handed out.
 */
import { readFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/** What the rows hold, for assertions. */
export const DEX = {
  kid: 'dex-signing-key-1',
  clientId: 'dex-app',
  clientSecret: 'dex-app-secret',
  email: 'jane@example.com',
  password: 'password',
  // bcrypt of "password", cost 10 (the hash in idport's config.example.yaml).
  hash: '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W',
  userId: 'dex-user-1',
  // Dex's storage.NewID: 16 random bytes, lower-case base32, unpadded.
  refreshId: 'rngkp3jyc6zbk5clmxv4wyk2ya',
  refreshSecret: 'dexrefreshsecret1',
  // A refresh token from before Dex stored a token with it: presented as the raw id, with an empty token.
  legacyRefreshId: 'aaaaaaaaaaaaaaaaaaaaaaaaa2',
} as const;

/** Dex's refresh token on the wire: base64url of protobuf `RefreshToken{refresh_id = 1, token = 2}`. */
export const dexRefreshToken = (refreshId: string, token: string): string => {
  const field = (tag: number, value: string): number[] => {
    const bytes = [...Buffer.from(value, 'utf8')];
    return bytes.length === 0 ? [] : [tag, bytes.length, ...bytes];
  };
  return Buffer.from([...field(0x0a, refreshId), ...field(0x12, token)]).toString('base64url');
};

/** go-sqlite3's spelling of a Go time.Time. */
export const goSqliteTime = (date: Date): string => `${date.toISOString().replace('T', ' ').replace('Z', '')}+00:00`;

/** Dex's DDL for SQLite, from the fixture. */
export const dexSqliteSchema = (): string =>
  readFileSync(new URL('../fixtures/dex/sqlite-v2.45.1.sql', import.meta.url), 'utf8');

/** A fresh RSA signing key as Dex stores it (go-jose JSON Web Keys). */
export const dexSigningKey = async (): Promise<{ privateJwk: JWK; publicJwk: JWK }> => {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const common = { kid: DEX.kid, alg: 'RS256', use: 'sig' };
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...common },
    publicJwk: { ...(await exportJWK(publicKey)), ...common },
  };
};

/** One statement and its parameters; `?` placeholders, numbered for PostgreSQL by the caller if needed. */
export interface DexInsert {
  readonly sql: string;
  readonly params: readonly (string | number | Buffer | null)[];
}

/** The rows, as inserts any driver can run; times are given by `time` in the driver's spelling. */
export const dexRows = (
  keys: { privateJwk: JWK; publicJwk: JWK },
  options: {
    readonly now: Date;
    readonly time: (date: Date) => string;
    readonly bool: (value: boolean) => number | string;
  },
): DexInsert[] => {
  const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  const created = new Date(options.now.getTime() - 3_600_000);
  const ref = {
    ID: DEX.refreshId,
    ClientID: DEX.clientId,
    CreatedAt: created.toISOString(),
    LastUsed: created.toISOString(),
  };
  return [
    {
      sql: 'insert into keys (id, verification_keys, signing_key, signing_key_pub, next_rotation) values (?, ?, ?, ?, ?)',
      params: [
        'keys',
        json([]),
        json(keys.privateJwk),
        json(keys.publicJwk),
        options.time(new Date(options.now.getTime() + 3 * 3_600_000)),
      ],
    },
    {
      sql: 'insert into client (id, secret, redirect_uris, trusted_peers, public, name, logo_url) values (?, ?, ?, ?, ?, ?, ?)',
      params: [
        DEX.clientId,
        DEX.clientSecret,
        json(['http://127.0.0.1:5555/callback']),
        json([]),
        options.bool(false),
        'Dex App',
        '',
      ],
    },
    {
      sql: 'insert into password (email, hash, username, user_id, preferred_username, groups, name, email_verified) values (?, ?, ?, ?, ?, ?, ?, ?)',
      params: [DEX.email, Buffer.from(DEX.hash), 'jane', DEX.userId, '', json(['admins']), 'Jane', options.bool(true)],
    },
    {
      sql: 'insert into offline_session (user_id, conn_id, refresh, connector_data) values (?, ?, ?, ?)',
      params: [DEX.userId, 'local', json({ [DEX.clientId]: ref }), null],
    },
    {
      sql: `insert into refresh_token (id, client_id, scopes, nonce, claims_user_id, claims_username, claims_email,
              claims_email_verified, claims_groups, connector_id, connector_data, token, created_at, last_used,
              claims_preferred_username, obsolete_token) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      params: [
        DEX.refreshId,
        DEX.clientId,
        json(['openid', 'email', 'groups', 'offline_access']),
        'n-0S6_WzA2Mj',
        DEX.userId,
        'jane',
        DEX.email,
        options.bool(true),
        json(['admins']),
        'local',
        null,
        DEX.refreshSecret,
        options.time(created),
        options.time(created),
        '',
        '',
      ],
    },
    {
      sql: `insert into refresh_token (id, client_id, scopes, nonce, claims_user_id, claims_username, claims_email,
              claims_email_verified, claims_groups, connector_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      params: [
        DEX.legacyRefreshId,
        DEX.clientId,
        json(['openid', 'email', 'offline_access']),
        '',
        DEX.userId,
        'jane',
        DEX.email,
        options.bool(true),
        json([]),
        'local',
      ],
    },
    { sql: 'insert into migrations (num, at) values (?, ?)', params: [17, options.time(created)] },
  ];
};

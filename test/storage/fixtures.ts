/**
 * Entity values for storage tests. Every optional field is filled so a backend that drops one fails,
 * Dates carry milliseconds so a backend that rounds to seconds fails, and byte fields hold every byte
 * value so a backend that goes through a text encoding fails.
 */
import type {
  PasswordFailures,
  RevokedToken,
  AuthCode,
  AuthRequest,
  Claims,
  Client,
  ConnectorRecord,
  DeviceRequest,
  DeviceToken,
  Keys,
  OfflineSession,
  Password,
  RefreshToken,
  Session,
} from '../../storage/storage.js';

/** A fixed instant with a non-zero millisecond part; every fixture date is derived from it. */
export const baseTime = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

/** `baseTime` shifted by `ms`, as a new Date. */
export const at = (ms: number): Date => new Date(baseTime + ms);

/** Bytes 0…255 rotated by `n`, so each fixture's bytes differ. */
export const allBytes = (n: number): Uint8Array => Uint8Array.from({ length: 256 }, (_, i) => (i + n) % 256);

/** Claims for user number `n`. */
export const claims = (n: number): Claims => ({
  userId: `user-${n}`,
  username: `User ${n}`,
  preferredUsername: `user${n}`,
  email: `user${n}@example.com`,
  emailVerified: n % 2 === 0,
  groups: ['admins', `team-${n}`],
});

/** An auth request with every field set; its expiry is `expiry`. */
export const authRequest = (n: number, expiry: Date = at(600_000)): AuthRequest => ({
  id: `auth-request-${n}`,
  clientId: 'example-app',
  responseTypes: ['code'],
  scopes: ['openid', 'email', 'offline_access'],
  redirectUri: 'https://app.example.com/callback',
  redirectUriSent: true,
  state: `state-${n}`,
  nonce: `nonce-${n}`,
  responseMode: 'query',
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  codeChallengeMethod: 'S256',
  prompt: ['login', 'consent'],
  maxAge: 3600,
  loginHint: `user${n}@example.com`,
  forceApproval: true,
  connectorId: 'local',
  csrfToken: `csrf-${n}`,
  browserHash: `browser-hash-${n}`,
  loggedIn: true,
  claims: claims(n),
  connectorData: allBytes(n),
  connectorState: new Uint8Array([0, 255, n % 256]),
  authTime: at(-1),
  sessionId: `session-${n}`,
  expiry,
});

/** A redeemed auth code with every field set. */
export const authCode = (n: number, expiry: Date = at(600_000)): AuthCode => ({
  id: `auth-code-${n}`,
  clientId: 'example-app',
  redirectUri: 'https://app.example.com/callback',
  scopes: ['openid', 'groups'],
  nonce: `nonce-${n}`,
  claims: claims(n),
  connectorId: 'ldap',
  connectorData: allBytes(n + 1),
  codeChallenge: '',
  codeChallengeMethod: '',
  authTime: at(-2),
  sessionId: `session-${n}`,
  expiry,
  redeemedAt: at(1),
  refreshTokenId: `refresh-token-${n}`,
  revokedAt: at(2),
});

/** A rotated refresh-token family with every field set; `null` expiry means a family without an absolute lifetime. */
export const refreshToken = (n: number, expiry: Date | null = at(86_400_000)): RefreshToken => ({
  id: `refresh-token-${n}`,
  clientId: 'kubectl',
  connectorId: 'github',
  claims: claims(n),
  connectorData: allBytes(n + 2),
  scopes: ['openid', 'offline_access'],
  nonce: `nonce-${n}`,
  authTime: at(-3),
  sessionId: `session-${n}`,
  currentHash: `current-hash-${n}`,
  previousHash: `previous-hash-${n}`,
  rotationNonce: `rotation-nonce-${n}`,
  createdAt: at(-4),
  lastUsed: at(5),
  rotatedAt: at(6),
  ...(expiry === null ? {} : { expiry }),
});

/** A counter for compare-and-swap tests: each call moves a refresh token's `lastUsed` one millisecond on. */
export const useOnce = (old: RefreshToken): RefreshToken => ({
  ...old,
  lastUsed: new Date(old.lastUsed.getTime() + 1),
});

/** How many times `useOnce` ran on a `refreshToken(n)` fixture. */
export const usesOf = (token: RefreshToken | undefined): number | undefined =>
  token === undefined ? undefined : token.lastUsed.getTime() - at(5).getTime();

/** The offline session of user `n` on connector `connectorId`, with two refresh-token families. */
export const offlineSession = (n: number, connectorId = 'github'): OfflineSession => ({
  userId: `user-${n}`,
  connectorId,
  refresh: {
    'example-app': { id: `refresh-token-${n}`, clientId: 'example-app', createdAt: at(-7), lastUsed: at(8) },
    kubectl: { id: `refresh-token-${n}-b`, clientId: 'kubectl', createdAt: at(-9), lastUsed: at(10) },
  },
  connectorData: allBytes(n + 3),
});

/** A confidential client with every field set. */
export const client = (n: number): Client => ({
  id: `client-${n}`,
  secret: `secret-${n}`,
  redirectURIs: [`https://app${n}.example.com/callback`, 'http://127.0.0.1:5555/callback'],
  trustedPeers: ['example-app'],
  public: false,
  name: `App ${n}`,
  logoURL: `https://app${n}.example.com/logo.png`,
  postLogoutRedirectURIs: [`https://app${n}.example.com/`],
  backchannelLogoutURI: `https://app${n}.example.com/logout`,
});

/** A password-database user with every field set. */
export const password = (n: number, email = `user${n}@example.com`): Password => ({
  email,
  hash: `$2a$10$hash${n}`,
  username: `user${n}`,
  userId: `user-id-${n}`,
  name: `User ${n}`,
  preferredUsername: `user${n}`,
  emailVerified: true,
  groups: ['staff'],
});

/** A stored connector whose free-form config includes keys that look like codec tags. */
export const connector = (n: number): ConnectorRecord => ({
  id: `connector-${n}`,
  type: 'ldap',
  name: `LDAP ${n}`,
  resourceVersion: `${n}`,
  config: {
    host: 'ldap.example.com:636',
    port: 636,
    insecureNoSSL: false,
    userSearch: { baseDN: 'ou=people,dc=example,dc=com', filter: '(objectClass=person)' },
    groups: [1, 'two', null, true, { nested: [] }],
    empty: {},
    lookalike: { $date: 'not a date' },
    also: { $bytes: 12, $$escaped: true },
  },
});

/** A pending device authorization request. */
export const deviceRequest = (n: number, expiry: Date = at(300_000)): DeviceRequest => ({
  userCode: `USER-${n}`,
  deviceCode: `device-code-${n}`,
  clientId: 'tv-app',
  scopes: ['openid', 'profile'],
  expiry,
});

/** A device token waiting for the user. */
export const deviceToken = (n: number, expiry: Date = at(300_000)): DeviceToken => ({
  deviceCode: `device-code-${n}`,
  status: 'pending',
  token: '',
  expiry,
  lastRequestTime: at(11),
  pollIntervalSeconds: 5,
  codeChallenge: 'challenge',
  codeChallengeMethod: 'plain',
});

/** A browser session with every field set; its expiry is `expiry`. */
export const session = (n: number, expiry: Date = at(86_400_000)): Session => ({
  id: `session-${n}`,
  secretHash: `secret-hash-${n}`,
  connectorId: 'ldap',
  claims: claims(n),
  connectorData: allBytes(n + 3),
  authTime: at(13),
  createdAt: at(14),
  lastUsed: at(15),
  expiry,
  rememberMe: n % 2 === 1,
  consents: { 'example-app': ['openid', 'email'], [`client-${n}`]: ['openid'] },
  clients: ['example-app', `client-${n}`],
  refreshTokenIds: [`refresh-token-${n}`],
});

/** A key set whose signing key is `kid` and which publishes one verification key per entry of `retiredKids`. */
export const keys = (kid: string, retiredKids: readonly string[] = []): Keys => ({
  signingKey: { kty: 'EC', crv: 'P-256', x: `x-${kid}`, y: `y-${kid}`, d: `d-${kid}`, kid, alg: 'ES256' },
  signingKeyPub: { kty: 'EC', crv: 'P-256', x: `x-${kid}`, y: `y-${kid}`, kid, alg: 'ES256' },
  verificationKeys: retiredKids.map((retired, i) => ({
    publicKey: { kty: 'EC', crv: 'P-256', x: `x-${retired}`, y: `y-${retired}`, kid: retired, alg: 'ES256' },
    expiry: at(1000 * (i + 1) + 1),
  })),
  nextRotation: at(21_600_000),
});

export const passwordFailures = (n: number, expiry: Date = at(3_600_000)): PasswordFailures => ({
  id: `failures-${n}`,
  failures: n,
  pending: 1,
  windowStart: at(-n),
  ...(n % 2 === 0 ? { lockedUntil: at(n * 1000) } : {}),
  expiry,
});

export const revokedToken = (n: number, expiry: Date = at(3_600_000)): RevokedToken => ({ id: `jti-${n}`, expiry });

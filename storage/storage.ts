/**
 * The storage contract: entities, errors and the async interface every backend implements.
 * Storage imports nothing from `src/` or `connectors/` (ARCHITECTURE.md, "Dependency rules").
 */
import type { JWK } from 'jose';

/** The identity facts idport keeps about a logged-in user (Dex's storage.Claims). */
export interface Claims {
  readonly userId: string;
  readonly username: string;
  readonly preferredUsername: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly groups: readonly string[];
}

/** How the authorization response is delivered to the client (OAuth 2.0 Multiple Response Types, Form Post). */
export type ResponseMode = 'query' | 'fragment' | 'form_post';
/** RFC 7636 code challenge method; '' when the client sent no challenge. */
export type CodeChallengeMethod = 'S256' | 'plain' | '';

/** A pending /auth request, from the client's redirect until the code (or token) is handed out. */
export interface AuthRequest {
  readonly id: string;
  readonly clientId: string;
  /** Sorted response types, e.g. ['code'] or ['code', 'id_token']. */
  readonly responseTypes: readonly string[];
  readonly scopes: readonly string[];
  readonly redirectUri: string;
  /** Whether the request named redirect_uri (it may be left out when the client has one); /token must then repeat it. */
  readonly redirectUriSent: boolean;
  readonly state: string;
  readonly nonce: string;
  readonly responseMode: ResponseMode;
  readonly codeChallenge: string;
  readonly codeChallengeMethod: CodeChallengeMethod;
  /** OIDC `prompt` values as sent (none, login, consent, select_account). */
  readonly prompt: readonly string[];
  /** OIDC `max_age` in seconds, when sent. */
  readonly maxAge?: number | undefined;
  /** Pre-fills the username field (OIDC `login_hint`). */
  readonly loginHint: string;
  /** True when the client asked to show the approval page even if consent was given (`approval_prompt=force`, `prompt=consent`). */
  readonly forceApproval: boolean;
  /** Connector chosen by the user or by `connector_id`; '' until chosen. */
  readonly connectorId: string;
  /** Random value bound to this request's HTML forms (CSRF token). */
  readonly csrfToken: string;
  /** SHA-256 of the browser cookie that started the request; the login steps must come from the same browser. */
  readonly browserHash: string;
  readonly loggedIn: boolean;
  readonly claims?: Claims | undefined;
  /** Opaque connector state (upstream tokens). Never sent to clients or shown to users. */
  readonly connectorData?: Uint8Array | undefined;
  /** Connector-specific state between loginUrl and the callback (e.g. PKCE verifier, nonce). */
  readonly connectorState?: Uint8Array | undefined;
  /** When the user last authenticated (OIDC `auth_time`). */
  readonly authTime?: Date | undefined;
  /** Browser session this request belongs to, once known. */
  readonly sessionId?: string | undefined;
  readonly expiry: Date;
}

/** An issued authorization code. `id` is the SHA-256 of the code, so a database dump does not hand out live codes. */
export interface AuthCode {
  readonly id: string;
  readonly clientId: string;
  readonly redirectUri: string;
  /** Whether the authorization request named redirect_uri; if so /token must repeat it (RFC 6749 §4.1.3). */
  readonly redirectUriSent?: boolean | undefined;
  readonly scopes: readonly string[];
  readonly nonce: string;
  readonly claims: Claims;
  readonly connectorId: string;
  readonly connectorData?: Uint8Array | undefined;
  readonly codeChallenge: string;
  readonly codeChallengeMethod: CodeChallengeMethod;
  readonly authTime: Date;
  readonly sessionId?: string | undefined;
  readonly expiry: Date;
  /** Set when the code is redeemed; the record is kept so a replay can revoke what it issued (RFC 6749 §4.1.2). */
  readonly redeemedAt?: Date | undefined;
  /** Refresh-token family issued for this code; a replay deletes it. */
  readonly refreshTokenId?: string | undefined;
  /**
   * Set when a replay revoked this grant. Access tokens carry the code's grant reference in `gid`, so every access
   * token issued for the code is refused from then on (no per-token record is needed).
   */
  readonly revokedAt?: Date | undefined;
}

/**
 * One refresh-token family (ARCHITECTURE.md decision 4). `id` is the SHA-256 of the wire token's handle (or the
 * handle itself for Dex's families); only hashes of secrets are stored. The next secret is derived from the presented
 * secret and `rotationNonce`, so a retry within the reuse interval gets the same new token without storing it.
 */
export interface RefreshToken {
  readonly id: string;
  readonly clientId: string;
  readonly connectorId: string;
  readonly claims: Claims;
  readonly connectorData?: Uint8Array | undefined;
  readonly scopes: readonly string[];
  readonly nonce: string;
  readonly authTime: Date;
  readonly sessionId?: string | undefined;
  /** SHA-256 (base64url) of the current secret. */
  readonly currentHash: string;
  /** SHA-256 of the secret the current one replaced; '' before the first rotation. */
  readonly previousHash: string;
  /** Random value used to derive the current secret from the previous one. */
  readonly rotationNonce: string;
  readonly createdAt: Date;
  readonly lastUsed: Date;
  /** When the current secret replaced the previous one. */
  readonly rotatedAt?: Date | undefined;
  /** Absolute end of the family (`expiry.refreshTokens.absoluteLifetime`), when set. */
  readonly expiry?: Date | undefined;
}

/** A refresh-token family as Dex's offline sessions list it (Dex's storage.RefreshTokenRef); see `OfflineSession`. */
export interface RefreshTokenRef {
  readonly id: string;
  readonly clientId: string;
  readonly createdAt: Date;
  readonly lastUsed: Date;
}

export interface OfflineSessionKey {
  readonly userId: string;
  readonly connectorId: string;
}

/** Per user and connector: the live refresh-token families and the connector's latest data (Dex's OfflineSessions). */
export interface OfflineSession extends OfflineSessionKey {
  /** Refresh-token families by family id. */
  readonly refresh: Readonly<Record<string, RefreshTokenRef>>;
  readonly connectorData?: Uint8Array | undefined;
}

/** An OAuth 2.0 client (Dex's storage.Client plus logout settings). */
export interface Client {
  readonly id: string;
  readonly secret: string;
  readonly redirectURIs: readonly string[];
  /** Clients allowed to mint tokens for this one (`audience:server:client_id:X`). */
  readonly trustedPeers: readonly string[];
  /** Public clients (CLIs, SPAs) have no secret, must use PKCE and may use loopback redirect URIs. */
  readonly public: boolean;
  readonly name: string;
  readonly logoURL: string;
  readonly postLogoutRedirectURIs?: readonly string[] | undefined;
  readonly backchannelLogoutURI?: string | undefined;
  /** `session`: refresh tokens end with the browser session that issued them (revoked at logout). */
  readonly refreshTokenLifetime?: 'session' | undefined;
  /** Clients a login for this one serves without a new login ("*": all, []: none); unset: the server default. */
  readonly ssoSharedWith?: readonly string[] | undefined;
  /** `clientCredentialsClaims.groups` (Dex master): the `groups` of tokens the client_credentials grant issues it. */
  readonly clientCredentialsGroups?: readonly string[] | undefined;
}

/** A user of the password database. `email` is the key and is compared case-insensitively. */
export interface Password {
  readonly email: string;
  /** bcrypt hash. */
  readonly hash: string;
  readonly username: string;
  readonly userId: string;
  readonly name?: string | undefined;
  readonly preferredUsername?: string | undefined;
  readonly emailVerified?: boolean | undefined;
  readonly groups?: readonly string[] | undefined;
}

/** The signing key set (ARCHITECTURE.md decision 5): one row, replaced by compare-and-swap. */
export interface Keys {
  /** Private JWK of the current signing key, with `kid` and `alg`. */
  readonly signingKey: JWK;
  readonly signingKeyPub: JWK;
  /** Retired public keys, published until `expiry` (when every token they signed has expired). */
  readonly verificationKeys: readonly { readonly publicKey: JWK; readonly expiry: Date }[];
  readonly nextRotation: Date;
}

/** A connector stored in the database (Dex's storage.Connector); static connectors overlay these. */
export interface ConnectorRecord {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly config: unknown;
}

/**
 * A browser login session (single sign-on). The cookie holds `<id>.<secret>` (sealed when the sessions'
 * cookieEncryptionKey is set); only the secret's hash is stored, so a database dump hands out no live session. `id` is public: it is the `sid` of ID and logout tokens.
 */
export interface Session {
  readonly id: string;
  /** SHA-256 (base64url) of the cookie's secret part. */
  readonly secretHash: string;
  readonly connectorId: string;
  readonly claims: Claims;
  readonly connectorData?: Uint8Array | undefined;
  /** When the user last authenticated with the connector (OIDC `auth_time`). */
  readonly authTime: Date;
  readonly createdAt: Date;
  readonly lastUsed: Date;
  /** Absolute end of the session; using it never moves this. */
  readonly expiry: Date;
  /** The user asked to be remembered: the cookie outlives the browser. */
  readonly rememberMe: boolean;
  /** Scopes the user approved, per client id, so the approval page is not shown again. */
  readonly consents: Readonly<Record<string, readonly string[]>>;
  /** Clients that received tokens in this session, for back-channel logout. */
  readonly clients: readonly string[];
  /**
   * Clients the user logged in to directly in this session (not through single sign-on); only their `ssoSharedWith`
   * lets the session serve another client, so sharing is one-way and not transitive. Absent on older sessions: none.
   */
  readonly directClients?: readonly string[] | undefined;
  /** Refresh-token families bound to this session (clients with `refreshTokenLifetime: session`), revoked at logout. */
  readonly refreshTokenIds: readonly string[];
}

/** RFC 8628 device authorization request, keyed by user code. */
export interface DeviceRequest {
  readonly userCode: string;
  readonly deviceCode: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly expiry: Date;
}

/** RFC 8628 device token state, keyed by device code. */
export interface DeviceToken {
  readonly deviceCode: string;
  readonly status: 'pending' | 'complete' | 'denied';
  /** Once complete, the approved login as JSON (src/oauth/device/authorization.ts `encodeApprovedGrant`); '' before. */
  readonly token: string;
  readonly expiry: Date;
  readonly lastRequestTime: Date;
  readonly pollIntervalSeconds: number;
  readonly codeChallenge: string;
  readonly codeChallengeMethod: CodeChallengeMethod;
}

/**
 * Failed password attempts against one account of one connector, or from one client IP (bruteForce): the count in
 * the current window, the attempts still being checked, and the lockout. Shared by replicas through storage.
 */
export interface PasswordFailures {
  /** SHA-256 (base64url) of what is counted, so an attacker's choice of username is stored in bounded space. */
  readonly id: string;
  readonly failures: number;
  /** Attempts admitted and not yet answered; they count against the budget until they are. */
  readonly pending: number;
  readonly windowStart: Date;
  /** While in the future, password attempts are refused. */
  readonly lockedUntil?: Date | undefined;
  /** When the record stops mattering (window and lockout over); garbage collection removes it after. */
  readonly expiry: Date;
}

/** An access token revoked before its expiry, by `jti`; kept until the token would have expired anyway. */
export interface RevokedToken {
  /** The token's `jti`. */
  readonly id: string;
  readonly expiry: Date;
}

/** Thrown by `create` when the key is taken. */
export class AlreadyExistsError extends Error {
  constructor(what: string, options?: { cause?: unknown }) {
    super(`${what} already exists`, options);
    this.name = 'AlreadyExistsError';
  }
}

/** Thrown by `update` when the key is absent. `get` returns undefined and `delete` false instead. */
export class NotFoundError extends Error {
  constructor(what: string, options?: { cause?: unknown }) {
    super(`${what} not found`, options);
    this.name = 'NotFoundError';
  }
}

/** Thrown when writing a record that comes from the config file (static clients, passwords, connectors). */
export class ReadOnlyError extends Error {
  constructor(what: string) {
    super(`${what} comes from the config file and cannot be changed`);
    this.name = 'ReadOnlyError';
  }
}

/** Thrown when the database cannot be reached or answered with an unexpected failure. */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

/** One entity collection. Keys are strings or key objects (offline sessions). */
export interface Table<K, T> {
  /** AlreadyExistsError on key clash. */
  create(value: T): Promise<void>;
  /** Absence is a value, not an error. */
  get(key: K): Promise<T | undefined>;
  /** Every row. Kept for the gRPC API's list calls, the local connector and connectors created through the API. */
  list(): Promise<T[]>;
  /**
   * Runs `update` on the stored value and stores its result as a compare-and-swap: nothing written in
   * between is lost. It may run more than once, so keep it pure; throwing from it aborts the update and
   * rethrows. NotFoundError if absent.
   * The result must keep the key unchanged.
   */
  update(key: K, update: (old: T) => T): Promise<T>;
  /** Whether this call deleted the row (false: it was absent), so a caller deleting a single-use value knows it won. */
  delete(key: K): Promise<boolean>;
}

/** Rows removed by one garbage-collection pass, per table. */
export interface GcResult {
  readonly authRequests: number;
  readonly authCodes: number;
  readonly refreshTokens: number;
  readonly deviceRequests: number;
  readonly deviceTokens: number;
  readonly sessions: number;
  readonly passwordFailures: number;
  readonly revokedTokens: number;
}

export interface Storage {
  readonly authRequests: Table<string, AuthRequest>;
  readonly authCodes: Table<string, AuthCode>;
  readonly refreshTokens: Table<string, RefreshToken>;
  /** Kept for Dex database reuse: Dex keeps a family's connector data here, and the refresh grant falls back to it. */
  readonly offlineSessions: Table<OfflineSessionKey, OfflineSession>;
  readonly clients: Table<string, Client>;
  /** Keyed by email, compared case-insensitively. */
  readonly passwords: Table<string, Password>;
  /** Kept for connectors created through the gRPC connector API (and Dex's), which live-connectors.ts opens. */
  readonly connectors: Table<string, ConnectorRecord>;
  readonly deviceRequests: Table<string, DeviceRequest>;
  readonly deviceTokens: Table<string, DeviceToken>;
  readonly sessions: Table<string, Session>;
  readonly passwordFailures: Table<string, PasswordFailures>;
  readonly revokedTokens: Table<string, RevokedToken>;
  /** The signing key set, or undefined before the first start created one. */
  getKeys(): Promise<Keys | undefined>;
  /** Compare-and-swap of the key set; `update` may run more than once and sees undefined when none exists. */
  updateKeys(update: (old: Keys | undefined) => Keys): Promise<Keys>;
  /** Deletes rows whose expiry is before `now`. */
  garbageCollect(now: Date): Promise<GcResult>;
  /** Resolves when the database answers; rejects with StorageUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

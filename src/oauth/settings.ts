/** The provider's protocol settings, derived once from the config so request handling reads plain values. */

/** Session policy (Dex master's `sessions`). */
export interface SessionSettings {
  /** Name of the session cookie. */
  readonly cookieName: string;
  /** A session ends this long after login, however much it is used. */
  readonly absoluteLifetimeMs: number;
  /** A session unused for this long ends. */
  readonly idleLifetimeMs: number;
  /** Whether "remember me" starts checked on the password page (and applies to callback logins). */
  readonly rememberMeDefault: boolean;
  /**
   * Whom a client's session serves without a new login when the client names no `ssoSharedWith` (Dex master's
   * `sessions.ssoSharedWithDefault`): `none` (Dex's default) or `all`.
   */
  readonly ssoSharedWithDefault: 'none' | 'all';
  /** `sessions.cookieEncryptionKey` (16, 24 or 32 bytes): the cookie is sealed with AES-GCM under it; unset: plain. */
  readonly cookieEncryptionKey?: Uint8Array | undefined;
}

/** Refresh-token policy (ARCHITECTURE.md decision 4; Dex's `expiry.refreshTokens`). */
export interface RefreshPolicy {
  /** Keep the same refresh token on every use instead of rotating it. */
  readonly disableRotation: boolean;
  /** A just-rotated token presented again within this many ms gets the same new token. */
  readonly reuseIntervalMs: number;
  /** A family unused for longer than this is dead; undefined: no limit. */
  readonly validIfNotUsedForMs?: number | undefined;
  /** A family older than this is dead; undefined: no limit. */
  readonly absoluteLifetimeMs?: number | undefined;
}

/** `bruteForce`: budgets of failed password attempts (src/oauth/brute-force.ts). */
export interface BruteForceSettings {
  /** 0: no account lockout. */
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly lockoutMs: number;
  readonly maxFailuresPerIP: number;
}

export interface ProviderSettings {
  /** The issuer exactly as configured (no trailing slash), the `iss` of every token. */
  readonly issuer: string;
  /** Path prefix of the issuer URL ('' or e.g. '/dex'); every route lives under it. */
  readonly basePath: string;
  /** Enabled response types, each normalised (sorted, space-joined), e.g. 'code', 'code id_token'. */
  readonly responseTypes: readonly string[];
  /**
   * What discovery lists in response_types_supported when set: `oauth2.responseTypes` exactly as configured, sorted,
   * as Dex lists them. Unset: `responseTypes`.
   */
  readonly advertisedResponseTypes?: readonly string[] | undefined;
  readonly grantTypes: readonly string[];
  /**
   * The connector the resource owner password grant logs users in with (`oauth2.passwordConnector`; `local` is the
   * password database). The grant is served only when this names a password connector and `password` is in grantTypes.
   */
  readonly passwordConnector?: string | undefined;
  /** Require PKCE for every client (`oauth2.pkce.enforce`); public clients always need it. */
  readonly pkceEnforce: boolean;
  readonly codeChallengeMethods: readonly ('S256' | 'plain')[];
  readonly skipApprovalScreen: boolean;
  readonly alwaysShowLoginScreen: boolean;
  readonly idTokenTtlMs: number;
  readonly accessTokenTtlMs: number;
  readonly authRequestTtlMs: number;
  /** Authorization codes live 10 minutes (ARCHITECTURE.md decision 3; RFC 6749 §4.1.2). */
  readonly authCodeTtlMs: number;
  /** Device authorization requests live this long (`expiry.deviceRequests`, RFC 8628 §3.2 `expires_in`). */
  readonly deviceRequestTtlMs: number;
  readonly refresh: RefreshPolicy;
  /** Failed-password budgets (`bruteForce`). */
  readonly bruteForce: BruteForceSettings;
  readonly sessions: SessionSettings;
}

/** Sorts the words of a response_type so `id_token code` and `code id_token` compare equal (OAuth 2.0 Multiple Response Types). */
export const normaliseResponseType = (value: string): string =>
  value
    .split(' ')
    .filter((word) => word !== '')
    .sort()
    .join(' ');

/**
 * The `oidc` connector: logs users in through an upstream OpenID provider (Google, Azure AD, Okta,
 * Keycloak, Auth0, another idport) with the authorization code flow, PKCE, state and nonce, all
 * checked by openid-client, and refreshes through the upstream's refresh token. Accepts Dex's config
 * unchanged (config.ts); claims become an identity with Dex's rules (claims.ts).
 *
 * The upstream is discovered in the background (retry.ts): open() never waits for it, and logins
 * through this connector fail with a clear message until the upstream has answered once. Token exchange
 * (RFC 8693) turns an upstream ID token, or with getUserInfo an access token, into a user (exchange.ts).
 */
import * as client from 'openid-client';
import type { Logger } from 'pino';
import { z } from 'zod';

import {
  type CallbackConnector,
  type Connector,
  type ConnectorDeps,
  ConnectorError,
  type ConnectorModule,
  type Identity,
  type Refreshable,
  type Scopes,
  type SubjectTokenType,
  type TokenExchanging,
} from '../connector.js';
import { claimRules, type ClaimRules, mapClaims } from './claims.js';
import { configSchema, type OidcConfig } from './config.js';
import { discover, type Upstream } from './discovery.js';
import { accessTokenClaims, verifyUpstreamIdToken } from './exchange.js';
import { loadRootCAs, upstreamFetch } from './http.js';
import { DEFAULT_RETRY, type RetryPolicy, RetryingLoader } from './retry.js';

export { configSchema, type OidcConfig } from './config.js';

/** Knobs that are not part of Dex's config: tests shorten the retry delays. */
export interface OidcOptions {
  readonly retry?: RetryPolicy;
  /** Timeout of each upstream HTTP request, in seconds (openid-client's default is 30). */
  readonly timeoutSeconds?: number;
}

/** User messages (safe to show; the error's message carries the details for the log). */
const USER = {
  denied: 'The identity provider denied the login.',
  upstreamError: 'The identity provider could not complete the login.',
  failed: 'Login failed.',
  sessionEnded: 'Your session at the identity provider has ended. Please log in again.',
} as const;

/** What a login keeps between loginUrl and handleCallback (stored server-side with the auth request). */
const loginStateSchema = z.strictObject({ state: z.string(), nonce: z.string(), codeVerifier: z.string().optional() });
type LoginState = z.infer<typeof loginStateSchema>;

/**
 * Refresh state in Dex's format (`{"RefreshToken": <base64>}`), so sessions moved from Dex keep
 * refreshing; `Subject` is ours (Dex ignores unknown fields) and pins refreshed claims to the same user.
 */
const connectorDataSchema = z.object({ RefreshToken: z.string(), Subject: z.string().optional() });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens the connector. Resolves at once: discovery runs (and is retried) in the background. */
export async function open(
  id: string,
  config: OidcConfig,
  deps: ConnectorDeps,
  options: OidcOptions = {},
): Promise<Connector> {
  const log = deps.log.child({ connector: id });
  const insecureHttp = new URL(config.issuer).protocol === 'http:';
  // openid-client refuses plain http unless told; Dex allows http issuers (local setups, tests), so we do too.
  if (insecureHttp) log.warn({ issuer: config.issuer }, 'upstream issuer uses plain http; use https in production');
  const overrides = config.providerDiscoveryOverrides;
  if (Object.values(overrides).some((v) => v !== '')) {
    log.warn('providerDiscoveryOverrides are set; this can be a vulnerability when not properly configured');
  }
  if (overrides.deviceAuthURL !== '' || overrides.endSessionURL !== '') {
    log.warn(
      'providerDiscoveryOverrides.deviceAuthURL and endSessionURL are accepted but unused: idport has no upstream device flow or logout yet',
    );
  }
  if (config.insecureSkipVerify) log.warn('insecureSkipVerify is set: the upstream TLS certificate is not verified');

  const tls =
    config.rootCAs.length > 0 || config.insecureSkipVerify
      ? { ca: await loadRootCAs(config.rootCAs), rejectUnauthorized: !config.insecureSkipVerify }
      : undefined;
  const scopes = requestedScopes(config.scopes);
  const rules = claimRules(config, scopes);
  const loader = new RetryingLoader<Upstream>({
    load: (closing) =>
      discover(config, {
        fetch: upstreamFetch(deps.fetch, tls, closing),
        insecureHttp,
        timeout: options.timeoutSeconds,
        log,
      }),
    policy: options.retry ?? DEFAULT_RETRY,
    log,
    now: deps.now,
  });
  loader.start();
  return new OidcConnector({ settings: config, scopes, rules, loader, log, now: deps.now });
}

/** The connector module for the registry. */
export const oidc = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

// Dex: `openid` plus the configured scopes, or `profile email` when none are configured.
function requestedScopes(configured: readonly string[]): string[] {
  const extra = configured.length > 0 ? configured : ['profile', 'email'];
  return ['openid', ...extra.filter((s) => s !== 'openid')];
}

interface OidcParts {
  readonly settings: OidcConfig;
  readonly scopes: readonly string[];
  readonly rules: ClaimRules;
  readonly loader: RetryingLoader<Upstream>;
  readonly log: Logger;
  readonly now: () => Date;
}

class OidcConnector implements CallbackConnector, Refreshable, TokenExchanging {
  readonly kind = 'callback';
  private readonly unreachable: string;

  private readonly settings: OidcConfig;
  private readonly scopes: readonly string[];
  private readonly rules: ClaimRules;
  private readonly loader: RetryingLoader<Upstream>;
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(parts: OidcParts) {
    this.settings = parts.settings;
    this.scopes = parts.scopes;
    this.rules = parts.rules;
    this.loader = parts.loader;
    this.log = parts.log;
    this.now = parts.now;
    this.unreachable = `The identity provider ${new URL(parts.settings.issuer).host} is not reachable. Please try again later.`;
  }

  async loginUrl(
    scopes: Scopes,
    callbackUrl: string,
    state: string,
  ): Promise<{ url: string; connectorState: Uint8Array }> {
    if (this.settings.clientID === '' || this.settings.redirectURI === '') {
      throw new ConnectorError(
        'this connector has no clientID or redirectURI in its config, so it serves token exchange only, not logins',
        USER.failed,
      );
    }
    if (callbackUrl !== this.settings.redirectURI) {
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.settings.redirectURI} in the connector config`,
        USER.failed,
      );
    }
    const upstream = await this.upstream();
    const login: LoginState = { state, nonce: client.randomNonce() };
    const params = new URLSearchParams({
      response_type: 'code',
      redirect_uri: this.settings.redirectURI,
      scope: this.scopes.join(' '),
      state,
      nonce: login.nonce,
    });
    if (upstream.pkce !== undefined) {
      login.codeVerifier = client.randomPKCECodeVerifier();
      const challenge =
        upstream.pkce === 'S256' ? await client.calculatePKCECodeChallenge(login.codeVerifier) : login.codeVerifier;
      params.set('code_challenge', challenge); // RFC 7636 §4.3
      params.set('code_challenge_method', upstream.pkce);
    }
    if (this.settings.acrValues.length > 0) params.set('acr_values', this.settings.acrValues.join(' '));
    if (scopes.offlineAccess) {
      params.set('access_type', 'offline'); // Google's way to ask for a refresh token, sent by Dex too
      const prompt = this.settings.promptType ?? 'consent'; // OIDC Core §11: offline_access needs prompt=consent
      if (prompt !== '') params.set('prompt', prompt);
    }
    const url = client.buildAuthorizationUrl(upstream.config, params);
    return { url: url.href, connectorState: encoder.encode(JSON.stringify(login)) };
  }

  async handleCallback(
    scopes: Scopes,
    connectorState: Uint8Array | undefined,
    query: URLSearchParams,
  ): Promise<Identity> {
    const login = parseLoginState(connectorState);
    const upstream = await this.upstream();
    const callback = new URL(this.settings.redirectURI);
    for (const [name, value] of query) callback.searchParams.append(name, value);
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(upstream.config, callback, {
        expectedState: login.state,
        expectedNonce: login.nonce,
        pkceCodeVerifier: login.codeVerifier,
        idTokenExpected: true,
      });
    } catch (err: unknown) {
      throw upstreamFailure('login', err);
    }
    const idClaims = tokens.claims();
    if (idClaims === undefined) throw new ConnectorError('upstream returned no ID token', USER.upstreamError);
    if (scopes.offlineAccess && tokens.refresh_token === undefined) {
      this.log.warn(
        'offline access was requested but the upstream returned no refresh token; add offline_access to the connector scopes',
      );
    }
    const claims = this.settings.getUserInfo
      ? await this.withUserInfo(upstream, tokens.access_token, idClaims)
      : idClaims;
    const user = mapClaims(claims, this.rules);
    return { ...user, connectorData: encodeConnectorData(tokens.refresh_token, idClaims.sub) };
  }

  async refresh(_scopes: Scopes, identity: Identity): Promise<Identity> {
    const data = parseConnectorData(identity.connectorData);
    const upstream = await this.upstream();
    let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
    try {
      tokens = await client.refreshTokenGrant(upstream.config, data.refreshToken);
    } catch (err: unknown) {
      throw upstreamFailure('refresh', err, USER.sessionEnded);
    }
    const refreshToken = tokens.refresh_token ?? data.refreshToken; // upstreams that do not rotate keep the old one
    const idClaims = tokens.claims();
    // OIDC Core §12.2: a refreshed ID token must be about the same user.
    if (idClaims !== undefined && data.subject !== undefined && idClaims.sub !== data.subject) {
      throw new ConnectorError(`refreshed ID token is for sub ${idClaims.sub}, not ${data.subject}`, USER.sessionEnded);
    }
    const subject = idClaims?.sub ?? data.subject;
    let claims: Readonly<Record<string, unknown>>;
    if (idClaims !== undefined) {
      claims = this.settings.getUserInfo ? await this.withUserInfo(upstream, tokens.access_token, idClaims) : idClaims;
    } else if (upstream.hasUserInfo && subject !== undefined) {
      // Many upstreams send no new ID token on refresh; userinfo re-reads the user instead.
      claims = await this.userInfo(upstream, tokens.access_token, subject);
    } else {
      // Nothing to re-read: the upstream accepting the refresh token is the check that the grant still stands.
      return { ...identity, connectorData: encodeConnectorData(refreshToken, subject) };
    }
    const user = mapClaims(claims, this.rules);
    return { ...user, connectorData: encodeConnectorData(refreshToken, subject) };
  }

  /** RFC 8693: the user an upstream ID token (or, with getUserInfo, access token) names, mapped as at login. */
  async tokenIdentity(tokenType: SubjectTokenType, token: string): Promise<Identity> {
    const upstream = await this.upstream();
    let claims: Readonly<Record<string, unknown>>;
    if (tokenType === 'id_token') {
      claims = await verifyUpstreamIdToken(upstream, token, this.now());
    } else {
      try {
        claims = await accessTokenClaims(upstream, token, this.settings.getUserInfo);
      } catch (err: unknown) {
        if (err instanceof ConnectorError) throw err;
        throw upstreamFailure('userinfo', err, USER.failed);
      }
    }
    return mapClaims(claims, this.rules);
  }

  async close(): Promise<void> {
    this.loader.close();
  }

  private async upstream(): Promise<Upstream> {
    const upstream = await this.loader.get();
    if (upstream === undefined)
      throw new ConnectorError(
        `upstream ${this.settings.issuer} has not been discovered yet (not reachable)`,
        this.unreachable,
        { temporary: true },
      );
    return upstream;
  }

  // Dex merges userinfo over the ID token claims; openid-client also checks it is about the same `sub` (OIDC Core §5.3.4).
  private async withUserInfo(
    upstream: Upstream,
    accessToken: string,
    idClaims: client.IDToken,
  ): Promise<Record<string, unknown>> {
    return { ...idClaims, ...(await this.userInfo(upstream, accessToken, idClaims.sub)) };
  }

  private async userInfo(upstream: Upstream, accessToken: string, subject: string): Promise<Record<string, unknown>> {
    try {
      return await client.fetchUserInfo(upstream.config, accessToken, subject);
    } catch (err: unknown) {
      throw upstreamFailure('userinfo', err);
    }
  }
}

function parseLoginState(bytes: Uint8Array | undefined): LoginState {
  if (bytes === undefined)
    throw new ConnectorError('no connector state for this login (was it started by this connector?)', USER.failed);
  try {
    return loginStateSchema.parse(JSON.parse(decoder.decode(bytes)));
  } catch (err: unknown) {
    throw new ConnectorError('connector state of this login is unreadable', USER.failed, { cause: err });
  }
}

function encodeConnectorData(refreshToken: string | undefined, subject: string | undefined): Uint8Array {
  const data: z.input<typeof connectorDataSchema> = {
    RefreshToken: Buffer.from(refreshToken ?? '').toString('base64'),
  };
  if (subject !== undefined) data.Subject = subject;
  return encoder.encode(JSON.stringify(data));
}

function parseConnectorData(bytes: Uint8Array | undefined): { refreshToken: string; subject: string | undefined } {
  let parsed: z.infer<typeof connectorDataSchema>;
  try {
    parsed = connectorDataSchema.parse(JSON.parse(decoder.decode(bytes ?? new Uint8Array())));
  } catch (err: unknown) {
    throw new ConnectorError('connector data of this session is unreadable', USER.sessionEnded, { cause: err });
  }
  const refreshToken = Buffer.from(parsed.RefreshToken, 'base64').toString('utf8');
  if (refreshToken === '')
    throw new ConnectorError(
      'the upstream issued no refresh token for this session (is offline_access in scopes?)',
      USER.sessionEnded,
    );
  return { refreshToken, subject: parsed.Subject };
}

/** Turns an openid-client error into a ConnectorError: the upstream's words in the message, a safe text for the user. */
function upstreamFailure(
  step: 'login' | 'refresh' | 'userinfo',
  err: unknown,
  userMessage: string = USER.failed,
): ConnectorError {
  if (err instanceof client.AuthorizationResponseError) {
    const detail = err.error_description === undefined ? err.error : `${err.error}: ${err.error_description}`;
    return new ConnectorError(
      `upstream returned error=${detail}`,
      err.error === 'access_denied' ? USER.denied : USER.upstreamError,
      { cause: err },
    );
  }
  if (err instanceof client.ResponseBodyError) {
    const detail = err.error_description === undefined ? err.error : `${err.error}: ${err.error_description}`;
    return new ConnectorError(`${step}: upstream answered HTTP ${err.status} ${detail}`, userMessage, {
      cause: err,
      temporary: err.status >= 500,
    });
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    // A 401 from the token or userinfo endpoint (e.g. a wrong client secret) carries its error in the header.
    const detail = err.cause
      .map((c) => [c.parameters.error, c.parameters.error_description].filter((p) => p !== undefined).join(': '))
      .join('; ');
    return new ConnectorError(`${step}: upstream answered HTTP ${err.status} ${detail}`, userMessage, { cause: err });
  }
  // Anything else is the network or the upstream failing, not a verdict about the user.
  return new ConnectorError(`${step}: ${describe(err)}`, userMessage, {
    cause: err,
    temporary: !(err instanceof client.ClientError),
  });
}

// The messages down the cause chain ("unexpected JWT claim value encountered: unexpected ID Token "nonce" claim value"),
// without the causes' data, which can hold claims.
function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  let lastCode: string | undefined;
  while (current instanceof Error && parts.length < 4) {
    const code = 'code' in current && typeof current.code === 'string' ? current.code : undefined;
    parts.push(code === undefined || code === lastCode ? current.message : `${current.message} [${code}]`);
    lastCode = code ?? lastCode;
    current = current.cause;
  }
  return parts.length > 0 ? parts.join(': ') : String(err);
}

/**
 * The generic `oauth` connector (Dex master's connector/oauth): logs users in with any OAuth 2.0
 * provider's authorization-code flow and reads them from its userinfo URL, mapping members to claims
 * with `userIDKey` and `claimMapping`. Like Dex it has no refresh, so idport issues no refresh tokens
 * for it. The user id is Go's `%v` of the member (numbers as float64), so `sub` matches Dex's.
 */
import type { Logger } from 'pino';

import {
  type CallbackConnector,
  type Connector,
  type ConnectorDeps,
  ConnectorError,
  type ConnectorModule,
  type Identity,
  type Scopes,
} from '../connector.js';
import { loadRootCAs, upstreamFetch } from '../oidc/http.js';
import { claimKeysOf, type ClaimKeys, configSchema, type OAuthConfig } from './config.js';
import { goFormatFloat } from './go-format.js';
import { authCodeUrl, exchangeCode, getJson, type OAuth2Client, UpstreamError, type UpstreamHttp } from './oauth2.js';

export { configSchema, type OAuthConfig } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface OAuthOptions {
  /** Timeout of each request to the provider, in seconds. */
  readonly timeoutSeconds?: number;
}

const USER = {
  failed: 'The identity provider could not complete the login.',
  unreachable: 'The identity provider is not reachable. Please try again later.',
} as const;

const DEFAULT_TIMEOUT_SECONDS = 30;
const encoder = new TextEncoder();

/** Opens the connector (no network: the provider is first contacted at a login). */
export async function open(
  id: string,
  config: OAuthConfig,
  deps: ConnectorDeps,
  options: OAuthOptions = {},
): Promise<Connector> {
  const log = deps.log.child({ connector: id });
  if (config.insecureSkipVerify) log.warn('insecureSkipVerify is set: the provider TLS certificate is not verified');
  if (config.insecureSkipEmailVerified !== undefined)
    log.warn('insecureSkipEmailVerified has no effect on the oauth connector (as in Dex); emailVerifiedKey decides');
  const tls =
    config.rootCAs.length > 0 || config.insecureSkipVerify
      ? { ca: await loadRootCAs(config.rootCAs), rejectUnauthorized: !config.insecureSkipVerify }
      : undefined;
  const closing = new AbortController();
  const http: UpstreamHttp = {
    fetch: upstreamFetch(deps.fetch, tls, closing.signal),
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    closing: closing.signal,
  };
  const client: OAuth2Client = {
    clientId: config.clientID,
    clientSecret: config.clientSecret,
    authorizationUrl: config.authorizationURL,
    tokenUrl: config.tokenURL,
    redirectUri: config.redirectURI,
    scopes: config.scopes,
  };
  return new OAuthConnector({
    client,
    userInfoUrl: config.userInfoURL,
    keys: claimKeysOf(config),
    http,
    closing,
    log,
    now: deps.now,
  });
}

/** The connector module for the registry. */
export const oauth = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

interface OAuthSettings {
  readonly client: OAuth2Client;
  readonly userInfoUrl: string;
  readonly keys: ClaimKeys;
  readonly http: UpstreamHttp;
  readonly closing: AbortController;
  readonly log: Logger;
  readonly now: () => Date;
}

class OAuthConnector implements CallbackConnector {
  readonly kind = 'callback';

  constructor(private readonly s: OAuthSettings) {}

  async loginUrl(_scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string }> {
    if (callbackUrl !== this.s.client.redirectUri) {
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.s.client.redirectUri} in the connector config`,
        USER.failed,
      );
    }
    return { url: authCodeUrl(this.s.client, state) };
  }

  async handleCallback(scopes: Scopes, _state: Uint8Array | undefined, query: URLSearchParams): Promise<Identity> {
    const error = query.get('error');
    if (error !== null) {
      const description = query.get('error_description') ?? '';
      throw new ConnectorError(`oauth: provider returned error=${error}: ${description}`, USER.failed);
    }
    const code = query.get('code') ?? '';
    if (code === '') throw new ConnectorError('oauth: callback without a code', USER.failed);
    try {
      const token = await exchangeCode(this.s.http, this.s.client, code, this.s.now());
      const userInfo = await getJson(this.s.http, this.s.userInfoUrl, token.accessToken);
      if (typeof userInfo !== 'object' || userInfo === null || Array.isArray(userInfo))
        throw new ConnectorError('oauth: userinfo is not a JSON object', USER.failed);
      const info = userInfo as Record<string, unknown>;
      const identity = identityOf(info, this.s.keys);
      const groups = scopes.groups ? groupsOf(info, token.accessToken, this.s.keys.groups) : [];
      // Dex keeps the access token for offline access although it never refreshes with it (same format).
      const connectorData = scopes.offlineAccess
        ? encoder.encode(JSON.stringify({ AccessToken: token.accessToken }))
        : undefined;
      return { ...identity, groups, connectorData };
    } catch (err: unknown) {
      throw failure(err);
    }
  }

  async close(): Promise<void> {
    this.s.closing.abort(new Error('connector closed'));
  }
}

/** The claims as Dex maps them: the id by `%v`, the rest only when of the expected JSON type. */
function identityOf(info: Record<string, unknown>, keys: ClaimKeys): Omit<Identity, 'groups'> {
  if (!Object.hasOwn(info, keys.userId)) throw new ConnectorError(`oauth: not found ${keys.userId} claim`, USER.failed);
  const raw = info[keys.userId];
  const userId = typeof raw === 'number' ? goFormatFloat(raw) : typeof raw === 'string' ? raw : undefined;
  if (userId === undefined)
    throw new ConnectorError(
      `oauth: ${keys.userId} claim should be string or number, got ${raw === null ? 'null' : typeof raw}`,
      USER.failed,
    );
  // Dex would issue a subject without a user id; such a subject cannot name anyone, so refuse.
  if (userId === '') throw new ConnectorError(`oauth: ${keys.userId} claim is empty`, USER.failed);
  const str = (key: string): string => (typeof info[key] === 'string' ? info[key] : '');
  return {
    userId,
    username: str(keys.userName),
    preferredUsername: str(keys.preferredUsername),
    email: str(keys.email),
    emailVerified: info[keys.emailVerified] === true,
  };
}

/**
 * Dex's groups: the userinfo member, then the same member of the access token's payload when the
 * token is a JWT (read, not verified, as Dex does: it came straight from the token endpoint). Each
 * entry is a name or an object with a `name`; duplicates are dropped.
 */
function groupsOf(info: Record<string, unknown>, accessToken: string, key: string): string[] {
  const groups = new Set<string>();
  const add = (claims: unknown): void => {
    if (typeof claims !== 'object' || claims === null) return;
    const list = (claims as Record<string, unknown>)[key];
    if (!Array.isArray(list)) return;
    for (const entry of list as unknown[]) {
      if (typeof entry === 'string') groups.add(entry);
      else if (typeof entry === 'object' && entry !== null && 'name' in entry && typeof entry.name === 'string')
        groups.add(entry.name);
    }
  };
  add(info);
  add(jwtPayload(accessToken));
  return [...groups];
}

function jwtPayload(token: string): unknown {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined; // an opaque token: no groups in it
  }
}

function failure(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof UpstreamError)
    return new ConnectorError(`oauth: ${err.message}`, err.temporary ? USER.unreachable : USER.failed, {
      cause: err,
      temporary: err.temporary,
    });
  return new ConnectorError(`oauth: ${err instanceof Error ? err.message : String(err)}`, USER.failed, { cause: err });
}

/**
 * The `google` connector: logs users in through Google's OpenID provider and, with a service account,
 * reads their Workspace groups from the Admin SDK (directory.ts), as Dex's connector/google does: the ID
 * token's `sub` is the user id, `hd` is checked against hostedDomains, and refresh uses Google's refresh
 * token, re-reading the groups. Google is discovered in the background, never blocking startup.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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
} from '../connector.js';
import { upstreamFetch } from '../oidc/http.js';
import { DEFAULT_RETRY, type RetryPolicy, RetryingLoader } from '../oidc/retry.js';
import { ApiClient, type HttpSettings } from '../webflow/client.js';
import { filterGroups, upstreamFailure } from '../webflow/token-data.js';
import { configSchema, type GoogleConfig } from './config.js';
import { type AdminTokenSource, Directory, KeyFileTokens, loadServiceAccount } from './directory.js';
import { DEFAULT_METADATA_HOST, MetadataServerTokens } from './metadata.js';

export { configSchema, type GoogleConfig } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface GoogleOptions {
  readonly retry?: RetryPolicy;
  readonly timeoutSeconds?: number;
  /** Where application default credentials are looked up (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const USER = {
  denied: 'Google did not authorize the login.',
  failed: 'Google could not complete the login.',
  unreachable: 'Google is not reachable. Please try again later.',
  wrongDomain: 'Your Google account is not in a domain allowed to log in here.',
  notAllowed: 'Your Google account is not in a group allowed to log in here.',
  sessionEnded: 'Your Google authorization has ended. Please log in again.',
} as const;

const DEFAULT_TIMEOUT_SECONDS = 30;
const loginStateSchema = z.strictObject({ state: z.string(), nonce: z.string(), codeVerifier: z.string() });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens the connector: reads the service account file (a local file), discovers Google in the background. */
export async function open(
  id: string,
  config: GoogleConfig,
  deps: ConnectorDeps,
  options: GoogleOptions = {},
): Promise<Connector> {
  const log = deps.log.child({ connector: id });
  const admins = new Map(Object.entries(config.domainToAdminEmail));
  if (config.adminEmail !== '') {
    log.warn('use "domainToAdminEmail.*" option instead of "adminEmail" (deprecated)');
    admins.set('*', config.adminEmail);
  }
  const closing = new AbortController();
  const fetchFn = upstreamFetch(deps.fetch, undefined, closing.signal);
  const timeoutMs = (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  let directory: Directory | undefined;
  if (admins.size > 0) {
    const http = { fetch: fetchFn, timeoutMs, closing: closing.signal };
    directory = new Directory(new ApiClient(http), {
      credentials: await adminCredentials(config, http, { env: options.env ?? process.env, log }),
      adminByDomain: admins,
      adminAPIURL: config.adminAPIURL,
      now: deps.now,
    });
  }
  const insecure = new URL(config.issuer).protocol === 'http:';
  if (insecure) log.warn({ issuer: config.issuer }, 'Google issuer uses plain http; use this for tests only');
  const loader = new RetryingLoader<client.Configuration>({
    load: async (signal) => {
      const discovered = await client.discovery(
        new URL(config.issuer),
        config.clientID,
        config.clientSecret,
        undefined,
        {
          [client.customFetch]: (url, init) =>
            fetchFn(url, { ...init, signal: AbortSignal.any([init.signal ?? signal, signal]) }),
          execute: insecure ? [client.allowInsecureRequests] : [],
          timeout: timeoutMs / 1000,
        },
      );
      // openid-client trusts a token-endpoint ID token on TLS alone; its signature is checked as Dex's verifier does.
      client.enableNonRepudiationChecks(discovered);
      log.info({ issuer: config.issuer }, 'Google discovered');
      return discovered;
    },
    policy: options.retry ?? DEFAULT_RETRY,
    log,
    now: deps.now,
  });
  loader.start();
  return new GoogleConnector(config, { loader, directory, closing, log });
}

/**
 * The Directory API's credentials as Dex finds them: serviceAccountFilePath, else Go's application default
 * credentials in their order — the file $GOOGLE_APPLICATION_CREDENTIALS names, gcloud's well-known file, then the
 * metadata server of Google Cloud (GKE workload identity, GCE), whose account is impersonated for each admin.
 */
async function adminCredentials(
  config: GoogleConfig,
  http: HttpSettings,
  where: { readonly env: Readonly<Record<string, string | undefined>>; readonly log: Logger },
): Promise<AdminTokenSource> {
  const { env, log } = where;
  if (config.serviceAccountFilePath !== '')
    return new KeyFileTokens(new ApiClient(http), await loadServiceAccount(config.serviceAccountFilePath));
  log.warn('the application default credential is used since the service account file path is not used');
  const configDir = env['CLOUDSDK_CONFIG'] ?? join(env['HOME'] ?? '', '.config', 'gcloud');
  const wellKnown = join(configDir, 'application_default_credentials.json');
  const fromEnv = env['GOOGLE_APPLICATION_CREDENTIALS'] ?? '';
  const [file, source] =
    fromEnv !== ''
      ? [fromEnv, '$GOOGLE_APPLICATION_CREDENTIALS']
      : [wellKnown, "gcloud's application default credentials"];
  if (fromEnv !== '' || existsSync(wellKnown))
    return new KeyFileTokens(new ApiClient(http), await loadServiceAccount(file, source));
  const metadataHost = env['GCE_METADATA_HOST'] || DEFAULT_METADATA_HOST;
  log.info({ metadataHost }, 'Directory API credentials from the metadata server (GKE workload identity, GCE)');
  return new MetadataServerTokens(http, {
    metadataHost,
    iamCredentialsURL: config.iamCredentialsURL,
    delegationTokenURL: config.delegationTokenURL,
  });
}

/** The connector module for the registry. */
export const google = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

interface Parts {
  readonly loader: RetryingLoader<client.Configuration>;
  readonly directory: Directory | undefined;
  readonly closing: AbortController;
  readonly log: Logger;
}

class GoogleConnector implements CallbackConnector, Refreshable {
  readonly kind = 'callback';
  private readonly scopes: string[];

  constructor(
    private readonly settings: GoogleConfig,
    private readonly parts: Parts,
  ) {
    const extra = settings.scopes.length > 0 ? settings.scopes : ['profile', 'email'];
    this.scopes = ['openid', ...extra.filter((s) => s !== 'openid')];
  }

  async loginUrl(
    scopes: Scopes,
    callbackUrl: string,
    state: string,
  ): Promise<{ url: string; connectorState: Uint8Array }> {
    if (callbackUrl !== this.settings.redirectURI)
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.settings.redirectURI} in the connector config`,
        USER.failed,
      );
    const upstream = await this.upstream();
    const login = { state, nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() };
    const params = new URLSearchParams({
      redirect_uri: this.settings.redirectURI,
      response_type: 'code',
      scope: this.scopes.join(' '),
      state,
      nonce: login.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(login.codeVerifier),
      code_challenge_method: 'S256',
    });
    const domains = this.settings.hostedDomains;
    if (domains.length > 0) params.set('hd', domains.length > 1 ? '*' : (domains[0] ?? ''));
    if (scopes.offlineAccess) {
      params.set('access_type', 'offline');
      const prompt = this.settings.promptType ?? 'consent';
      if (prompt !== '') params.set('prompt', prompt);
    }
    const url = client.buildAuthorizationUrl(upstream, params);
    return { url: url.href, connectorState: encoder.encode(JSON.stringify(login)) };
  }

  async handleCallback(scopes: Scopes, state: Uint8Array | undefined, query: URLSearchParams): Promise<Identity> {
    const login = parseLoginState(state);
    const upstream = await this.upstream();
    const callback = new URL(this.settings.redirectURI);
    for (const [name, value] of query) callback.searchParams.append(name, value);
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(upstream, callback, {
        expectedState: login.state,
        expectedNonce: login.nonce,
        pkceCodeVerifier: login.codeVerifier,
        idTokenExpected: true,
      });
    } catch (err: unknown) {
      throw oidcFailure('login', err, USER.failed);
    }
    return this.identity(scopes, tokens, undefined);
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    // Dex's connector data is the refresh token itself.
    const refreshToken = decoder.decode(identity.connectorData ?? new Uint8Array());
    if (refreshToken === '')
      throw new ConnectorError(
        'google: no refresh token for this session (the login had no offline access)',
        USER.sessionEnded,
      );
    const upstream = await this.upstream();
    let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
    try {
      tokens = await client.refreshTokenGrant(upstream, refreshToken);
    } catch (err: unknown) {
      throw oidcFailure('refresh', err, USER.sessionEnded);
    }
    const fresh = await this.identity(scopes, tokens, identity);
    if (fresh.userId !== identity.userId)
      throw new ConnectorError(
        `google: refreshed ID token is for ${fresh.userId}, not ${identity.userId}`,
        USER.sessionEnded,
      );
    // Google keeps the refresh token when it sends none.
    return { ...fresh, connectorData: encoder.encode(tokens.refresh_token ?? refreshToken) };
  }

  async close(): Promise<void> {
    this.parts.loader.close();
    this.parts.closing.abort(new Error('connector closed'));
  }

  private async upstream(): Promise<client.Configuration> {
    const upstream = await this.parts.loader.get();
    if (upstream === undefined)
      throw new ConnectorError(
        `google: ${this.settings.issuer} has not been discovered yet (not reachable)`,
        USER.unreachable,
        {
          temporary: true,
        },
      );
    return upstream;
  }

  private async identity(
    scopes: Scopes,
    tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
    previous: Identity | undefined,
  ): Promise<Identity> {
    const claims = tokens.claims();
    if (claims === undefined)
      throw new ConnectorError(
        'google: no id_token in token response',
        previous === undefined ? USER.failed : USER.sessionEnded,
      );
    const text = (name: string): string => (typeof claims[name] === 'string' ? claims[name] : '');
    // Google may leave `name` out of a refreshed ID token; Dex then keeps the previous one.
    const username = text('name') || (previous?.username ?? '');
    const email = text('email');
    const domains = this.settings.hostedDomains;
    if (domains.length > 0 && !domains.includes(text('hd')))
      throw new ConnectorError(`google: unexpected hd claim ${JSON.stringify(text('hd'))}`, USER.wrongDomain);
    let groups: string[] = [];
    // idport also checks `groups` when the client did not ask for the groups scope (Dex does not).
    if (this.parts.directory !== undefined && (scopes.groups || this.settings.groups.length > 0)) {
      try {
        groups = await this.parts.directory.groupsOf(email, this.settings.fetchTransitiveGroupMembership);
      } catch (err: unknown) {
        throw upstreamFailure('google', 'could not retrieve groups', err, {
          unreachable: USER.unreachable,
          userMessage: previous === undefined ? USER.failed : USER.sessionEnded,
        });
      }
      if (this.settings.groups.length > 0) {
        groups = filterGroups(groups, this.settings.groups);
        if (groups.length === 0)
          throw new ConnectorError(
            `google: user ${JSON.stringify(username)} is not in any of the required groups`,
            USER.notAllowed,
          );
      }
    }
    return {
      userId: claims.sub,
      username,
      email,
      emailVerified: claims.email_verified === true,
      groups,
      connectorData: encoder.encode(tokens.refresh_token ?? ''),
    };
  }
}

function parseLoginState(bytes: Uint8Array | undefined): z.infer<typeof loginStateSchema> {
  if (bytes === undefined)
    throw new ConnectorError('no connector state for this login (was it started by this connector?)', USER.failed);
  try {
    return loginStateSchema.parse(JSON.parse(decoder.decode(bytes)));
  } catch (err: unknown) {
    throw new ConnectorError('connector state of this login is unreadable', USER.failed, { cause: err });
  }
}

/** An openid-client error as a ConnectorError: Google's words in the message, a safe text for the user. */
function oidcFailure(step: 'login' | 'refresh', err: unknown, userMessage: string): ConnectorError {
  if (err instanceof client.AuthorizationResponseError) {
    const detail = err.error_description === undefined ? err.error : `${err.error}: ${err.error_description}`;
    return new ConnectorError(
      `google returned error=${detail}`,
      err.error === 'access_denied' ? USER.denied : USER.failed,
      {
        cause: err,
      },
    );
  }
  if (err instanceof client.ResponseBodyError) {
    const detail = err.error_description === undefined ? err.error : `${err.error}: ${err.error_description}`;
    const temporary = err.status >= 500;
    return new ConnectorError(
      `google: ${step}: HTTP ${err.status} ${detail}`,
      temporary ? USER.unreachable : userMessage,
      {
        cause: err,
        temporary,
      },
    );
  }
  const temporary = !(err instanceof client.ClientError) && !(err instanceof client.WWWAuthenticateChallengeError);
  // The messages down the cause chain ("invalid response encountered: unexpected "state" response parameter value").
  const parts: string[] = [];
  for (let current: unknown = err; current instanceof Error && parts.length < 4; current = current.cause)
    parts.push(current.message);
  const message = parts.length > 0 ? parts.join(': ') : String(err);
  return new ConnectorError(`google: ${step}: ${message}`, temporary ? USER.unreachable : userMessage, {
    cause: err,
    temporary,
  });
}

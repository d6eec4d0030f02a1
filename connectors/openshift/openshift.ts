/**
 * The `openshift` connector (Dex's connector/openshift): logs users in with an OpenShift cluster's
 * OAuth server and reads them from the cluster's API (`users/~`), as Dex does: the user id is the
 * User object's `metadata.uid`, the name is the username, preferred username and email, and the
 * User's groups are all reported (`groups` in the config only gates the login). The OAuth server is
 * discovered at `<issuer>/.well-known/oauth-authorization-server` in the background, so idport starts
 * while the cluster is unreachable. Refresh re-reads the user with the stored token (Dex's format).
 */
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
import {
  authCodeUrl,
  exchangeCode,
  getJson,
  type OAuth2Client,
  type OAuth2Token,
  readJson,
  refreshGrant,
  send,
  UpstreamError,
  type UpstreamHttp,
} from '../oauth/oauth2.js';
import { loadRootCAs, upstreamFetch } from '../oidc/http.js';
import { DEFAULT_RETRY, type RetryPolicy, RetryingLoader } from '../oidc/retry.js';
import { configSchema, type OpenshiftConfig } from './config.js';
import { decodeGoToken, encodeGoToken } from './token.js';

export { configSchema, type OpenshiftConfig } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface OpenshiftOptions {
  readonly timeoutSeconds?: number;
  /** Tests shorten the discovery retry delays. */
  readonly retry?: RetryPolicy;
}

const USER = {
  denied: 'OpenShift did not authorize the login.',
  failed: 'OpenShift could not complete the login.',
  unreachable: 'OpenShift is not reachable. Please try again later.',
  notAllowed: 'Your OpenShift account is not in a group allowed to log in here.',
  sessionEnded: 'Your OpenShift login has ended. Please log in again.',
} as const;

const DEFAULT_TIMEOUT_SECONDS = 30;
const WELL_KNOWN_PATH = '/.well-known/oauth-authorization-server';
const USER_PATH = '/apis/user.openshift.io/v1/users/~';
// Renew an expiring token this long before it expires, as Go's oauth2 package (Dex) does.
const EXPIRY_MARGIN_MS = 10_000;

const metadataSchema = z.looseObject({ authorization_endpoint: z.url(), token_endpoint: z.url() });

/** `GET users/~`: a user.openshift.io/v1 User. */
const userSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string().min(1), uid: z.string().min(1) }),
  fullName: z.string().optional(),
  groups: z.array(z.string()).nullable().optional(),
});

/** Opens the connector. Resolves at once: the OAuth server is discovered (and retried) in the background. */
export async function open(
  id: string,
  config: OpenshiftConfig,
  deps: ConnectorDeps,
  options: OpenshiftOptions = {},
): Promise<Connector> {
  const log = deps.log.child({ connector: id });
  if (config.insecureCA) log.warn('insecureCA is set: the cluster TLS certificate is not verified');
  const tls =
    config.rootCA !== '' || config.insecureCA
      ? { ca: await loadRootCAs([config.rootCA]), rejectUnauthorized: !config.insecureCA }
      : undefined;
  const closing = new AbortController();
  const http: UpstreamHttp = {
    fetch: upstreamFetch(deps.fetch, tls, closing.signal),
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    closing: closing.signal,
  };
  const apiUrl = config.issuer.replace(/\/+$/, '');
  const loader = new RetryingLoader<OAuth2Client>({
    load: async () => {
      const what = `GET ${WELL_KNOWN_PATH}`;
      const response = await send(http, `${apiUrl}${WELL_KNOWN_PATH}`, { method: 'GET', headers: {} });
      const metadata = metadataSchema.parse(await readJson(what, response));
      log.info({ authorizationEndpoint: metadata.authorization_endpoint }, 'OpenShift OAuth server discovered');
      return {
        clientId: config.clientID,
        clientSecret: config.clientSecret,
        authorizationUrl: metadata.authorization_endpoint,
        tokenUrl: metadata.token_endpoint,
        redirectUri: config.redirectURI,
        scopes: ['user:info'],
      };
    },
    policy: options.retry ?? DEFAULT_RETRY,
    log,
    now: deps.now,
  });
  loader.start();
  return new OpenshiftConnector({ config, apiUrl, http, loader, closing, log, now: deps.now });
}

/** The connector module for the registry. */
export const openshift = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

interface OpenshiftParts {
  readonly config: OpenshiftConfig;
  readonly apiUrl: string;
  readonly http: UpstreamHttp;
  readonly loader: RetryingLoader<OAuth2Client>;
  readonly closing: AbortController;
  readonly log: Logger;
  readonly now: () => Date;
}

class OpenshiftConnector implements CallbackConnector, Refreshable {
  readonly kind = 'callback';

  constructor(private readonly p: OpenshiftParts) {}

  async loginUrl(_scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string }> {
    if (callbackUrl !== this.p.config.redirectURI) {
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.p.config.redirectURI} in the connector config`,
        USER.failed,
      );
    }
    return { url: authCodeUrl(await this.client(), state) };
  }

  async handleCallback(scopes: Scopes, _state: Uint8Array | undefined, query: URLSearchParams): Promise<Identity> {
    const error = query.get('error');
    if (error !== null) {
      const description = query.get('error_description');
      throw new ConnectorError(
        `openshift returned error=${error}${description === null ? '' : `: ${description}`}`,
        error === 'access_denied' ? USER.denied : USER.failed,
      );
    }
    const code = query.get('code') ?? '';
    if (code === '') throw new ConnectorError('openshift callback without a code', USER.failed);
    let token: OAuth2Token;
    try {
      token = await exchangeCode(this.p.http, await this.client(), code, this.p.now());
    } catch (err: unknown) {
      throw failure('token exchange', err, USER.failed);
    }
    return this.identity(scopes, token, USER.failed);
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    let token = decodeGoToken(identity.connectorData);
    if (token === undefined)
      throw new ConnectorError('openshift: no upstream token (the login had no offline access)', USER.sessionEnded);
    if (token.expiry !== undefined && token.expiry.getTime() - EXPIRY_MARGIN_MS <= this.p.now().getTime()) {
      // Go's oauth2 client renews with the refresh token when there is one, and fails as here when there is not.
      if (token.refreshToken === undefined)
        throw new ConnectorError('openshift: token expired and refresh token is not set', USER.sessionEnded);
      try {
        const renewed = await refreshGrant(this.p.http, await this.client(), token.refreshToken, this.p.now());
        token = { ...renewed, refreshToken: renewed.refreshToken ?? token.refreshToken };
      } catch (err: unknown) {
        throw failure('token refresh', err, USER.sessionEnded);
      }
    }
    // The user id stays as issued (Dex does the same); the rest is read afresh.
    const fresh = await this.identity(scopes, token, USER.sessionEnded);
    return { ...fresh, userId: identity.userId };
  }

  async close(): Promise<void> {
    this.p.loader.close();
    this.p.closing.abort(new Error('connector closed'));
  }

  private async client(): Promise<OAuth2Client> {
    const client = await this.p.loader.get();
    if (client === undefined)
      throw new ConnectorError(
        `openshift: ${this.p.apiUrl} has not been discovered yet (not reachable)`,
        USER.unreachable,
        {
          temporary: true,
        },
      );
    return client;
  }

  private async identity(scopes: Scopes, token: OAuth2Token, userMessage: string): Promise<Identity> {
    let user: z.infer<typeof userSchema>;
    try {
      const parsed = userSchema.safeParse(
        await getJson(this.p.http, `${this.p.apiUrl}${USER_PATH}`, token.accessToken),
      );
      if (!parsed.success)
        throw new UpstreamError(`GET ${USER_PATH}: unexpected response: ${parsed.error.message}`, 200, false);
      user = parsed.data;
    } catch (err: unknown) {
      throw failure('get user', err, userMessage);
    }
    const groups = user.groups ?? [];
    const required = this.p.config.groups ?? [];
    if (required.length > 0 && !groups.some((group) => required.includes(group)))
      throw new ConnectorError(
        `openshift: user "${user.metadata.name}" is not in any of the required groups`,
        USER.notAllowed,
      );
    return {
      userId: user.metadata.uid,
      username: user.metadata.name,
      preferredUsername: user.metadata.name,
      // Dex reports the username as the email, unverified.
      email: user.metadata.name,
      emailVerified: false,
      groups,
      connectorData: scopes.offlineAccess ? encodeGoToken(token) : undefined,
    };
  }
}

function failure(step: string, err: unknown, userMessage: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof UpstreamError)
    return new ConnectorError(`openshift: ${step}: ${err.message}`, err.temporary ? USER.unreachable : userMessage, {
      cause: err,
      temporary: err.temporary,
    });
  return new ConnectorError(`openshift: ${step}: ${err instanceof Error ? err.message : String(err)}`, userMessage, {
    cause: err,
  });
}

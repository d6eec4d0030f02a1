/**
 * The `gitlab` connector: logs users in with GitLab's OAuth 2.0 code flow (gitlab.com or a self-managed
 * instance), reads the user from /api/v4/user and, when needed, their groups (groups.ts), as Dex's
 * connector/gitlab does: the numeric id (or with useLoginAsID the username) is the user id, `groups`
 * gates the login, and refresh renews the token with GitLab's refresh token and re-reads everything.
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
import { loadRootCAs, upstreamFetch } from '../oidc/http.js';
import { type OAuthToken, WebFlowClient } from '../webflow/client.js';
import {
  callbackCode,
  callbackError,
  decodeTokenData,
  encodeTokenData,
  filterGroups,
  type StoredToken,
  upstreamFailure,
} from '../webflow/token-data.js';
import { configSchema, type GitlabConfig } from './config.js';
import { groupClaims } from './groups.js';

export { configSchema, type GitlabConfig } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface GitlabOptions {
  readonly timeoutSeconds?: number;
}

const USER = {
  denied: 'GitLab did not authorize the login.',
  failed: 'GitLab could not complete the login.',
  unreachable: 'GitLab is not reachable. Please try again later.',
  notAllowed: 'Your GitLab account is not in a group allowed to log in here.',
  sessionEnded: 'Your GitLab authorization has ended. Please log in again.',
} as const;

const SCOPE_USER = 'read_user';
const SCOPE_OPENID = 'openid';
const SCOPE_READ_API = 'read_api';
const DEFAULT_TIMEOUT_SECONDS = 30;

const userSchema = z.object({
  id: z.number().int(),
  username: z.string(),
  name: z.string().nullable().optional(),
  email: z.string().nullable().optional(),
});

/** Opens the connector (no network: GitLab is first contacted at a login). */
export async function open(
  id: string,
  config: GitlabConfig,
  deps: ConnectorDeps,
  options: GitlabOptions = {},
): Promise<Connector> {
  const log = deps.log.child({ connector: id });
  const baseURL = config.baseURL.replace(/\/+$/, '');
  const tls =
    config.rootCAData === ''
      ? undefined
      : { ca: await loadRootCAs([Buffer.from(config.rootCAData, 'base64').toString()]), rejectUnauthorized: true };
  const closing = new AbortController();
  const client = new WebFlowClient({
    authorizeUrl: `${baseURL}/oauth/authorize`,
    tokenUrl: `${baseURL}/oauth/token`,
    client: { style: 'basic', id: config.clientID, secret: config.clientSecret },
    fetch: upstreamFetch(deps.fetch, tls, closing.signal),
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    closing: closing.signal,
  });
  return new GitlabConnector(config, { baseURL, client, closing, log, now: deps.now });
}

/** The connector module for the registry. */
export const gitlab = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

interface Parts {
  readonly baseURL: string;
  readonly client: WebFlowClient;
  readonly closing: AbortController;
  readonly log: Logger;
  readonly now: () => Date;
}

class GitlabConnector implements CallbackConnector, Refreshable {
  readonly kind = 'callback';

  constructor(
    private readonly settings: GitlabConfig,
    private readonly parts: Parts,
  ) {}

  async loginUrl(scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string }> {
    if (callbackUrl !== this.settings.redirectURI)
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.settings.redirectURI} in the connector config`,
        USER.failed,
      );
    const gitlabScopes = [SCOPE_USER];
    if (this.groupsRequired(scopes)) {
      gitlabScopes.push(SCOPE_OPENID);
      if (this.settings.inheritedGroups) gitlabScopes.push(SCOPE_READ_API);
    }
    const url = this.parts.client.authorizationUrl({
      redirect_uri: this.settings.redirectURI,
      scope: gitlabScopes.join(' '),
      state,
    });
    return { url };
  }

  async handleCallback(scopes: Scopes, _state: Uint8Array | undefined, query: URLSearchParams): Promise<Identity> {
    callbackError('gitlab', query, USER);
    const code = callbackCode('gitlab', query, USER.failed);
    let token: OAuthToken;
    try {
      token = await this.parts.client.token({ code, redirectUri: this.settings.redirectURI }, this.parts.now());
    } catch (err: unknown) {
      throw upstreamFailure('gitlab', 'token exchange', err, { ...USER, userMessage: USER.failed });
    }
    return this.identity(scopes, token, USER.failed);
  }

  // Dex renews with the refresh token at every refresh (GitLab's tokens last two hours), else uses the access token.
  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    let token: StoredToken = decodeTokenData(identity.connectorData, USER.sessionEnded);
    if (token.refreshToken !== undefined) {
      try {
        const renewed = await this.parts.client.token({ refreshToken: token.refreshToken }, this.parts.now());
        token = { ...renewed, refreshToken: renewed.refreshToken ?? token.refreshToken };
      } catch (err: unknown) {
        throw upstreamFailure('gitlab', 'token refresh', err, { ...USER, userMessage: USER.sessionEnded });
      }
    }
    const fresh = await this.identity(scopes, token, USER.sessionEnded);
    if (fresh.userId !== identity.userId)
      throw new ConnectorError(
        `gitlab: refreshed token is for ${fresh.userId}, not ${identity.userId}`,
        USER.sessionEnded,
      );
    return { ...fresh, connectorData: encodeTokenData(token, false) };
  }

  async close(): Promise<void> {
    this.parts.closing.abort(new Error('connector closed'));
  }

  private groupsRequired(scopes: Scopes): boolean {
    return this.settings.groups.length > 0 || scopes.groups;
  }

  private async identity(scopes: Scopes, token: StoredToken, userMessage: string): Promise<Identity> {
    const { client } = this.parts;
    let user: z.infer<typeof userSchema>;
    let groups: string[] = [];
    try {
      user = (await client.api({ url: `${this.parts.baseURL}/api/v4/user`, token: token.accessToken }, userSchema))
        .value;
      if (this.groupsRequired(scopes))
        groups = await groupClaims(
          client,
          { ...this.settings, baseURL: this.parts.baseURL },
          { token: token.accessToken, id: user.id },
        );
    } catch (err: unknown) {
      throw upstreamFailure('gitlab', 'reading the user', err, { ...USER, userMessage });
    }
    if (this.settings.groups.length > 0) {
      groups = filterGroups(groups, this.settings.groups);
      if (groups.length === 0)
        throw new ConnectorError(
          `gitlab: user ${JSON.stringify(user.username)} is not in any of the required groups`,
          USER.notAllowed,
        );
    } else if (!scopes.groups) {
      groups = [];
    }
    const email = user.email ?? '';
    return {
      userId: this.settings.useLoginAsID ? user.username : String(user.id),
      username: user.name !== null && user.name !== undefined && user.name !== '' ? user.name : email,
      preferredUsername: user.username,
      email,
      emailVerified: true,
      groups,
      ...(scopes.offlineAccess ? { connectorData: encodeTokenData(token, false) } : {}),
    };
  }
}

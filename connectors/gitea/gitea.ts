/**
 * The `gitea` connector: logs users in with Gitea's OAuth 2.0 code flow, reads the user from
 * /api/v1/user and, with orgs or loadAllGroups, their teams from /api/v1/user/teams (page by page), as
 * Dex's connector/gitea does: the numeric id (or with useLoginAsID the login) is the user id, `org` and
 * `org:team` are the groups, orgs gate the login, and refresh re-reads the user with the stored token,
 * renewing it when it has expired.
 */
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
import { type OAuthToken, WebFlowClient } from '../webflow/client.js';
import {
  callbackCode,
  callbackError,
  decodeTokenData,
  encodeTokenData,
  type StoredToken,
  upstreamFailure,
  usableToken,
} from '../webflow/token-data.js';
import { configSchema, type GiteaConfig } from './config.js';

export { configSchema, type GiteaConfig } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface GiteaOptions {
  readonly timeoutSeconds?: number;
}

const USER = {
  denied: 'Gitea did not authorize the login.',
  failed: 'Gitea could not complete the login.',
  unreachable: 'Gitea is not reachable. Please try again later.',
  notAllowed: 'Your Gitea account is not in an organization or team allowed to log in here.',
  sessionEnded: 'Your Gitea authorization has ended. Please log in again.',
} as const;

const DEFAULT_TIMEOUT_SECONDS = 30;
// Dex reads 20 teams a page until an empty page.
const TEAMS_PER_PAGE = 20;
const MAX_PAGES = 500;

const userSchema = z.object({
  id: z.number().int(),
  login: z.string(),
  full_name: z.string().nullable().optional(),
  email: z.string().nullable().optional(),
});
const teamSchema = z.object({ name: z.string(), organization: z.object({ username: z.string() }).nullable() });

/** Opens the connector (no network: Gitea is first contacted at a login). */
export async function open(
  _id: string,
  config: GiteaConfig,
  deps: ConnectorDeps,
  options: GiteaOptions = {},
): Promise<Connector> {
  const baseURL = config.baseURL.replace(/\/+$/, '');
  const closing = new AbortController();
  const client = new WebFlowClient({
    authorizeUrl: `${baseURL}/login/oauth/authorize`,
    tokenUrl: `${baseURL}/login/oauth/access_token`,
    client: { style: 'basic', id: config.clientID, secret: config.clientSecret },
    fetch: upstreamFetch(deps.fetch, undefined, closing.signal),
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    closing: closing.signal,
  });
  return new GiteaConnector(config, { baseURL, client, closing, now: deps.now });
}

/** The connector module for the registry. */
export const gitea = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

interface Parts {
  readonly baseURL: string;
  readonly client: WebFlowClient;
  readonly closing: AbortController;
  readonly now: () => Date;
}

class GiteaConnector implements CallbackConnector, Refreshable {
  readonly kind = 'callback';

  constructor(
    private readonly settings: GiteaConfig,
    private readonly parts: Parts,
  ) {}

  // Dex requests no scopes: a Gitea OAuth token reaches everything the user can.
  async loginUrl(_scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string }> {
    if (callbackUrl !== this.settings.redirectURI)
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.settings.redirectURI} in the connector config`,
        USER.failed,
      );
    return { url: this.parts.client.authorizationUrl({ redirect_uri: this.settings.redirectURI, state }) };
  }

  async handleCallback(scopes: Scopes, _state: Uint8Array | undefined, query: URLSearchParams): Promise<Identity> {
    callbackError('gitea', query, USER);
    const code = callbackCode('gitea', query, USER.failed);
    let token: OAuthToken;
    try {
      token = await this.parts.client.token({ code, redirectUri: this.settings.redirectURI }, this.parts.now());
    } catch (err: unknown) {
      throw upstreamFailure('gitea', 'token exchange', err, { ...USER, userMessage: USER.failed });
    }
    const identity = await this.identity(token.accessToken, USER.failed);
    return scopes.offlineAccess ? { ...identity, connectorData: encodeTokenData(token) } : identity;
  }

  async refresh(_scopes: Scopes, identity: Identity): Promise<Identity> {
    const stored = decodeTokenData(identity.connectorData, USER.sessionEnded);
    let token: StoredToken;
    try {
      token = (await usableToken(this.parts.client, stored, this.parts.now())).token;
    } catch (err: unknown) {
      throw upstreamFailure('gitea', 'token refresh', err, { ...USER, userMessage: USER.sessionEnded });
    }
    const fresh = await this.identity(token.accessToken, USER.sessionEnded);
    // Dex keeps the user id as issued (a renamed login with useLoginAsID keeps its subject until the next login).
    return { ...fresh, userId: identity.userId, connectorData: encodeTokenData(token) };
  }

  async close(): Promise<void> {
    this.parts.closing.abort(new Error('connector closed'));
  }

  private async identity(accessToken: string, userMessage: string): Promise<Identity> {
    let user: z.infer<typeof userSchema>;
    let groups: string[] = [];
    try {
      user = (await this.parts.client.api({ url: `${this.parts.baseURL}/api/v1/user`, token: accessToken }, userSchema))
        .value;
      // As in Dex, groups are read whenever orgs or loadAllGroups is set, whatever the client asked for.
      if (this.settings.orgs.length > 0 || this.settings.loadAllGroups) groups = await this.userGroups(accessToken);
    } catch (err: unknown) {
      throw upstreamFailure('gitea', 'reading the user', err, { ...USER, userMessage });
    }
    if (this.settings.orgs.length > 0) groups = this.allowedGroups(groups, user.login);
    const email = user.email ?? '';
    return {
      userId: this.settings.useLoginAsID ? user.login : String(user.id),
      username:
        user.full_name !== null && user.full_name !== undefined && user.full_name !== '' ? user.full_name : email,
      preferredUsername: user.login,
      email,
      emailVerified: true,
      groups,
    };
  }

  // Dex's rule: the user's `org` and `org:team` groups that name a configured org or one of its listed teams.
  private allowedGroups(groups: readonly string[], login: string): string[] {
    const allowed = new Set<string>();
    for (const org of this.settings.orgs) {
      allowed.add(org.name);
      for (const team of org.teams) allowed.add(`${org.name}:${team}`);
    }
    const kept = groups.filter((group) => allowed.has(group));
    if (kept.length === 0)
      throw new ConnectorError(`gitea: user ${login} does not belong to any of the approved groups`, USER.notAllowed);
    return kept;
  }

  private async userGroups(accessToken: string): Promise<string[]> {
    const groups = new Set<string>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const url = `${this.parts.baseURL}/api/v1/user/teams?page=${page}&limit=${TEAMS_PER_PAGE}`;
      const { value } = await this.parts.client.api({ url, token: accessToken }, z.array(teamSchema));
      if (value.length === 0) break;
      for (const team of value) {
        const org = team.organization?.username ?? '';
        groups.add(org);
        groups.add(`${org}:${team.name}`);
      }
    }
    return [...groups];
  }
}

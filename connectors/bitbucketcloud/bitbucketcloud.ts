/**
 * The `bitbucket-cloud` connector: logs users in with Bitbucket Cloud's OAuth 2.0 code flow, reads the
 * user, their confirmed primary email and, when needed, their workspaces (and permissions), following
 * the API's `next` links, as Dex's connector/bitbucketcloud does: the account's `{uuid}` (braces
 * included) is the user id, `teams` gates the login, and refresh re-reads the user with the stored
 * token, renewing it once expired.
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
import { upstreamFetch } from '../oidc/http.js';
import { type OAuthToken, WebFlowClient } from '../webflow/client.js';
import {
  callbackCode,
  callbackError,
  decodeTokenData,
  encodeTokenData,
  filterGroups,
  type StoredToken,
  upstreamFailure,
  usableToken,
} from '../webflow/token-data.js';
import { type BitbucketConfig, configSchema } from './config.js';

export { type BitbucketConfig, configSchema } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface BitbucketOptions {
  readonly timeoutSeconds?: number;
}

const USER = {
  denied: 'Bitbucket did not authorize the login.',
  failed: 'Bitbucket could not complete the login.',
  unreachable: 'Bitbucket is not reachable. Please try again later.',
  notAllowed: 'Your Bitbucket account is not in a workspace allowed to log in here.',
  noEmail: 'Your Bitbucket account has no confirmed primary email address.',
  sessionEnded: 'Your Bitbucket authorization has ended. Please log in again.',
} as const;

// Dex always asks for these two.
const SCOPES = 'account email';
const DEFAULT_TIMEOUT_SECONDS = 30;
const MAX_PAGES = 200;

const userSchema = z.object({ uuid: z.string().min(1), username: z.string().nullable().optional() });
const emailSchema = z.object({ email: z.string(), is_primary: z.boolean(), is_confirmed: z.boolean() });
const workspaceSchema = z.object({ workspace: z.object({ slug: z.string() }) });
const permissionSchema = z.object({ permission: z.string() });
const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ values: z.array(item).default([]), next: z.string().nullable().optional() });

/** Opens the connector (no network: Bitbucket is first contacted at a login). */
export async function open(
  id: string,
  config: BitbucketConfig,
  deps: ConnectorDeps,
  options: BitbucketOptions = {},
): Promise<Connector> {
  const log = deps.log.child({ connector: id });
  if (config.includeTeamGroups)
    log.warn(
      'includeTeamGroups is deprecated and has no effect; the Bitbucket 1.0 API it relied on has been removed by Atlassian',
    );
  const baseURL = config.baseURL.replace(/\/+$/, '');
  const closing = new AbortController();
  const client = new WebFlowClient({
    authorizeUrl: `${baseURL}/site/oauth2/authorize`,
    tokenUrl: `${baseURL}/site/oauth2/access_token`,
    client: { style: 'basic', id: config.clientID, secret: config.clientSecret },
    fetch: upstreamFetch(deps.fetch, undefined, closing.signal),
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    closing: closing.signal,
  });
  return new BitbucketConnector(config, {
    apiURL: config.apiURL.replace(/\/+$/, ''),
    client,
    closing,
    log,
    now: deps.now,
  });
}

/** The connector module for the registry. */
export const bitbucketCloud = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

interface Parts {
  readonly apiURL: string;
  readonly client: WebFlowClient;
  readonly closing: AbortController;
  readonly log: Logger;
  readonly now: () => Date;
}

class BitbucketConnector implements CallbackConnector, Refreshable {
  readonly kind = 'callback';

  constructor(
    private readonly settings: BitbucketConfig,
    private readonly parts: Parts,
  ) {}

  // As in Dex, no redirect_uri: Bitbucket returns to the consumer's registered callback URL.
  async loginUrl(_scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string }> {
    if (callbackUrl !== this.settings.redirectURI)
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.settings.redirectURI} in the connector config`,
        USER.failed,
      );
    return { url: this.parts.client.authorizationUrl({ scope: SCOPES, state }) };
  }

  async handleCallback(scopes: Scopes, _state: Uint8Array | undefined, query: URLSearchParams): Promise<Identity> {
    callbackError('bitbucket', query, USER);
    const code = callbackCode('bitbucket', query, USER.failed);
    let token: OAuthToken;
    try {
      token = await this.parts.client.token({ code }, this.parts.now());
    } catch (err: unknown) {
      throw upstreamFailure('bitbucket', 'token exchange', err, { ...USER, userMessage: USER.failed });
    }
    const identity = await this.identity(scopes, token.accessToken, USER.failed);
    return scopes.offlineAccess ? { ...identity, connectorData: encodeTokenData(token) } : identity;
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    const stored = decodeTokenData(identity.connectorData, USER.sessionEnded);
    let token: StoredToken;
    try {
      token = (await usableToken(this.parts.client, stored, this.parts.now())).token;
    } catch (err: unknown) {
      throw upstreamFailure('bitbucket', 'token refresh', err, { ...USER, userMessage: USER.sessionEnded });
    }
    const fresh = await this.identity(scopes, token.accessToken, USER.sessionEnded);
    if (fresh.userId !== identity.userId)
      throw new ConnectorError(
        `bitbucket: refreshed token is for ${fresh.userId}, not ${identity.userId}`,
        USER.sessionEnded,
      );
    return { ...fresh, connectorData: encodeTokenData(token) };
  }

  async close(): Promise<void> {
    this.parts.closing.abort(new Error('connector closed'));
  }

  private async identity(scopes: Scopes, accessToken: string, userMessage: string): Promise<Identity> {
    let user: z.infer<typeof userSchema>;
    let email: string | undefined;
    let groups: string[] = [];
    const groupsRequired = this.settings.teams.length > 0 || scopes.groups;
    try {
      user = (await this.parts.client.api({ url: `${this.parts.apiURL}/user`, token: accessToken }, userSchema)).value;
      const emails = await this.all('/user/emails', accessToken, emailSchema);
      email = emails.find((entry) => entry.is_primary && entry.is_confirmed)?.email;
      if (groupsRequired) groups = await this.workspaces(accessToken);
    } catch (err: unknown) {
      throw upstreamFailure('bitbucket', 'reading the user', err, { ...USER, userMessage });
    }
    const username = user.username ?? '';
    if (email === undefined)
      throw new ConnectorError(`bitbucket: user ${username} has no confirmed, primary email`, USER.noEmail);
    if (this.settings.teams.length > 0) {
      groups = filterGroups(groups, this.settings.teams);
      if (groups.length === 0)
        throw new ConnectorError(
          `bitbucket: user ${JSON.stringify(username)} is not in any of the required teams`,
          USER.notAllowed,
        );
    } else if (!scopes.groups) {
      groups = [];
    }
    return { userId: user.uuid, username, email, emailVerified: true, groups };
  }

  // The workspace slugs, then with getWorkspacePermissions `slug:permission` for each one that answers.
  private async workspaces(accessToken: string): Promise<string[]> {
    const slugs = (await this.all('/user/workspaces', accessToken, workspaceSchema)).map((w) => w.workspace.slug);
    if (!this.settings.getWorkspacePermissions) return slugs;
    const withPermissions = [...slugs];
    for (const slug of slugs) {
      try {
        const url = `${this.parts.apiURL}/user/workspaces/${encodeURIComponent(slug)}/permission`;
        const { value } = await this.parts.client.api({ url, token: accessToken }, permissionSchema);
        withPermissions.push(`${slug}:${value.permission}`);
      } catch (err: unknown) {
        this.parts.log.warn(
          { workspace: slug, err },
          'failed to get permission for workspace, skipping permission suffix',
        );
      }
    }
    return withPermissions;
  }

  // Bitbucket pages carry the absolute URL of the next page in `next`.
  private async all<T extends z.ZodType>(path: string, accessToken: string, item: T): Promise<Array<z.infer<T>>> {
    const items: Array<z.infer<T>> = [];
    let url: string | undefined = `${this.parts.apiURL}${path}`;
    for (let page = 0; url !== undefined; page++) {
      if (page === MAX_PAGES)
        throw new ConnectorError(`bitbucket: more than ${MAX_PAGES} pages at ${path}`, USER.failed);
      const { value }: { value: { values: Array<z.infer<T>>; next?: string | null | undefined } } =
        await this.parts.client.api({ url, token: accessToken }, pageOf(item));
      items.push(...value.values);
      url =
        value.next === undefined || value.next === null || value.next === ''
          ? undefined
          : this.parts.client.sameOrigin(`GET ${path}`, value.next, this.parts.apiURL);
    }
    return items;
  }
}

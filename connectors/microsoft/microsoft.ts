/**
 * The `microsoft` connector: logs users in with the Microsoft identity platform's OAuth 2.0 code flow
 * and reads them from Microsoft Graph (/me), their groups from getMemberGroups and the groups' names
 * from getByIds, as Dex's connector/microsoft does: the Graph object id is the user id (and so `sub`),
 * groups only for a specific tenant, and refresh re-reads the user with the stored (or renewed) token.
 */
import { readFile } from 'node:fs/promises';

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
import { configSchema, type MicrosoftConfig } from './config.js';

export { configSchema, type MicrosoftConfig } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface MicrosoftOptions {
  readonly timeoutSeconds?: number;
}

const USER = {
  denied: 'Microsoft did not authorize the login.',
  failed: 'Microsoft could not complete the login.',
  unreachable: 'Microsoft is not reachable. Please try again later.',
  notAllowed: 'Your Microsoft account is not in a group allowed to log in here.',
  sessionEnded: 'Your Microsoft authorization has ended. Please log in again.',
} as const;

const SCOPE_USER = 'user.read';
const SCOPE_GROUPS = 'directory.read.all';
const SCOPE_OFFLINE = 'offline_access';
const MULTI_TENANT = new Set(['common', 'consumers', 'organizations']);
// Graph caps /directoryObjects/getByIds at 1000 ids a request.
const GET_BY_IDS_LIMIT = 1000;
// A bound on @odata.nextLink pages followed, so a link back to itself cannot loop forever.
const MAX_PAGES = 1000;
const DEFAULT_TIMEOUT_SECONDS = 30;

const userSchema = z.object({
  id: z.string().min(1),
  displayName: z.string().nullable().optional(),
  userPrincipalName: z.string().nullable().optional(),
  mailNickname: z.string().nullable().optional(),
  onPremisesSamAccountName: z.string().nullable().optional(),
});
type GraphUser = z.infer<typeof userSchema>;
const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ value: z.array(item), '@odata.nextLink': z.string().optional() });

/** Opens the connector (no network: Microsoft is first contacted at a login). */
export async function open(
  id: string,
  config: MicrosoftConfig,
  deps: ConnectorDeps,
  options: MicrosoftOptions = {},
): Promise<Connector> {
  const log = deps.log.child({ connector: id });
  const tenant = config.tenant === '' ? 'common' : config.tenant;
  if (config.groups.length > 0 && MULTI_TENANT.has(tenant))
    log.warn(
      { tenant },
      'groups are only checked for a specific tenant (as in Dex): with this tenant every Microsoft user may log in',
    );
  const apiURL = trimSlash(config.apiURL === '' ? 'https://login.microsoftonline.com' : config.apiURL);
  const closing = new AbortController();
  const assertionFile = config.clientAssertion;
  const client = new WebFlowClient({
    authorizeUrl: `${apiURL}/${tenant}/oauth2/v2.0/authorize`,
    tokenUrl: `${apiURL}/${tenant}/oauth2/v2.0/token`,
    client:
      assertionFile === ''
        ? { style: 'post', id: config.clientID, secret: config.clientSecret }
        : {
            style: 'params',
            id: config.clientID,
            // Read at each use: the platform rotates the projected token file.
            params: async () => ({
              client_assertion: (await readFile(assertionFile, 'utf8')).trim(),
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            }),
          },
    fetch: upstreamFetch(deps.fetch, undefined, closing.signal),
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    closing: closing.signal,
  });
  const graphURL = trimSlash(config.graphURL === '' ? 'https://graph.microsoft.com' : config.graphURL);
  return new MicrosoftConnector({ config, tenant, graphURL, client, closing, log, now: deps.now });
}

/** The connector module for the registry. */
export const microsoft = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

const trimSlash = (url: string): string => url.replace(/\/+$/, '');

interface Parts {
  readonly config: MicrosoftConfig;
  readonly tenant: string;
  readonly graphURL: string;
  readonly client: WebFlowClient;
  readonly closing: AbortController;
  readonly log: Logger;
  readonly now: () => Date;
}

class MicrosoftConnector implements CallbackConnector, Refreshable {
  readonly kind = 'callback';
  private readonly settings: MicrosoftConfig;

  constructor(private readonly parts: Parts) {
    this.settings = parts.config;
  }

  async loginUrl(scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string }> {
    if (callbackUrl !== this.settings.redirectURI)
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.settings.redirectURI} in the connector config`,
        USER.failed,
      );
    const url = this.parts.client.authorizationUrl({
      redirect_uri: this.settings.redirectURI,
      scope: this.microsoftScopes(scopes).join(' '),
      state,
      prompt: this.settings.promptType || undefined,
      domain_hint: this.settings.domainHint || undefined,
    });
    return { url };
  }

  async handleCallback(scopes: Scopes, _state: Uint8Array | undefined, query: URLSearchParams): Promise<Identity> {
    callbackError('microsoft', query, USER);
    const code = callbackCode('microsoft', query, USER.failed);
    let token: OAuthToken;
    try {
      token = await this.parts.client.token({ code, redirectUri: this.settings.redirectURI }, this.parts.now());
    } catch (err: unknown) {
      throw upstreamFailure('microsoft', 'token exchange', err, { ...USER, userMessage: USER.failed });
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
      throw upstreamFailure('microsoft', 'token refresh', err, { ...USER, userMessage: USER.sessionEnded });
    }
    const fresh = await this.identity(scopes, token.accessToken, USER.sessionEnded);
    // Dex keeps the user id as issued; a token for another account would be a different user.
    if (fresh.userId !== identity.userId)
      throw new ConnectorError(
        `microsoft: refreshed token is for ${fresh.userId}, not ${identity.userId}`,
        USER.sessionEnded,
      );
    return { ...fresh, connectorData: encodeTokenData(token) };
  }

  async close(): Promise<void> {
    this.parts.closing.abort(new Error('connector closed'));
  }

  private groupsRequired(scopes: Scopes): boolean {
    return (this.settings.groups.length > 0 || scopes.groups) && !MULTI_TENANT.has(this.parts.tenant);
  }

  private microsoftScopes(scopes: Scopes): string[] {
    const list = this.settings.scopes.length > 0 ? [...this.settings.scopes] : [SCOPE_USER];
    if (this.groupsRequired(scopes)) list.push(SCOPE_GROUPS);
    if (scopes.offlineAccess) list.push(SCOPE_OFFLINE);
    return list;
  }

  private async identity(scopes: Scopes, accessToken: string, userMessage: string): Promise<Identity> {
    let user: GraphUser;
    let groups: string[] = [];
    try {
      const select = 'id,displayName,userPrincipalName,mailNickname,onPremisesSamAccountName';
      user = (
        await this.parts.client.api(
          { url: `${this.parts.graphURL}/v1.0/me?$select=${select}`, token: accessToken },
          userSchema,
        )
      ).value;
      if (this.groupsRequired(scopes)) groups = await this.groups(accessToken);
    } catch (err: unknown) {
      throw upstreamFailure('microsoft', 'reading the user', err, { ...USER, userMessage });
    }
    const upn = user.userPrincipalName ?? '';
    const email = this.settings.emailToLowercase ? upn.toLowerCase() : upn;
    if (this.groupsRequired(scopes) && this.settings.groups.length > 0) {
      const allowed = filterGroups(groups, this.settings.groups);
      if (allowed.length === 0)
        throw new ConnectorError(`microsoft: user ${user.id} is not in any of the required groups`, USER.notAllowed);
      if (this.settings.useGroupsAsWhitelist) groups = allowed;
    }
    return {
      userId: user.id,
      username: user.displayName ?? '',
      preferredUsername: this.preferredUsername(user, email),
      email,
      emailVerified: true,
      groups,
    };
  }

  private preferredUsername(user: GraphUser, email: string): string | undefined {
    const field = this.settings.preferredUsernameField;
    const value =
      field === 'name'
        ? user.displayName
        : field === 'email'
          ? email
          : field === 'mailNickname'
            ? user.mailNickname
            : field === 'onPremisesSamAccountName'
              ? user.onPremisesSamAccountName
              : undefined;
    if (
      field !== '' &&
      value === undefined &&
      !['name', 'email', 'mailNickname', 'onPremisesSamAccountName'].includes(field)
    )
      this.parts.log.warn({ field }, 'preferred_username left empty: unknown preferredUsernameField');
    return value === null || value === '' ? undefined : value;
  }

  private async groups(accessToken: string): Promise<string[]> {
    const ids = await this.paged(
      `${this.parts.graphURL}/v1.0/me/getMemberGroups`,
      accessToken,
      { securityEnabledOnly: this.settings.onlySecurityGroups },
      z.string(),
    );
    if (this.settings.groupNameFormat === 'id' || ids.length === 0) return ids;
    const batch = this.settings.batchGroupLookups ? GET_BY_IDS_LIMIT : ids.length;
    const names: string[] = [];
    for (let start = 0; start < ids.length; start += batch) {
      const found = await this.paged(
        `${this.parts.graphURL}/v1.0/directoryObjects/getByIds`,
        accessToken,
        { ids: ids.slice(start, start + batch), types: ['group'] },
        z.object({ displayName: z.string().nullable().optional() }),
      );
      names.push(...found.map((group) => group.displayName ?? ''));
    }
    return names;
  }

  // Graph's POST actions page with @odata.nextLink; Dex posts the same body to each next link.
  private async paged<T extends z.ZodType>(
    url: string,
    accessToken: string,
    body: unknown,
    item: T,
  ): Promise<Array<z.infer<T>>> {
    const items: Array<z.infer<T>> = [];
    let next: string | undefined = url;
    for (let page = 0; next !== undefined; page++) {
      if (page === MAX_PAGES)
        throw new ConnectorError(`microsoft: more than ${MAX_PAGES} pages at ${url}`, USER.failed);
      const { value }: { value: { value: Array<z.infer<T>>; '@odata.nextLink'?: string | undefined } } =
        await this.parts.client.api({ url: next, token: accessToken, method: 'POST', json: body }, pageOf(item));
      items.push(...value.value);
      const link: string | undefined = value['@odata.nextLink'];
      next = link === undefined || link === '' ? undefined : this.parts.client.sameOrigin(`POST ${url}`, link, url);
    }
    return items;
  }
}

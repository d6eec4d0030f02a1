/**
 * The `github` connector: logs users in with GitHub's OAuth web flow (github.com or GitHub
 * Enterprise), reads the user, their verified email and, when needed, their orgs and teams, and
 * refreshes by re-reading them with the stored access token. Behaves as Dex's connector/github:
 * same config (config.ts), same user id, email choice, `org:team` groups and org restriction, and
 * the same connector data, so refresh tokens issued by Dex keep working after a move.
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
import {
  emailSchema,
  endpointsFor,
  GithubApi,
  GithubRequestError,
  type GithubTeam,
  type GithubToken,
  orgSchema,
  teamSchema,
  userSchema,
} from './api.js';
import { configSchema, type GithubConfig, LOOPBACK_HTTP_HOST } from './config.js';

export { configSchema, type GithubConfig } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface GithubOptions {
  /** Timeout of each GitHub request, in seconds. */
  readonly timeoutSeconds?: number;
}

/** User messages (safe to show; the error's message carries the details for the log). */
const USER = {
  denied: 'GitHub did not authorize the login.',
  failed: 'GitHub could not complete the login.',
  unreachable: 'GitHub is not reachable. Please try again later.',
  notAllowed: 'Your GitHub account is not a member of an organization or team allowed to log in here.',
  noEmail: 'Your GitHub account has no verified primary email address. Verify one on GitHub and log in again.',
  sessionEnded: 'Your GitHub authorization has ended. Please log in again.',
} as const;

// GitHub requires user:email for /user/emails, and read:org for org membership and /user/teams.
const SCOPE_EMAIL = 'user:email';
const SCOPE_ORGS = 'read:org';
const DEFAULT_TIMEOUT_SECONDS = 30;
// Renew an expiring token this long before it expires, as Go's oauth2 package (Dex) does.
const EXPIRY_MARGIN_MS = 10_000;

/**
 * Refresh state in Dex's format, so sessions moved from Dex keep refreshing. OAuth apps' tokens never
 * expire; GitHub Apps' user tokens may, with a refresh token. Go writes an unset expiry as year 1.
 */
const connectorDataSchema = z.object({
  accessToken: z.string().default(''),
  refreshToken: z.string().default(''),
  expiry: z.string().optional(),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens the connector (no network: GitHub is first contacted at a login). */
export async function open(
  id: string,
  config: GithubConfig,
  deps: ConnectorDeps,
  options: GithubOptions = {},
): Promise<Connector> {
  const log = deps.log.child({ connector: id });
  if (config.org !== '') log.warn("legacy field 'org' being used; switch to the newer 'orgs' field structure");
  if (LOOPBACK_HTTP_HOST.test(config.hostName))
    log.warn(
      { hostName: config.hostName },
      'GitHub is reached over plain http on a loopback host; use this for development only',
    );
  // Node's fetch takes no per-request CA, so with rootCA the requests go through node:https (as the oidc connector's).
  const tls = config.rootCA === '' ? undefined : { ca: await loadRootCAs([config.rootCA]), rejectUnauthorized: true };
  const closing = new AbortController();
  const timeoutMs = (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const api = new GithubApi(
    upstreamFetch(deps.fetch, tls, closing.signal),
    endpointsFor(config.hostName),
    timeoutMs,
    closing.signal,
  );
  return new GithubConnector({ settings: config, api, closing, log, now: deps.now });
}

/** The connector module for the registry. */
export const github = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

interface GithubParts {
  readonly settings: GithubConfig;
  readonly api: GithubApi;
  readonly closing: AbortController;
  readonly log: Logger;
  readonly now: () => Date;
}

class GithubConnector implements CallbackConnector, Refreshable {
  readonly kind = 'callback';
  private readonly isEnterprise: boolean;

  private readonly settings: GithubConfig;
  private readonly api: GithubApi;
  private readonly closing: AbortController;
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(parts: GithubParts) {
    this.settings = parts.settings;
    this.api = parts.api;
    this.closing = parts.closing;
    this.log = parts.log;
    this.now = parts.now;
    this.isEnterprise = parts.settings.hostName !== '';
  }

  async loginUrl(scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string }> {
    if (callbackUrl !== this.settings.redirectURI) {
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.settings.redirectURI} in the connector config`,
        USER.failed,
      );
    }
    const url = new URL('/login/oauth/authorize', this.api.endpoints.web);
    url.search = new URLSearchParams({
      client_id: this.settings.clientID,
      redirect_uri: this.settings.redirectURI,
      response_type: 'code',
      scope: this.githubScopes(scopes).join(' '),
      state,
    }).toString();
    return { url: url.href };
  }

  async handleCallback(
    scopes: Scopes,
    _connectorState: Uint8Array | undefined,
    query: URLSearchParams,
  ): Promise<Identity> {
    const error = query.get('error');
    if (error !== null) {
      const description = query.get('error_description');
      throw new ConnectorError(
        `github returned error=${error}${description === null ? '' : `: ${description}`}`,
        error === 'access_denied' ? USER.denied : USER.failed,
      );
    }
    const code = query.get('code');
    if (code === null || code === '') throw new ConnectorError('github callback without a code', USER.failed);
    let token: GithubToken;
    try {
      token = await this.api.token(
        { id: this.settings.clientID, secret: this.settings.clientSecret },
        { code, redirectUri: this.settings.redirectURI },
        this.now(),
      );
    } catch (err: unknown) {
      throw failure('token exchange', err, USER.failed);
    }
    const identity = await this.identity(scopes, token.accessToken, USER.failed);
    // Dex keeps the token only for offline access: without it there is nothing to refresh.
    return scopes.offlineAccess ? { ...identity, connectorData: encodeConnectorData(token) } : identity;
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    let token = parseConnectorData(identity.connectorData);
    const expiresSoon = token.expiry !== undefined && token.expiry.getTime() - EXPIRY_MARGIN_MS <= this.now().getTime();
    if (expiresSoon && token.refreshToken !== undefined) {
      try {
        const renewed = await this.api.token(
          { id: this.settings.clientID, secret: this.settings.clientSecret },
          { refreshToken: token.refreshToken },
          this.now(),
        );
        token = { ...renewed, refreshToken: renewed.refreshToken ?? token.refreshToken };
      } catch (err: unknown) {
        throw failure('token refresh', err, USER.sessionEnded);
      }
    }
    // A revoked authorization answers 401 here, which ends the session. The user id stays as issued
    // (Dex does the same), so a renamed login with useLoginAsID keeps its subject until the next login.
    const fresh = await this.identity(scopes, token.accessToken, USER.sessionEnded);
    return { ...fresh, userId: identity.userId, connectorData: encodeConnectorData(token) };
  }

  async close(): Promise<void> {
    this.closing.abort(new Error('connector closed'));
  }

  // Dex asks for read:org whenever orgs are configured (to check membership) or groups were requested.
  private groupsRequired(scopes: Scopes): boolean {
    return this.settings.orgs.length > 0 || this.settings.org !== '' || scopes.groups;
  }

  private githubScopes(scopes: Scopes): string[] {
    return this.groupsRequired(scopes) ? [SCOPE_EMAIL, SCOPE_ORGS] : [SCOPE_EMAIL];
  }

  private async identity(scopes: Scopes, accessToken: string, userMessage: string): Promise<Identity> {
    try {
      const user = await this.api.get('/user', accessToken, userSchema);
      // GET /user shows only a public email (which GitHub lets users pick only from verified ones).
      const publicEmail = user.email ?? '';
      const email =
        publicEmail === '' || this.settings.preferredEmailDomain !== '' ? await this.email(accessToken) : publicEmail;
      const groups = this.groupsRequired(scopes) ? await this.groups(scopes, accessToken, user.login) : [];
      return {
        userId: this.settings.useLoginAsID ? user.login : String(user.id),
        username: user.name !== null && user.name !== undefined && user.name !== '' ? user.name : user.login,
        preferredUsername: user.login,
        email,
        emailVerified: true,
        groups,
      };
    } catch (err: unknown) {
      throw failure('reading the user', err, userMessage);
    }
  }

  // Dex: the first verified address in preferredEmailDomain, else the verified primary one, else refuse.
  private async email(accessToken: string): Promise<string> {
    const emails = await this.api.getAll('/user/emails', accessToken, emailSchema);
    let primary: string | undefined;
    const preferred: string[] = [];
    for (const entry of emails) {
      // GitHub Enterprise cannot verify addresses, so Dex (after GitHub's advice) treats all of them as verified there.
      const isVerified = this.isEnterprise || entry.verified;
      if (isVerified && entry.primary) primary = entry.email;
      if (this.settings.preferredEmailDomain !== '') {
        const at = entry.email.indexOf('@');
        if (at < 0)
          throw new ConnectorError(`github returned an email address without a domain: ${entry.email}`, USER.failed);
        if (isVerified && matchesDomain(entry.email.slice(at + 1), this.settings.preferredEmailDomain))
          preferred.push(entry.email);
      }
    }
    const chosen = preferred[0] ?? primary;
    if (chosen === undefined)
      throw new ConnectorError('github user has no verified, primary email or preferred-domain email', USER.noEmail);
    return chosen;
  }

  private async groups(scopes: Scopes, accessToken: string, login: string): Promise<string[]> {
    if (this.settings.orgs.length > 0) {
      const groups = await this.groupsForOrgs(accessToken, login);
      // Membership was checked either way; the groups go only to clients that asked for them.
      return scopes.groups ? groups : [];
    }
    // The legacy `org` yields bare team names of that org, as in Dex (no org prefix, nobody refused).
    if (this.settings.org !== '')
      return scopes.groups ? this.teamsOf(await this.userTeams(accessToken), this.settings.org) : [];
    if (scopes.groups && this.settings.loadAllGroups) return this.allGroups(accessToken);
    return [];
  }

  /**
   * Dex's rules: a user may log in when in at least one configured org that lists no teams, or in a
   * listed team of one; groups are `org:team` for the user's (listed) teams of those orgs.
   */
  private async groupsForOrgs(accessToken: string, login: string): Promise<string[]> {
    const groups: string[] = [];
    let inOrgWithoutTeams = false;
    let teams: GithubTeam[] | undefined;
    for (const org of this.settings.orgs) {
      if (!(await this.api.isOrgMember(org.name, login, accessToken))) {
        this.log.info({ user: login, org: org.name }, 'user not in org or application not authorized to read org data');
        continue;
      }
      teams ??= await this.userTeams(accessToken);
      let names = this.teamsOf(teams, org.name);
      if (org.teams.length === 0) {
        inOrgWithoutTeams = true;
      } else {
        names = names.filter((name) => org.teams.includes(name));
        if (names.length === 0)
          this.log.info({ user: login, org: org.name }, 'user in org but in none of its configured teams');
      }
      groups.push(...names.map((name) => `${org.name}:${name}`));
    }
    if (!inOrgWithoutTeams && groups.length === 0)
      throw new ConnectorError(`github user ${login} is not in the required orgs or teams`, USER.notAllowed);
    return groups;
  }

  // loadAllGroups: each org, followed by its `org:team` groups.
  private async allGroups(accessToken: string): Promise<string[]> {
    const orgs = await this.api.getAll('/user/orgs', accessToken, orgSchema);
    const teams = await this.userTeams(accessToken);
    return orgs.flatMap((org) => [org.login, ...this.teamsOf(teams, org.login).map((team) => `${org.login}:${team}`)]);
  }

  private userTeams(accessToken: string): Promise<GithubTeam[]> {
    return this.api.getAll('/user/teams', accessToken, teamSchema);
  }

  // teamNameField: name (default), slug, or both.
  private teamsOf(teams: readonly GithubTeam[], org: string): string[] {
    const field = this.settings.teamNameField;
    return teams
      .filter((team) => team.organization.login === org)
      .flatMap((team) => (field === 'both' ? [team.name, team.slug] : field === 'slug' ? [team.slug] : [team.name]));
  }
}

// Dex: an exact match, or as many labels with `*` matching any one label (`*.example.com`).
function matchesDomain(domain: string, preferred: string): boolean {
  if (domain === preferred) return true;
  const want = preferred.split('.');
  const have = domain.split('.');
  return want.length === have.length && want.every((label, i) => label === '*' || label === have[i]);
}

function encodeConnectorData(token: GithubToken): Uint8Array {
  const data: z.input<typeof connectorDataSchema> = { accessToken: token.accessToken };
  if (token.refreshToken !== undefined) data.refreshToken = token.refreshToken;
  if (token.expiry !== undefined) data.expiry = token.expiry.toISOString();
  return encoder.encode(JSON.stringify(data));
}

function parseConnectorData(bytes: Uint8Array | undefined): GithubToken {
  if (bytes === undefined || bytes.length === 0)
    throw new ConnectorError('no upstream access token found (the login had no offline access)', USER.sessionEnded);
  let data: z.infer<typeof connectorDataSchema>;
  try {
    data = connectorDataSchema.parse(JSON.parse(decoder.decode(bytes)));
  } catch (err: unknown) {
    throw new ConnectorError('connector data of this session is unreadable', USER.sessionEnded, { cause: err });
  }
  if (data.accessToken === '' && data.refreshToken === '')
    throw new ConnectorError('no upstream access token found', USER.sessionEnded);
  const expiry = data.expiry === undefined ? undefined : new Date(data.expiry);
  // Go's zero time (0001-01-01) and anything unreadable mean "does not expire".
  const expires = expiry !== undefined && !Number.isNaN(expiry.getTime()) && expiry.getUTCFullYear() > 1;
  return {
    accessToken: data.accessToken,
    refreshToken: data.refreshToken === '' ? undefined : data.refreshToken,
    expiry: expires ? expiry : undefined,
  };
}

/** A failed GitHub call as a ConnectorError: GitHub's words in the message, a safe text for the user. */
function failure(step: string, err: unknown, userMessage: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof GithubRequestError) {
    return new ConnectorError(`github: ${step}: ${err.message}`, err.temporary ? USER.unreachable : userMessage, {
      cause: err,
      temporary: err.temporary,
    });
  }
  return new ConnectorError(`github: ${step}: ${err instanceof Error ? err.message : String(err)}`, userMessage, {
    cause: err,
  });
}

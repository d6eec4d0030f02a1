/**
 * The `atlassian-crowd` connector (Dex's connector/atlassiancrowd): a password login checked by
 * Atlassian Crowd's usermanagement REST API as a Crowd application. The user id (and so `sub`) is the
 * Crowd user's `key`; groups are the user's nested groups, filtered by `groups` when configured.
 * Refresh re-reads the user, renews their Crowd session without a password and re-reads the groups.
 */
import type { Logger } from 'pino';
import { z } from 'zod';

import {
  type Connector,
  type ConnectorDeps,
  ConnectorError,
  type ConnectorModule,
  type Identity,
  type PasswordConnector,
  type Refreshable,
  type Scopes,
} from '../connector.js';
import { send, UpstreamError, type UpstreamHttp } from '../oauth/oauth2.js';
import { upstreamFetch } from '../oidc/http.js';
import { configSchema, type CrowdConfig } from './config.js';

export { configSchema, type CrowdConfig } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface CrowdOptions {
  readonly timeoutSeconds?: number;
  /** Groups asked for per request (Crowd's max-results). */
  readonly groupsPageSize?: number;
}

const USER = {
  failed: 'Crowd could not complete the login.',
  unreachable: 'Crowd is not reachable. Please try again later.',
  notAllowed: 'Your account is not in a group allowed to log in here.',
  sessionEnded: 'Your Crowd account is no longer available. Please log in again.',
} as const;

const DEFAULT_TIMEOUT_SECONDS = 30;
const DEFAULT_GROUPS_PAGE = 1000;
// Reasons Crowd gives for a wrong username or password (it does not tell them apart for a login).
const WRONG_CREDENTIALS = new Set(['INVALID_USER_AUTHENTICATION', 'USER_NOT_FOUND']);

const userSchema = z.looseObject({ key: z.string().min(1), name: z.string(), email: z.string().default('') });
const groupsSchema = z.looseObject({ groups: z.array(z.looseObject({ name: z.string() })) });
const errorSchema = z.looseObject({ reason: z.string().default(''), message: z.string().default('') });
const refreshDataSchema = z.object({ username: z.string().min(1) });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens the connector (no network: Crowd is first contacted at a login). */
export async function open(
  id: string,
  config: CrowdConfig,
  deps: ConnectorDeps,
  options: CrowdOptions = {},
): Promise<Connector> {
  const log = deps.log.child({ connector: id });
  if (!['', 'key', 'name', 'email'].includes(config.preferredUsernameField))
    log.warn(
      { field: config.preferredUsernameField },
      'preferred_username left empty. Invalid crowd field mapped to preferred_username',
    );
  const closing = new AbortController();
  const http: UpstreamHttp = {
    fetch: upstreamFetch(deps.fetch, undefined, closing.signal),
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    closing: closing.signal,
  };
  return new CrowdConnector({
    config,
    http,
    closing,
    log,
    groupsPageSize: options.groupsPageSize ?? DEFAULT_GROUPS_PAGE,
  });
}

/** The connector module for the registry. */
export const atlassianCrowd = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

interface CrowdParts {
  readonly config: CrowdConfig;
  readonly http: UpstreamHttp;
  readonly closing: AbortController;
  readonly log: Logger;
  readonly groupsPageSize: number;
}

class CrowdConnector implements PasswordConnector, Refreshable {
  readonly kind = 'password';
  private readonly api: string;
  private readonly required: readonly string[];

  private readonly config: CrowdConfig;
  private readonly http: UpstreamHttp;
  private readonly closing: AbortController;
  private readonly log: Logger;
  private readonly groupsPageSize: number;

  constructor(parts: CrowdParts) {
    this.config = parts.config;
    this.http = parts.http;
    this.closing = parts.closing;
    this.log = parts.log;
    this.groupsPageSize = parts.groupsPageSize;
    this.api = `${parts.config.baseURL.replace(/\/+$/, '')}/rest/usermanagement/1`;
    this.required = parts.config.groups ?? [];
  }

  prompt(): string {
    return this.config.usernamePrompt === '' ? 'Username' : this.config.usernamePrompt;
  }

  async login(scopes: Scopes, username: string, password: string): Promise<Identity | undefined> {
    // Crowd would accept an empty password for some directories; Dex refuses it first, and so do we.
    if (password === '') return undefined;
    try {
      const session = await this.request('POST', '/session', { username, password });
      if (session.status !== 201) {
        const error = errorSchema.safeParse(session.body);
        if (error.success && WRONG_CREDENTIALS.has(error.data.reason)) return undefined;
        throw this.unexpected('POST /session', session);
      }
      const identity = await this.identity(scopes, username);
      // Dex keeps the typed username to find the user again at refresh.
      return scopes.offlineAccess
        ? { ...identity, connectorData: encoder.encode(JSON.stringify({ username })) }
        : identity;
    } catch (err: unknown) {
      throw failure('login', err, USER.failed);
    }
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    let username: string;
    try {
      username = refreshDataSchema.parse(JSON.parse(decoder.decode(identity.connectorData))).username;
    } catch (err: unknown) {
      throw new ConnectorError('crowd: failed to unmarshal internal data', USER.sessionEnded, { cause: err });
    }
    try {
      const fresh = await this.identity(scopes, username);
      // Renews the user's Crowd SSO session (Dex does this too); refused for a deactivated account.
      const session = await this.request('POST', '/session?validate-password=false', { username });
      if (session.status !== 201) throw this.unexpected('POST /session', session);
      return { ...fresh, connectorData: identity.connectorData };
    } catch (err: unknown) {
      throw failure('refresh', err, USER.sessionEnded);
    }
  }

  async close(): Promise<void> {
    this.closing.abort(new Error('connector closed'));
  }

  private async identity(scopes: Scopes, username: string): Promise<Identity> {
    const answer = await this.request('GET', `/user?username=${encodeURIComponent(username)}`);
    const user = userSchema.safeParse(answer.body);
    if (answer.status !== 200 || !user.success) throw this.unexpected('GET /user', answer);
    const field = this.config.preferredUsernameField;
    const preferredUsername =
      field === 'key' ? user.data.key : field === 'name' ? user.data.name : field === 'email' ? user.data.email : '';
    const groups = await this.groups(scopes, user.data.name);
    return {
      userId: user.data.key,
      username: user.data.name,
      preferredUsername,
      email: user.data.email,
      emailVerified: true,
      groups,
    };
  }

  /**
   * The user's nested groups. With `groups` configured the user must be in one of them, and only those are
   * reported; Dex checks this only when the client asked for groups, idport on every login and refresh.
   */
  private async groups(scopes: Scopes, name: string): Promise<string[]> {
    if (this.required.length === 0 && !scopes.groups) return [];
    const all = await this.nestedGroups(name);
    if (this.required.length === 0) return all;
    const allowed = all.filter((group) => this.required.includes(group));
    if (allowed.length === 0)
      throw new ConnectorError(`crowd: user "${name}" is not in any of the required groups`, USER.notAllowed);
    return scopes.groups ? allowed : [];
  }

  private async nestedGroups(name: string): Promise<string[]> {
    const names: string[] = [];
    for (let start = 0; ; start += this.groupsPageSize) {
      const path = `/user/group/nested?username=${encodeURIComponent(name)}&start-index=${start}&max-results=${this.groupsPageSize}`;
      const answer = await this.request('GET', path);
      const page = groupsSchema.safeParse(answer.body);
      if (answer.status !== 200 || !page.success) throw this.unexpected('GET /user/group/nested', answer);
      names.push(...page.data.groups.map((group) => group.name));
      if (page.data.groups.length < this.groupsPageSize) return names;
    }
  }

  /** One REST call as the Crowd application; the body parsed when it is JSON, else the text. */
  private async request(
    method: 'GET' | 'POST',
    path: string,
    payload?: unknown,
  ): Promise<{ status: number; body: unknown; text: string }> {
    const basic = Buffer.from(`${this.config.clientID}:${this.config.clientSecret}`).toString('base64');
    const response = await send(this.http, `${this.api}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        authorization: `Basic ${basic}`,
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
    });
    const text = await response.text().catch((err: unknown) => {
      throw new UpstreamError(`${method} ${path}: reading the response failed`, response.status, true, { cause: err });
    });
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Crowd answers some errors (a refused application) in plain text.
    }
    return { status: response.status, body, text };
  }

  /**
   * Dex's readings of Crowd's answers: the refused application, the forbidden address, else Crowd's words.
   * The first two are idport's configuration, not the user's doing, so they are temporary: a refresh
   * answers "try again later" instead of ending every user's tokens.
   */
  private unexpected(what: string, answer: { status: number; body: unknown; text: string }): UpstreamError {
    if (answer.status === 401 && answer.text === 'Application failed to authenticate')
      return new UpstreamError(
        `idport failed to authenticate Crowd Application with ID "${this.config.clientID}"`,
        401,
        true,
      );
    if (answer.status === 403 && answer.text.includes('The server understood the request but refuses to authorize it.'))
      return new UpstreamError(
        `idport is forbidden from making requests to the Atlassian Crowd application by URL "${this.config.baseURL}"`,
        403,
        true,
      );
    const error = errorSchema.safeParse(answer.body);
    const detail =
      error.success && error.data.message !== ''
        ? `${error.data.reason}: ${error.data.message}`
        : answer.text.slice(0, 200);
    this.log.debug({ status: answer.status, detail }, 'crowd answered unexpectedly');
    return new UpstreamError(
      `${what}: HTTP ${answer.status} ${detail}`,
      answer.status,
      answer.status >= 500 || answer.status === 429,
    );
  }
}

function failure(step: string, err: unknown, userMessage: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof UpstreamError)
    return new ConnectorError(`crowd: ${step}: ${err.message}`, err.temporary ? USER.unreachable : userMessage, {
      cause: err,
      temporary: err.temporary,
    });
  return new ConnectorError(`crowd: ${step}: ${err instanceof Error ? err.message : String(err)}`, userMessage, {
    cause: err,
  });
}

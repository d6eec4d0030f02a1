/**
 * The `keystone` connector (Dex's connector/keystone): a password login against OpenStack Keystone's
 * v3 API. The user id (and so `sub`) is Keystone's user id; groups are the names of the user's groups;
 * the email, when Keystone has one, is reported verified. Refresh asks Keystone with the configured
 * admin account whether the user still exists (and re-reads the groups), as Dex does.
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
import { readJson, send, UpstreamError, type UpstreamHttp } from '../oauth/oauth2.js';
import { upstreamFetch } from '../oidc/http.js';
import { configSchema, domainOf, type KeystoneConfig } from './config.js';

export { configSchema, type KeystoneConfig } from './config.js';

/** Knobs that are not part of Dex's config. */
export interface KeystoneOptions {
  readonly timeoutSeconds?: number;
}

const USER = {
  failed: 'Keystone could not complete the login.',
  unreachable: 'Keystone is not reachable. Please try again later.',
  sessionEnded: 'Your Keystone account is no longer available. Please log in again.',
} as const;

const DEFAULT_TIMEOUT_SECONDS = 30;

const tokenSchema = z.looseObject({ token: z.looseObject({ user: z.looseObject({ id: z.string().min(1) }) }) });
const userSchema = z.looseObject({
  user: z.looseObject({ id: z.string(), name: z.string(), email: z.string().optional() }),
});
const groupsSchema = z.looseObject({ groups: z.array(z.looseObject({ id: z.string(), name: z.string() })) });

/** Opens the connector (no network: Keystone is first contacted at a login). */
export async function open(
  id: string,
  config: KeystoneConfig,
  deps: ConnectorDeps,
  options: KeystoneOptions = {},
): Promise<Connector> {
  const closing = new AbortController();
  const http: UpstreamHttp = {
    fetch: upstreamFetch(deps.fetch, undefined, closing.signal),
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    closing: closing.signal,
  };
  return new KeystoneConnector(config, http, closing, deps.log.child({ connector: id }));
}

/** The connector module for the registry. */
export const keystone = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

class KeystoneConnector implements PasswordConnector, Refreshable {
  readonly kind = 'password';
  private readonly host: string;

  constructor(
    private readonly config: KeystoneConfig,
    private readonly http: UpstreamHttp,
    private readonly closing: AbortController,
    private readonly log: Logger,
  ) {
    this.host = config.keystoneHost.replace(/\/+$/, '');
  }

  prompt(): string {
    return 'username';
  }

  async login(scopes: Scopes, username: string, password: string): Promise<Identity | undefined> {
    try {
      const session = await this.authenticate(username, password);
      if (session === undefined) return undefined;
      const groups = scopes.groups ? await this.groups(session.userId, session.token) : [];
      const user = await this.user(session.userId, session.token);
      if (user === undefined) throw new UpstreamError(`GET /v3/users/${session.userId}: not found`, 404, false);
      const email = user.email ?? '';
      // Dex: the name typed in is the username; the email is trusted as verified when Keystone has one.
      return { userId: session.userId, username, email, emailVerified: email !== '', groups };
    } catch (err: unknown) {
      throw failure('login', err, USER.failed);
    }
  }

  async refresh(scopes: Scopes, identity: Identity): Promise<Identity> {
    let admin: { userId: string; token: string } | undefined;
    try {
      admin = await this.authenticate(this.config.keystoneUsername, this.config.keystonePassword);
    } catch (err: unknown) {
      throw failure('admin login', err, USER.unreachable, true);
    }
    // The admin account is idport's, so its refusal says nothing about the user: try again later.
    if (admin === undefined)
      throw new ConnectorError(
        'keystone: failed to obtain admin token: invalid keystoneUsername or keystonePassword',
        USER.unreachable,
        {
          temporary: true,
        },
      );
    try {
      if ((await this.user(identity.userId, admin.token)) === undefined)
        throw new ConnectorError(`keystone: user "${identity.userId}" does not exist`, USER.sessionEnded);
      const groups = scopes.groups ? await this.groups(identity.userId, admin.token) : identity.groups;
      return { ...identity, groups };
    } catch (err: unknown) {
      throw failure('refresh', err, USER.sessionEnded);
    }
  }

  async close(): Promise<void> {
    this.closing.abort(new Error('connector closed'));
  }

  /** Password authentication, unscoped (Keystone: POST /v3/auth/tokens); undefined for wrong credentials. */
  private async authenticate(name: string, password: string): Promise<{ userId: string; token: string } | undefined> {
    const body = {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name, domain: domainOf(this.config.domain), password } },
        },
      },
    };
    const response = await send(this.http, `${this.host}/v3/auth/tokens/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    // Dex reports 401 as a failure; idport treats it as what Keystone means by it, wrong credentials.
    if (response.status === 401) {
      await response.body?.cancel();
      this.log.debug({ user: name }, 'keystone refused the credentials');
      return undefined;
    }
    const parsed = tokenSchema.safeParse(await readJson('POST /v3/auth/tokens', response, [201]));
    const token = response.headers.get('x-subject-token') ?? '';
    if (!parsed.success || token === '')
      throw new UpstreamError('POST /v3/auth/tokens: invalid token response', response.status, false);
    return { userId: parsed.data.token.user.id, token };
  }

  /** GET /v3/users/{id}; undefined when Keystone has no such user. */
  private async user(userId: string, token: string): Promise<z.infer<typeof userSchema>['user'] | undefined> {
    const path = `/v3/users/${encodeURIComponent(userId)}`;
    const response = await send(this.http, `${this.host}${path}`, {
      method: 'GET',
      headers: { 'x-auth-token': token, accept: 'application/json' },
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    const parsed = userSchema.safeParse(await readJson(`GET ${path}`, response));
    if (!parsed.success) throw new UpstreamError(`GET ${path}: unexpected response`, 200, false);
    return parsed.data.user;
  }

  /** The names of the user's groups (GET /v3/users/{id}/groups). */
  private async groups(userId: string, token: string): Promise<string[]> {
    const path = `/v3/users/${encodeURIComponent(userId)}/groups`;
    const response = await send(this.http, `${this.host}${path}`, {
      method: 'GET',
      headers: { 'x-auth-token': token, accept: 'application/json' },
    });
    const parsed = groupsSchema.safeParse(await readJson(`GET ${path}`, response));
    if (!parsed.success) throw new UpstreamError(`GET ${path}: unexpected response`, 200, false);
    return parsed.data.groups.map((group) => group.name);
  }
}

function failure(step: string, err: unknown, userMessage: string, alwaysTemporary = false): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof UpstreamError) {
    const temporary = alwaysTemporary || err.temporary;
    return new ConnectorError(`keystone: ${step}: ${err.message}`, err.temporary ? USER.unreachable : userMessage, {
      cause: err,
      temporary,
    });
  }
  return new ConnectorError(`keystone: ${step}: ${err instanceof Error ? err.message : String(err)}`, userMessage, {
    cause: err,
  });
}

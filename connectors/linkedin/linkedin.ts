/**
 * The `linkedin` connector (Dex's connector/linkedin): LinkedIn's OAuth 2.0 web flow with the
 * r_liteprofile and r_emailaddress scopes, the member read from /me and /emailAddress. The user id
 * (and so `sub`) is the member id; there are no groups. Refresh re-reads the member with the stored
 * access token (Dex's connector data). `baseURL` and `apiURL` are idport additions (Dex hard-codes
 * LinkedIn's hosts), so the connector can be pointed at a proxy or a test server.
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
import {
  authCodeUrl,
  exchangeCode,
  getJson,
  type OAuth2Client,
  UpstreamError,
  type UpstreamHttp,
} from '../oauth/oauth2.js';
import { upstreamFetch } from '../oidc/http.js';

import { configSchema, type LinkedinConfig } from './config.js';

export { configSchema, type LinkedinConfig } from './config.js';

export interface LinkedinOptions {
  readonly timeoutSeconds?: number;
}

const USER = {
  denied: 'LinkedIn did not authorize the login.',
  failed: 'LinkedIn could not complete the login.',
  unreachable: 'LinkedIn is not reachable. Please try again later.',
  sessionEnded: 'Your LinkedIn authorization has ended. Please log in again.',
} as const;

const profileSchema = z.looseObject({
  id: z.string().min(1),
  localizedFirstName: z.string().default(''),
  localizedLastName: z.string().default(''),
});
const emailsSchema = z.looseObject({
  elements: z.array(z.looseObject({ 'handle~': z.looseObject({ emailAddress: z.string().default('') }).optional() })),
});
const connectorDataSchema = z.object({ accessToken: z.string().min(1) });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens the connector (no network: LinkedIn is first contacted at a login). */
export async function open(
  id: string,
  config: LinkedinConfig,
  deps: ConnectorDeps,
  options: LinkedinOptions = {},
): Promise<Connector> {
  const closing = new AbortController();
  const http: UpstreamHttp = {
    fetch: upstreamFetch(deps.fetch, undefined, closing.signal),
    timeoutMs: (options.timeoutSeconds ?? 30) * 1000,
    closing: closing.signal,
  };
  const base = config.baseURL.replace(/\/+$/, '');
  const client: OAuth2Client = {
    clientId: config.clientID,
    clientSecret: config.clientSecret,
    authorizationUrl: `${base}/oauth/v2/authorization`,
    tokenUrl: `${base}/oauth/v2/accessToken`,
    redirectUri: config.redirectURI,
    scopes: ['r_liteprofile', 'r_emailaddress'],
  };
  deps.log.child({ connector: id }).debug({ baseURL: base }, 'linkedin connector opened');
  return new LinkedinConnector({ client, apiUrl: config.apiURL.replace(/\/+$/, ''), http, closing, now: deps.now });
}

/** The connector module for the registry. */
export const linkedin = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

interface LinkedinParts {
  readonly client: OAuth2Client;
  readonly apiUrl: string;
  readonly http: UpstreamHttp;
  readonly closing: AbortController;
  readonly now: () => Date;
}

class LinkedinConnector implements CallbackConnector, Refreshable {
  readonly kind = 'callback';

  private readonly client: OAuth2Client;
  private readonly apiUrl: string;
  private readonly http: UpstreamHttp;
  private readonly closing: AbortController;
  private readonly now: () => Date;

  constructor(parts: LinkedinParts) {
    this.client = parts.client;
    this.apiUrl = parts.apiUrl;
    this.http = parts.http;
    this.closing = parts.closing;
    this.now = parts.now;
  }

  async loginUrl(_scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string }> {
    if (callbackUrl !== this.client.redirectUri)
      throw new ConnectorError(
        `callback URL ${callbackUrl} does not match redirectURI ${this.client.redirectUri} in the connector config`,
        USER.failed,
      );
    return { url: authCodeUrl(this.client, state) };
  }

  async handleCallback(scopes: Scopes, _state: Uint8Array | undefined, query: URLSearchParams): Promise<Identity> {
    const error = query.get('error');
    if (error !== null)
      throw new ConnectorError(
        `linkedin returned error=${error}: ${query.get('error_description') ?? ''}`,
        error === 'user_cancelled_login' || error === 'user_cancelled_authorize' ? USER.denied : USER.failed,
      );
    try {
      const token = await exchangeCode(this.http, this.client, query.get('code') ?? '', this.now());
      const profile = await this.profile(token.accessToken);
      const connectorData = scopes.offlineAccess
        ? encoder.encode(JSON.stringify({ accessToken: token.accessToken }))
        : undefined;
      return {
        userId: profile.id,
        username: profile.name,
        email: profile.email,
        emailVerified: true,
        groups: [],
        connectorData,
      };
    } catch (err: unknown) {
      throw failure(err, USER.failed);
    }
  }

  async refresh(_scopes: Scopes, identity: Identity): Promise<Identity> {
    let accessToken: string;
    try {
      accessToken = connectorDataSchema.parse(JSON.parse(decoder.decode(identity.connectorData))).accessToken;
    } catch (err: unknown) {
      throw new ConnectorError('linkedin: no upstream access token found', USER.sessionEnded, { cause: err });
    }
    try {
      const profile = await this.profile(accessToken);
      return { ...identity, username: profile.name, email: profile.email };
    } catch (err: unknown) {
      throw failure(err, USER.sessionEnded);
    }
  }

  async close(): Promise<void> {
    this.closing.abort(new Error('connector closed'));
  }

  // Dex: the full name, or the email when the name is empty; the last email element listed.
  private async profile(accessToken: string): Promise<{ id: string; name: string; email: string }> {
    const me = profileSchema.safeParse(await getJson(this.http, `${this.apiUrl}/me`, accessToken));
    if (!me.success) throw new UpstreamError('GET /me: unexpected response', 200, false);
    const emails = emailsSchema.safeParse(
      await getJson(this.http, `${this.apiUrl}/emailAddress?q=members&projection=(elements*(handle~))`, accessToken),
    );
    const email = emails.success ? (emails.data.elements.at(-1)?.['handle~']?.emailAddress ?? '') : '';
    if (email === '') throw new UpstreamError('fetching email: email is not set', 200, false);
    const name = `${me.data.localizedFirstName} ${me.data.localizedLastName}`.trim();
    return { id: me.data.id, name: name === '' ? email : name, email };
  }
}

function failure(err: unknown, userMessage: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof UpstreamError)
    return new ConnectorError(`linkedin: ${err.message}`, err.temporary ? USER.unreachable : userMessage, {
      cause: err,
      temporary: err.temporary,
    });
  return new ConnectorError(`linkedin: ${err instanceof Error ? err.message : String(err)}`, userMessage, {
    cause: err,
  });
}

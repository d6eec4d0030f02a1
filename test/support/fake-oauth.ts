/**
 * The OAuth 2.0 authorization server part shared by the fake providers (Microsoft, Google, GitLab,
 * Gitea, Bitbucket Cloud) on a loopback port: an authorize page that redirects back with a code (or
 * error=access_denied), a token endpoint with RFC 6749's shapes (authorization_code and refresh_token
 * grants, HTTP Basic or form client authentication, 400 invalid_grant / 401 invalid_client errors),
 * expiring access tokens, rotating refresh tokens, revocation per user and an outage mode (503). Each
 * provider's API is a handler given the request and the bearer token's owner.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake received (for assertions on what the client sent). */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** Who a code or token was issued to. */
export interface Grant {
  readonly login: string;
  readonly scopes: readonly string[];
  /** Parameters of the authorization request (e.g. the OIDC nonce). */
  readonly authorize: URLSearchParams;
}

/** An API request with its bearer token's grant (undefined for a missing, unknown or expired token). */
export interface ApiCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly body: string;
  readonly grant: Grant | undefined;
  /** Origin of the fake as the client addressed it. */
  readonly origin: string;
}

export interface FakeOAuthOptions {
  readonly authorizePath: string;
  readonly tokenPath: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Lifetime of access tokens in seconds (sent as expires_in); omitted: tokens do not expire. */
  readonly expiresIn?: number;
  /** Whether a grant gets a refresh token (Microsoft: only with offline_access). Default: always. */
  readonly issueRefreshToken?: (grant: Grant) => boolean;
  /** Extra members of the token response (Google's id_token). */
  readonly tokenExtras?: (grant: Grant, origin: string, kind: 'code' | 'refresh') => Promise<Record<string, unknown>>;
  /** Whether a refresh grant replaces the refresh token (default) or keeps it and sends none (Google). */
  readonly rotateRefreshTokens?: boolean;
  /** Another grant type (Google's JWT bearer): answers it and returns true, or returns false. */
  readonly otherGrant?: (form: URLSearchParams, res: ServerResponse, origin: string) => Promise<boolean>;
  /** A client assertion accepted instead of a secret (Microsoft's workload identity federation). */
  readonly clientAssertion?: string;
  /** The provider's API: answers every request that is not the authorize or token endpoint. */
  readonly api: (call: ApiCall) => void | Promise<void>;
}

export interface FakeOAuth {
  readonly origin: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly requests: FakeRequest[];
  /** Who the next authorization logs in as, or `deny` for a user who refuses (error=access_denied). */
  loginAs(login: string): void;
  /** Revokes every access and refresh token of the user (the user removed the app); returns how many. */
  revokeTokens(login: string): number;
  /** Makes every access token issued so far expire (a test need not wait for expires_in). */
  expireAccessTokens(): void;
  /** While down, every request is answered 503. */
  setDown(isDown: boolean): void;
  /** The callback URL registered with the app, used when an authorization request names none. */
  registerCallback(uri: string): void;
  close(): Promise<void>;
}

export const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void =>
  void res
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
    .end(JSON.stringify(body));

/** Starts the fake on a free loopback port. */
export async function startFakeOAuth(options: FakeOAuthOptions): Promise<FakeOAuth> {
  const clientId = options.clientId ?? 'fake-client-id';
  const clientSecret = options.clientSecret ?? 'fake client secret/+=';
  const codes = new Map<string, Grant & { redirectUri: string | null }>();
  const accessTokens = new Map<string, Grant & { expired: boolean }>();
  const refreshTokens = new Map<string, Grant>();
  const requests: FakeRequest[] = [];
  let nextLogin = 'deny';
  let isDown = false;
  let registeredCallback: string | undefined;

  const authorize = (url: URL, res: ServerResponse): void => {
    const redirectUri = url.searchParams.get('redirect_uri');
    if (url.searchParams.get('client_id') !== clientId || url.searchParams.get('response_type') !== 'code') {
      res.writeHead(400, { 'content-type': 'text/html' }).end('<h1>Invalid client or response_type</h1>');
      return;
    }
    // Without redirect_uri (Bitbucket) the app's registered callback URL is used.
    const target = redirectUri ?? registeredCallback;
    if (target === undefined) {
      res.writeHead(400, { 'content-type': 'text/html' }).end('<h1>No redirect_uri and no registered callback</h1>');
      return;
    }
    const back = new URL(target);
    if (nextLogin === 'deny') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user denied the request.');
    } else {
      const code = randomBytes(12).toString('hex');
      const scopes = (url.searchParams.get('scope') ?? '').split(/[ ,+]+/).filter(Boolean);
      codes.set(code, { login: nextLogin, scopes, authorize: url.searchParams, redirectUri });
      back.searchParams.set('code', code);
    }
    const state = url.searchParams.get('state');
    if (state !== null) back.searchParams.set('state', state);
    res.writeHead(302, { location: back.href }).end();
  };

  const clientAuthenticated = (req: IncomingMessage, form: URLSearchParams): boolean => {
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (basic !== undefined) {
      const [id = '', secret = ''] = Buffer.from(basic, 'base64').toString().split(':');
      const decode = (v: string): string => decodeURIComponent(v.replaceAll('+', ' '));
      return decode(id) === clientId && decode(secret) === clientSecret && !form.has('client_secret');
    }
    if (form.get('client_id') !== clientId) return false;
    if (options.clientAssertion !== undefined && form.has('client_assertion'))
      return (
        form.get('client_assertion') === options.clientAssertion &&
        form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
      );
    return form.get('client_secret') === clientSecret;
  };

  const token = async (req: IncomingMessage, body: string, res: ServerResponse, origin: string): Promise<void> => {
    const form = new URLSearchParams(body);
    if (options.otherGrant !== undefined && (await options.otherGrant(form, res, origin))) return;
    if (!clientAuthenticated(req, form))
      return json(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed.' });
    const invalidGrant = (description: string): void =>
      json(res, 400, { error: 'invalid_grant', error_description: description });
    let grant: Grant | undefined;
    const kind = form.get('grant_type') === 'refresh_token' ? 'refresh' : 'code';
    const rotate = options.rotateRefreshTokens ?? true;
    if (form.get('grant_type') === 'authorization_code') {
      const code = form.get('code') ?? '';
      const issued = codes.get(code);
      codes.delete(code); // single use
      if (issued === undefined) return invalidGrant('The authorization code is invalid or expired.');
      if (issued.redirectUri !== null && form.get('redirect_uri') !== issued.redirectUri)
        return invalidGrant('The redirect_uri does not match the one of the authorization request.');
      const challenge = issued.authorize.get('code_challenge');
      const verifier = form.get('code_verifier') ?? '';
      if (challenge !== null && createHash('sha256').update(verifier).digest('base64url') !== challenge)
        return invalidGrant('Missing code verifier.');
      grant = issued;
    } else if (form.get('grant_type') === 'refresh_token') {
      const refreshToken = form.get('refresh_token') ?? '';
      grant = refreshTokens.get(refreshToken);
      if (rotate) refreshTokens.delete(refreshToken);
      if (grant === undefined) return invalidGrant('The refresh token is invalid, expired or revoked.');
    } else {
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    const accessToken = `at_${randomBytes(16).toString('base64url')}`;
    accessTokens.set(accessToken, { ...grant, expired: false });
    const reply: Record<string, unknown> = {
      access_token: accessToken,
      token_type: 'Bearer',
      scope: grant.scopes.join(' '),
    };
    if (options.expiresIn !== undefined) reply.expires_in = options.expiresIn;
    if ((kind === 'code' || rotate) && (options.issueRefreshToken?.(grant) ?? true)) {
      const refreshToken = `rt_${randomBytes(16).toString('base64url')}`;
      refreshTokens.set(refreshToken, grant);
      reply.refresh_token = refreshToken;
    }
    Object.assign(reply, await options.tokenExtras?.(grant, origin, kind));
    json(res, 200, reply, { 'cache-control': 'no-store' });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body = '';
    req
      .setEncoding('utf8')
      .on('data', (chunk: string) => (body += chunk))
      .on('end', () => {
        requests.push({
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
        });
        const origin = `http://${req.headers.host ?? '127.0.0.1'}`;
        if (isDown) return void res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>Service Unavailable</h1>');
        const handle = async (): Promise<void> => {
          if (req.method === 'GET' && url.pathname === options.authorizePath) return authorize(url, res);
          if (req.method === 'POST' && url.pathname === options.tokenPath) return token(req, body, res, origin);
          const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
          const issued = bearer === undefined ? undefined : accessTokens.get(bearer);
          const grant = issued === undefined || issued.expired ? undefined : issued;
          return options.api({ req, res, url, body, grant, origin });
        };
        handle().catch((err: unknown) => json(res, 500, { message: String(err) }));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    clientId,
    clientSecret,
    requests,
    loginAs: (login) => void (nextLogin = login),
    revokeTokens: (login) => {
      let revoked = 0;
      for (const map of [accessTokens, refreshTokens]) {
        for (const [value, grant] of map) {
          if (grant.login === login) {
            map.delete(value);
            revoked++;
          }
        }
      }
      return revoked;
    },
    expireAccessTokens: () => {
      for (const [value, grant] of accessTokens) accessTokens.set(value, { ...grant, expired: true });
    },
    setDown: (down) => void (isDown = down),
    registerCallback: (uri) => void (registeredCallback = uri),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}

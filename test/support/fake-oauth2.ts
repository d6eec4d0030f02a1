/**
 * A small OAuth 2.0 authorization server on a loopback port, the common part of the fake providers
 * (generic OAuth, OpenShift, LinkedIn): an authorization endpoint that redirects back with a code (or
 * error=access_denied), a token endpoint speaking RFC 6749 §5 (JSON grants and JSON errors, single-use
 * codes, rotating refresh tokens, expiring access tokens, Basic or form client authentication), and
 * the provider's own resource routes, which get the user the bearer token belongs to. Tokens can be
 * revoked and the whole service taken down (503), so refresh and outage paths can be exercised.
 */
import { randomBytes } from 'node:crypto';
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

/** A resource answer: JSON with a status (and headers). */
export interface FakeAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

/** What a resource route sees: the request, and the login its bearer token belongs to (undefined: none or revoked). */
export interface ResourceRequest extends FakeRequest {
  readonly login: string | undefined;
  /** The origin the fake listens on, for building absolute links. */
  readonly origin: string;
}

export interface FakeOAuth2Options {
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly authorizePath?: string;
  readonly tokenPath?: string;
  /** How the token endpoint wants the client to authenticate (both: either). Default both. */
  readonly clientAuth?: 'basic' | 'post' | 'both';
  /** Access tokens expire after this many seconds and come with refresh tokens; default: never, none. */
  readonly accessTokenSeconds?: number;
  /** Access tokens as unsigned JWTs carrying these claims of the user (as some providers' are). */
  readonly accessTokenClaims?: (login: string) => Record<string, unknown>;
  /** The provider's own routes; undefined answers 404. */
  readonly resources: (request: ResourceRequest) => FakeAnswer | undefined;
  /** The first login the authorization endpoint logs in as. */
  readonly firstLogin: string;
}

export interface FakeOAuth2 {
  readonly origin: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly requests: FakeRequest[];
  /** Who the next authorization logs in as, or `deny` for a user who refuses (error=access_denied). */
  loginAs(login: string | 'deny'): void;
  /** Revokes every access and refresh token of the user; returns how many. */
  revokeTokens(login: string): number;
  /** Lets the access tokens issued so far expire (the next use of one is refused). */
  expireAccessTokens(): void;
  /** While down, every request is answered 503. */
  setDown(isDown: boolean): void;
  close(): Promise<void>;
}

interface Grant {
  readonly login: string;
  readonly scope: string;
  readonly redirectUri: string;
}

/** Starts the fake on a free loopback port. */
export async function startFakeOAuth2(options: FakeOAuth2Options): Promise<FakeOAuth2> {
  const clientId = options.clientId ?? 'fake-client';
  const clientSecret = options.clientSecret ?? 'fake-client-secret';
  const authorizePath = options.authorizePath ?? '/oauth/authorize';
  const tokenPath = options.tokenPath ?? '/oauth/token';
  const clientAuth = options.clientAuth ?? 'both';
  const codes = new Map<string, Grant>();
  const accessTokens = new Map<string, Grant & { expired: boolean }>();
  const refreshTokens = new Map<string, Grant>();
  const requests: FakeRequest[] = [];
  let nextLogin = options.firstLogin;
  let isDown = false;
  let origin = '';

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void =>
    void res
      .writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers })
      .end(JSON.stringify(body));

  const authorize = (url: URL, res: ServerResponse): void => {
    const redirectUri = url.searchParams.get('redirect_uri') ?? '';
    if (url.searchParams.get('client_id') !== clientId || redirectUri === '') {
      res.writeHead(400, { 'content-type': 'text/html' }).end('<h1>invalid client or redirect_uri</h1>');
      return;
    }
    const back = new URL(redirectUri);
    if (nextLogin === 'deny') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The resource owner denied the request.');
    } else {
      const code = randomBytes(12).toString('hex');
      codes.set(code, { login: nextLogin, scope: url.searchParams.get('scope') ?? '', redirectUri });
      back.searchParams.set('code', code);
    }
    const state = url.searchParams.get('state');
    if (state !== null) back.searchParams.set('state', state);
    res.writeHead(302, { location: back.href }).end();
  };

  const clientOf = (req: IncomingMessage, form: URLSearchParams): { id: string; secret: string } | undefined => {
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Basic ') && clientAuth !== 'post') {
      const [id = '', secret = ''] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
      return { id: decodeURIComponent(id), secret: decodeURIComponent(secret) };
    }
    if (form.has('client_id') && clientAuth !== 'basic')
      return { id: form.get('client_id') ?? '', secret: form.get('client_secret') ?? '' };
    return undefined;
  };

  const issue = (res: ServerResponse, grant: Grant): void => {
    const claims = options.accessTokenClaims?.(grant.login);
    const opaque = randomBytes(18).toString('base64url');
    const accessToken =
      claims === undefined
        ? `at_${opaque}`
        : `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, jti: opaque })).toString('base64url')}.`;
    accessTokens.set(accessToken, { ...grant, expired: false });
    const body: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer', scope: grant.scope };
    if (options.accessTokenSeconds !== undefined) {
      const refreshToken = `rt_${randomBytes(18).toString('base64url')}`;
      refreshTokens.set(refreshToken, grant);
      body.expires_in = options.accessTokenSeconds;
      body.refresh_token = refreshToken;
    }
    json(res, 200, body);
  };

  const token = (req: IncomingMessage, body: string, res: ServerResponse): void => {
    const form = new URLSearchParams(body);
    const client = clientOf(req, form);
    if (client === undefined || client.id !== clientId || client.secret !== clientSecret) {
      json(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed.' });
      return;
    }
    if (form.get('grant_type') === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      const grant = refreshTokens.get(presented);
      refreshTokens.delete(presented); // rotated
      if (grant === undefined)
        return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid refresh token.' });
      return issue(res, grant);
    }
    if (form.get('grant_type') !== 'authorization_code')
      return json(res, 400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant type.' });
    const code = form.get('code') ?? '';
    const grant = codes.get(code);
    codes.delete(code); // single use
    if (grant === undefined)
      return json(res, 400, {
        error: 'invalid_grant',
        error_description: 'The authorization code is invalid or expired.',
      });
    if (form.get('redirect_uri') !== grant.redirectUri)
      return json(res, 400, { error: 'invalid_grant', error_description: 'The redirect_uri does not match.' });
    issue(res, grant);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body = '';
    req
      .setEncoding('utf8')
      .on('data', (chunk: string) => (body += chunk))
      .on('end', () => {
        const request: FakeRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
        };
        requests.push(request);
        if (isDown)
          return void res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>503 Service Unavailable</h1>');
        if (req.method === 'GET' && url.pathname === authorizePath) return authorize(url, res);
        if (req.method === 'POST' && url.pathname === tokenPath) return token(req, body, res);
        const bearer = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
        const grant = accessTokens.get(bearer);
        const login = grant === undefined || grant.expired ? undefined : grant.login;
        const answer = options.resources({ ...request, login, origin });
        if (answer === undefined) return json(res, 404, { error: 'not_found' });
        json(res, answer.status, answer.body, answer.headers);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

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
          if (grant.login !== login) continue;
          map.delete(value);
          revoked++;
        }
      }
      return revoked;
    },
    expireAccessTokens: () => {
      for (const [value, grant] of accessTokens) accessTokens.set(value, { ...grant, expired: true });
    },
    setDown: (down) => void (isDown = down),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}

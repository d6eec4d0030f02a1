/**
 * A small stand-in for GitHub on a loopback port, speaking the shapes of GitHub's real OAuth web flow
 * and REST API: /login/oauth/authorize (redirects back with a code, or error=access_denied),
 * /login/oauth/access_token (HTTP 200 with an `error` member for bad credentials, as GitHub does),
 * and GET /user, /user/emails, /user/orgs, /user/teams, /orgs/{org}/members/{user}, both under
 * /api/v3 (GitHub Enterprise) and at the root (api.github.com). Lists are paginated with `Link`
 * headers at a small page size, so clients must follow rel="next". Tokens can be revoked and the
 * whole service can be taken down (503).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** One of the user's addresses, as GET /user/emails lists it. */
export interface FakeEmail {
  readonly email: string;
  readonly primary: boolean;
  readonly verified: boolean;
  readonly visibility?: 'public' | 'private' | null;
}

/** A GitHub account of the fake. */
export interface FakeGithubUser {
  readonly id: number;
  readonly login: string;
  readonly name: string | null;
  /** The public email GET /user shows (null when the user keeps every address private). */
  readonly email: string | null;
  readonly emails: readonly FakeEmail[];
  readonly orgs: readonly string[];
  readonly teams: ReadonlyArray<{ readonly name: string; readonly slug: string; readonly org: string }>;
}

/** One request the fake received (for assertions on what the client sent). */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
}

export interface FakeGithub {
  /** http://127.0.0.1:PORT (https with `tls`); the http one is usable as the connector's `hostName`. */
  readonly origin: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly requests: FakeRequest[];
  /** Who the next authorization logs in as, or `deny` for a user who refuses (error=access_denied). */
  loginAs(login: string | 'deny'): void;
  /** Adds or replaces an account (a user joining or leaving orgs between login and refresh). */
  setUser(user: FakeGithubUser): void;
  /** Revokes every token of the user (the user removed the OAuth app); returns how many. */
  revokeTokens(login: string): number;
  /** While down, every request is answered 503, as during a GitHub outage. */
  setDown(isDown: boolean): void;
  /**
   * A fetch that sends https://github.com and https://api.github.com to this fake, so the connector
   * runs in github.com mode (its real URLs) with the network under the test's control.
   */
  readonly githubDotComFetch: typeof fetch;
  close(): Promise<void>;
}

interface IssuedCode {
  readonly login: string;
  readonly scopes: readonly string[];
  readonly redirectUri: string;
}
interface IssuedToken {
  readonly login: string;
  readonly scopes: readonly string[];
}

/**
 * Starts the fake on a free loopback port. `pageSize` is GitHub's per_page cap (100 at GitHub);
 * `tls` (PEM) serves https, as a GitHub Enterprise host with its own CA.
 */
export async function startFakeGithub(options: {
  users: readonly FakeGithubUser[];
  pageSize?: number;
  clientId?: string;
  clientSecret?: string;
  tls?: { cert: string; key: string };
  /** Issue expiring user tokens with refresh tokens, as a GitHub App with token expiration does. */
  expiringTokens?: boolean;
}): Promise<FakeGithub> {
  const scheme = options.tls === undefined ? 'http' : 'https';
  const clientId = options.clientId ?? 'Iv1.fakegithubclient';
  const clientSecret = options.clientSecret ?? 'fake-github-secret';
  const pageSize = options.pageSize ?? 2;
  const users = new Map(options.users.map((u) => [u.login, u]));
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, IssuedToken>();
  const refreshTokens = new Map<string, IssuedToken>();
  const requests: FakeRequest[] = [];
  let nextLogin: string = options.users[0]?.login ?? 'deny';
  let isDown = false;

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
  };
  const redirect = (res: ServerResponse, to: URL): void => void res.writeHead(302, { location: to.href }).end();

  const authorize = (url: URL, res: ServerResponse): void => {
    const redirectUri = url.searchParams.get('redirect_uri') ?? '';
    if (url.searchParams.get('client_id') !== clientId || redirectUri === '') {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404 Not Found</h1>');
      return;
    }
    const back = new URL(redirectUri);
    const state = url.searchParams.get('state');
    if (nextLogin === 'deny') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user has denied your application access.');
      back.searchParams.set('error_uri', 'https://docs.github.com/apps/troubleshooting-authorization-requests');
    } else {
      const code = randomBytes(10).toString('hex');
      codes.set(code, {
        login: nextLogin,
        scopes: (url.searchParams.get('scope') ?? '').split(/[ ,]+/).filter(Boolean),
        redirectUri,
      });
      back.searchParams.set('code', code);
    }
    if (state !== null) back.searchParams.set('state', state);
    redirect(res, back);
  };

  const accessToken = (req: IncomingMessage, body: string, res: ServerResponse): void => {
    const form = new URLSearchParams(body);
    const reply = (payload: Record<string, string | number>): void => {
      // Without Accept: application/json GitHub answers form-encoded, so a client forgetting it notices.
      if ((req.headers.accept ?? '').includes('application/json')) json(res, 200, payload);
      else
        res
          .writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' })
          .end(
            new URLSearchParams(Object.entries(payload).map(([k, v]): [string, string] => [k, String(v)])).toString(),
          );
    };
    const grant = (issued: IssuedToken): void => {
      const token = `gh${options.expiringTokens === true ? 'u' : 'o'}_${randomBytes(18).toString('base64url')}`;
      tokens.set(token, issued);
      if (options.expiringTokens !== true)
        return reply({ access_token: token, token_type: 'bearer', scope: issued.scopes.join(',') });
      const refreshToken = `ghr_${randomBytes(30).toString('base64url')}`;
      refreshTokens.set(refreshToken, issued);
      return reply({
        access_token: token,
        expires_in: 28800,
        refresh_token: refreshToken,
        refresh_token_expires_in: 15897600,
        token_type: 'bearer',
        scope: '',
      });
    };
    const error = (code: string, description: string): void =>
      reply({ error: code, error_description: description, error_uri: `https://docs.github.com/apps/oauth#${code}` });
    if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
      error('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
      return;
    }
    if (form.get('grant_type') === 'refresh_token') {
      const refreshToken = form.get('refresh_token') ?? '';
      const issued = refreshTokens.get(refreshToken);
      refreshTokens.delete(refreshToken); // GitHub rotates refresh tokens
      if (issued === undefined) return error('bad_refresh_token', 'The refresh token passed is incorrect or expired.');
      return grant(issued);
    }
    const code = form.get('code') ?? '';
    const issued = codes.get(code);
    codes.delete(code); // single use
    if (issued === undefined) {
      error('bad_verification_code', 'The code passed is incorrect or expired.');
      return;
    }
    if (form.has('redirect_uri') && form.get('redirect_uri') !== issued.redirectUri) {
      error('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
      return;
    }
    grant({ login: issued.login, scopes: issued.scopes });
  };

  const api = (req: IncomingMessage, url: URL, prefix: string, path: string, res: ServerResponse): void => {
    const authorization = req.headers.authorization ?? '';
    const token = tokens.get(authorization.replace(/^(?:bearer|token)\s+/i, ''));
    const user = token === undefined ? undefined : users.get(token.login);
    if (token === undefined || user === undefined) {
      json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      return;
    }
    const notFound = (): void =>
      json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
    const hasScope = (scope: string): boolean => token.scopes.includes(scope);
    const base = `${scheme}://${req.headers.host ?? '127.0.0.1'}${prefix}${path}`;
    const paginate = (items: readonly unknown[]): void => {
      const perPage = Math.min(pageSize, Number(url.searchParams.get('per_page') ?? 30) || 30);
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
      const last = Math.max(1, Math.ceil(items.length / perPage));
      const link = (n: number, rel: string): string => `<${base}?per_page=${perPage}&page=${n}>; rel="${rel}"`;
      const links = [
        ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []),
        ...(page > 1 ? [link(1, 'first'), link(page - 1, 'prev')] : []),
      ];
      json(
        res,
        200,
        items.slice((page - 1) * perPage, page * perPage),
        links.length > 0 ? { link: links.join(', ') } : {},
      );
    };
    const member = /^\/orgs\/([^/]+)\/members\/([^/]+)$/.exec(path);
    if (path === '/user') {
      json(res, 200, {
        login: user.login,
        id: user.id,
        node_id: `U_${user.id}`,
        avatar_url: `https://avatars.githubusercontent.com/u/${user.id}?v=4`,
        type: 'User',
        site_admin: false,
        name: user.name,
        company: null,
        blog: '',
        location: null,
        email: user.email,
        hireable: null,
        bio: null,
        public_repos: 3,
        followers: 1,
        following: 0,
        created_at: '2013-01-01T00:00:00Z',
      });
    } else if (path === '/user/emails') {
      if (!hasScope('user:email') && !hasScope('user')) return notFound();
      paginate(
        user.emails.map((e) => ({
          email: e.email,
          primary: e.primary,
          verified: e.verified,
          visibility: e.visibility ?? null,
        })),
      );
    } else if (path === '/user/orgs') {
      paginate(
        user.orgs.map((login, i) => ({
          login,
          id: 1000 + i,
          node_id: `O_${i}`,
          url: `https://api.github.com/orgs/${login}`,
          description: null,
        })),
      );
    } else if (path === '/user/teams') {
      if (!hasScope('read:org')) return notFound();
      paginate(
        user.teams.map((t, i) => ({
          id: 2000 + i,
          node_id: `T_${i}`,
          name: t.name,
          slug: t.slug,
          description: null,
          privacy: 'closed',
          permission: 'pull',
          organization: { login: t.org, id: 1000 + user.orgs.indexOf(t.org), description: null },
        })),
      );
    } else if (member !== null) {
      if (!hasScope('read:org')) return notFound();
      const [, org = '', login = ''] = member.map(decodeURIComponent);
      const isMember = login === user.login && user.orgs.includes(org);
      // GitHub: 204 for a member; 302 to the public-members check when the requester is not in the org.
      if (isMember) res.writeHead(204).end();
      else redirect(res, new URL(`${prefix}/orgs/${org}/public_members/${login}`, base));
    } else {
      notFound();
    }
  };

  const handler: RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers });
    let body = '';
    req
      .setEncoding('utf8')
      .on('data', (chunk: string) => (body += chunk))
      .on('end', () => {
        if (isDown) {
          res
            .writeHead(503, { 'content-type': 'text/html' })
            .end('<h1>Unicorn! This page is taking too long to load.</h1>');
          return;
        }
        if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') return authorize(url, res);
        if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') return accessToken(req, body, res);
        const prefix = url.pathname.startsWith('/api/v3/') ? '/api/v3' : '';
        if (req.method === 'GET') return api(req, url, prefix, url.pathname.slice(prefix.length), res);
        return json(res, 404, { message: 'Not Found' });
      });
  };
  const server = options.tls === undefined ? createServer(handler) : createTlsServer(options.tls, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const githubDotComFetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    if (url.host === 'github.com' || url.host === 'api.github.com') url.href = `${origin}${url.pathname}${url.search}`;
    const response = await fetch(url, init);
    // Link headers name the public API host, as GitHub's own do.
    const headers = new Headers(response.headers);
    const link = headers.get('link');
    if (link !== null && input.toString().startsWith('https://api.github.com/'))
      headers.set('link', link.replaceAll(origin, 'https://api.github.com'));
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };

  return {
    origin,
    clientId,
    clientSecret,
    requests,
    loginAs: (login) => void (nextLogin = login),
    setUser: (user) => void users.set(user.login, user),
    revokeTokens: (login) => {
      let revoked = 0;
      for (const map of [tokens, refreshTokens]) {
        for (const [token, issued] of map) {
          if (issued.login === login) {
            map.delete(token);
            revoked++;
          }
        }
      }
      return revoked;
    },
    setDown: (down) => void (isDown = down),
    githubDotComFetch,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}

/**
 * A stand-in for a Gitea instance on a loopback port, in Gitea's real shapes: /login/oauth/authorize and
 * /login/oauth/access_token (one-hour tokens, rotating refresh tokens), GET /api/v1/user and GET
 * /api/v1/user/teams (paged with `page`/`limit`, Link and X-Total-Count headers), with Gitea's
 * `{"message", "url"}` errors.
 */
import { type FakeOAuth, json, startFakeOAuth } from './fake-oauth.js';

export interface FakeGiteaUser {
  readonly id: number;
  readonly login: string;
  readonly fullName: string;
  readonly email: string;
  readonly teams: ReadonlyArray<{ readonly org: string; readonly team: string }>;
}

export interface FakeGitea extends FakeOAuth {
  /** Adds or replaces an account (keyed by login; loginAs takes the login). */
  setUser(user: FakeGiteaUser): void;
  /** Deletes the account: its tokens stop working. */
  deleteUser(login: string): void;
}

export async function startFakeGitea(options: {
  users: readonly FakeGiteaUser[];
  pageSize?: number;
}): Promise<FakeGitea> {
  const users = new Map(options.users.map((u) => [u.login, u]));
  const maxLimit = options.pageSize ?? 50;
  const fake = await startFakeOAuth({
    authorizePath: '/login/oauth/authorize',
    tokenPath: '/login/oauth/access_token',
    expiresIn: 3600,
    api: ({ req, res, url, grant, origin }) => {
      const user = grant === undefined ? undefined : users.get(grant.login);
      if (grant === undefined || user === undefined)
        return json(res, 401, { message: 'invalid username, password or token', url: `${origin}/api/swagger` });
      if (req.method === 'GET' && url.pathname === '/api/v1/user')
        return json(res, 200, {
          id: user.id,
          login: user.login,
          login_name: '',
          full_name: user.fullName,
          email: user.email,
          avatar_url: `${origin}/avatars/${user.id}`,
          language: 'en-US',
          is_admin: false,
          active: true,
          prohibit_login: false,
        });
      if (req.method === 'GET' && url.pathname === '/api/v1/user/teams') {
        const limit = Math.min(maxLimit, Number(url.searchParams.get('limit') ?? maxLimit));
        const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
        const slice = user.teams.slice((page - 1) * limit, page * limit);
        const last = Math.max(1, Math.ceil(user.teams.length / limit));
        const link = (n: number, rel: string): string =>
          `<${origin}/api/v1/user/teams?limit=${limit}&page=${n}>; rel="${rel}"`;
        const links = [
          ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []),
          ...(page > 1 ? [link(1, 'first'), link(page - 1, 'prev')] : []),
        ];
        return json(
          res,
          200,
          slice.map((t, i) => ({
            id: 100 + i,
            name: t.team,
            description: '',
            organization: { id: t.org.length, name: t.org, username: t.org, full_name: t.org, visibility: 'public' },
            includes_all_repositories: false,
            permission: 'read',
          })),
          { 'x-total-count': String(user.teams.length), ...(links.length > 0 ? { link: links.join(',') } : {}) },
        );
      }
      return json(res, 404, { message: "The target couldn't be found.", url: `${origin}/api/swagger` });
    },
  });
  return {
    ...fake,
    setUser: (user) => void users.set(user.login, user),
    deleteUser: (login) => void users.delete(login),
  };
}

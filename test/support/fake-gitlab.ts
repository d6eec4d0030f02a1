/**
 * A stand-in for a GitLab instance on a loopback port, in GitLab's real shapes: /oauth/authorize and
 * /oauth/token (Doorkeeper: two-hour tokens with `created_at`, rotating refresh tokens), GET /api/v4/user,
 * /oauth/userinfo (needs the openid scope; `groups` and the groups permission claims), GET /api/v4/groups
 * (needs read_api; paged with `page`/`per_page` and GitLab's x-next-page headers) and GET
 * /api/v4/groups/:id/members/all/:user_id, with `{"message": ...}` errors.
 */
import { type FakeOAuth, json, startFakeOAuth } from './fake-oauth.js';

export interface FakeGitlabMembership {
  readonly id: number;
  readonly fullPath: string;
  /** GitLab's access level (10 guest … 50 owner). */
  readonly accessLevel: number;
  /** False for a subgroup reached through membership of a parent group. */
  readonly direct: boolean;
}

export interface FakeGitlabUser {
  readonly id: number;
  readonly username: string;
  readonly name: string;
  readonly email: string;
  readonly groups: readonly FakeGitlabMembership[];
}

export interface FakeGitlab extends FakeOAuth {
  /** Adds or replaces an account (keyed by username; loginAs takes the username). */
  setUser(user: FakeGitlabUser): void;
  /** Blocks the account: its tokens get 403 as GitLab answers for a blocked user. */
  blockUser(username: string): void;
}

const LEVEL_CLAIMS: ReadonlyArray<[number, string]> = [
  [50, 'https://gitlab.org/claims/groups/owner'],
  [40, 'https://gitlab.org/claims/groups/maintainer'],
  [30, 'https://gitlab.org/claims/groups/developer'],
];

export async function startFakeGitlab(options: { users: readonly FakeGitlabUser[] }): Promise<FakeGitlab> {
  const users = new Map(options.users.map((u) => [u.username, u]));
  const blocked = new Set<string>();
  const fake = await startFakeOAuth({
    authorizePath: '/oauth/authorize',
    tokenPath: '/oauth/token',
    expiresIn: 7200,
    tokenExtras: async () => ({ created_at: Math.floor(Date.now() / 1000) }),
    api: ({ req, res, url, grant, origin }) => {
      const user = grant === undefined ? undefined : users.get(grant.login);
      if (grant === undefined || user === undefined) return json(res, 401, { message: '401 Unauthorized' });
      if (blocked.has(user.username))
        return json(res, 403, { message: '403 Forbidden - Your account has been blocked.' });
      const has = (scope: string): boolean => grant.scopes.includes(scope) || grant.scopes.includes('api');
      const insufficient = (): void =>
        json(res, 403, {
          error: 'insufficient_scope',
          error_description: 'The request requires higher privileges than provided by the access token.',
          scope: 'read_api',
        });
      const path = url.pathname;
      if (req.method !== 'GET') return json(res, 404, { message: '404 Not Found' });
      if (path === '/api/v4/user')
        return json(res, 200, {
          id: user.id,
          username: user.username,
          name: user.name,
          state: 'active',
          avatar_url: null,
          web_url: `${origin}/${user.username}`,
          email: user.email,
          is_admin: false,
          two_factor_enabled: false,
        });
      if (path === '/oauth/userinfo') {
        if (!grant.scopes.includes('openid')) return insufficient();
        const direct = user.groups.filter((g) => g.direct);
        const body: Record<string, unknown> = {
          sub: String(user.id),
          name: user.name,
          nickname: user.username,
          preferred_username: user.username,
          email: user.email,
          email_verified: true,
          groups: direct.map((g) => g.fullPath),
        };
        for (const [level, claim] of LEVEL_CLAIMS)
          body[claim] = direct.filter((g) => g.accessLevel === level).map((g) => g.fullPath);
        return json(res, 200, body);
      }
      if (path === '/api/v4/groups') {
        if (!has('read_api')) return insufficient();
        const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 20));
        const page = Number(url.searchParams.get('page') ?? 1);
        const all = url.searchParams.get('all_available') === 'false' ? user.groups : [];
        const slice = all.slice((page - 1) * perPage, page * perPage);
        const headers: Record<string, string> = {
          'x-page': String(page),
          'x-per-page': String(perPage),
          'x-total': String(all.length),
        };
        if (page * perPage < all.length) headers['x-next-page'] = String(page + 1);
        return json(
          res,
          200,
          slice.map((g) => ({
            id: g.id,
            name: g.fullPath.split('/').at(-1),
            path: g.fullPath.split('/').at(-1),
            full_path: g.fullPath,
            visibility: 'private',
          })),
          headers,
        );
      }
      const member = /^\/api\/v4\/groups\/(\d+)\/members\/all\/(\d+)$/.exec(path);
      if (member !== null) {
        if (!has('read_api')) return insufficient();
        const membership = user.groups.find((g) => g.id === Number(member[1]));
        if (membership === undefined || Number(member[2]) !== user.id)
          return json(res, 404, { message: '404 Not found' });
        return json(res, 200, {
          id: user.id,
          username: user.username,
          name: user.name,
          state: 'active',
          access_level: membership.accessLevel,
        });
      }
      return json(res, 404, { message: '404 Not Found' });
    },
  });
  return {
    ...fake,
    setUser: (user) => void users.set(user.username, user),
    blockUser: (username) => void blocked.add(username),
  };
}

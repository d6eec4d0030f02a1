/**
 * A stand-in for Bitbucket Cloud on one loopback port, in its real shapes: /site/oauth2/authorize (back
 * to the consumer's registered callback URL) and /site/oauth2/access_token (two-hour tokens, rotating
 * refresh tokens), and the 2.0 API under /2.0: /user, /user/emails, /user/workspaces (paged objects
 * with `values` and an absolute `next` URL) and /user/workspaces/{slug}/permission, with Bitbucket's
 * `{"type": "error", "error": {"message"}}` errors. The connector's baseURL is `origin`, its apiURL
 * `origin + "/2.0"`.
 */
import { type FakeOAuth, json, startFakeOAuth } from './fake-oauth.js';

export interface FakeBitbucketUser {
  readonly uuid: string;
  readonly username: string;
  readonly emails: ReadonlyArray<{
    readonly email: string;
    readonly isPrimary: boolean;
    readonly isConfirmed: boolean;
  }>;
  /** Workspace slug → the user's permission there. */
  readonly workspaces: Readonly<Record<string, 'owner' | 'collaborator' | 'member'>>;
}

export interface FakeBitbucket extends FakeOAuth {
  readonly apiURL: string;
  /** Adds or replaces an account (keyed by username; loginAs takes the username). */
  setUser(user: FakeBitbucketUser): void;
  /** Workspaces whose permission endpoint fails (500), as when Bitbucket has a partial outage. */
  failPermissionOf(slug: string): void;
}

const bitbucketError = (message: string) => ({ type: 'error', error: { message } });

export async function startFakeBitbucket(options: {
  users: readonly FakeBitbucketUser[];
  pageSize?: number;
}): Promise<FakeBitbucket> {
  const users = new Map(options.users.map((u) => [u.username, u]));
  const pagelen = options.pageSize ?? 2;
  const failing = new Set<string>();

  const page = (items: readonly unknown[], url: URL, origin: string): Record<string, unknown> => {
    const number = Math.max(1, Number(url.searchParams.get('page') ?? 1));
    const body: Record<string, unknown> = {
      pagelen,
      page: number,
      size: items.length,
      values: items.slice((number - 1) * pagelen, number * pagelen),
    };
    if (number * pagelen < items.length) body.next = `${origin}${url.pathname}?page=${number + 1}`;
    return body;
  };

  const fake = await startFakeOAuth({
    authorizePath: '/site/oauth2/authorize',
    tokenPath: '/site/oauth2/access_token',
    expiresIn: 7200,
    api: ({ req, res, url, grant, origin }) => {
      const user = grant === undefined ? undefined : users.get(grant.login);
      if (grant === undefined || user === undefined) return json(res, 401, bitbucketError('Access token expired.'));
      if (req.method !== 'GET') return json(res, 405, bitbucketError('Method not allowed'));
      const has = (scope: string): boolean => grant.scopes.includes(scope);
      const path = url.pathname;
      if (path === '/2.0/user') {
        if (!has('account'))
          return json(res, 403, bitbucketError('Your credentials lack one or more required privilege scopes.'));
        return json(res, 200, {
          type: 'user',
          uuid: user.uuid,
          username: user.username,
          display_name: user.username.toUpperCase(),
          account_id: '557058:0000',
          nickname: user.username,
          links: { html: { href: `${origin}/${user.username}/` } },
        });
      }
      if (path === '/2.0/user/emails') {
        if (!has('email'))
          return json(res, 403, bitbucketError('Your credentials lack one or more required privilege scopes.'));
        const emails = user.emails.map((e) => ({
          type: 'email',
          email: e.email,
          is_primary: e.isPrimary,
          is_confirmed: e.isConfirmed,
        }));
        return json(res, 200, page(emails, url, origin));
      }
      if (path === '/2.0/user/workspaces') {
        const access = Object.keys(user.workspaces).map((slug) => ({
          type: 'workspace_access',
          administrator: user.workspaces[slug] === 'owner',
          workspace: { type: 'workspace_base', uuid: `{${slug}-uuid}`, slug },
        }));
        return json(res, 200, page(access, url, origin));
      }
      const permission = /^\/2\.0\/user\/workspaces\/([^/]+)\/permission$/.exec(path);
      if (permission !== null) {
        const slug = decodeURIComponent(permission[1] ?? '');
        if (failing.has(slug)) return json(res, 500, bitbucketError('Something went wrong.'));
        const level = user.workspaces[slug];
        if (level === undefined) return json(res, 404, bitbucketError(`No workspace with identifier '${slug}'.`));
        return json(res, 200, { type: 'workspace_membership', permission: level });
      }
      return json(res, 404, bitbucketError(`Resource not found: ${path}`));
    },
  });
  return {
    ...fake,
    apiURL: `${fake.origin}/2.0`,
    setUser: (user) => void users.set(user.username, user),
    failPermissionOf: (slug) => void failing.add(slug),
  };
}

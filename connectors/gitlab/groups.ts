/**
 * GitLab groups as Dex computes them: the full paths of the userinfo `groups` claim (direct
 * memberships), or with inheritedGroups every group of GET /api/v4/groups; with getGroupsPermission a
 * `path:level` entry per group, from the userinfo permission claims (which also cover subgroups) or, for
 * inherited groups they do not cover, from the user's effective membership.
 */
import { z } from 'zod';

import { type ApiClient, UpstreamRequestError } from '../webflow/client.js';

// Dex reads 100 groups a page and stops at the first shorter page.
const GROUPS_PER_PAGE = 100;
const MAX_PAGES = 100;

const userInfoSchema = z.object({
  groups: z.array(z.string()).nullable().default([]),
  'https://gitlab.org/claims/groups/owner': z.array(z.string()).nullable().default([]),
  'https://gitlab.org/claims/groups/maintainer': z.array(z.string()).nullable().default([]),
  'https://gitlab.org/claims/groups/developer': z.array(z.string()).nullable().default([]),
});
type UserInfo = z.infer<typeof userInfoSchema>;
const groupSchema = z.object({ id: z.number().int(), full_path: z.string().default(''), path: z.string().default('') });
type GitlabGroup = z.infer<typeof groupSchema>;
const memberSchema = z.object({ access_level: z.number().int() });

// GitLab's access levels by number (https://docs.gitlab.com/api/members/#roles).
const ACCESS_LEVELS = new Map<number, string>([
  [5, 'minimal_access'],
  [10, 'guest'],
  [15, 'planner'],
  [20, 'reporter'],
  [25, 'security_manager'],
  [30, 'developer'],
  [40, 'maintainer'],
  [50, 'owner'],
  [60, 'admin'],
]);

/** What to read. */
export interface GroupOptions {
  readonly baseURL: string;
  readonly inheritedGroups: boolean;
  readonly getGroupsPermission: boolean;
}

/** The user's group claims (paths, and `path:level` entries with getGroupsPermission). */
export async function groupClaims(
  api: ApiClient,
  options: GroupOptions,
  user: { token: string; id: number },
): Promise<string[]> {
  if (!options.inheritedGroups) {
    const info = await userInfo(api, options.baseURL, user.token);
    const paths = info.groups ?? [];
    return options.getGroupsPermission ? withPermissions(paths, info) : paths;
  }
  const records = await allGroups(api, options.baseURL, user.token);
  const paths = records.map(pathOf).filter((path) => path !== '');
  if (!options.getGroupsPermission) return paths;
  const info = await userInfo(api, options.baseURL, user.token);
  const claims = withPermissions(paths, info);
  for (const record of records) {
    const path = pathOf(record);
    if (path === '' || permissionFromUserInfo(path, info) !== undefined) continue;
    const level = await effectiveLevel(api, options.baseURL, user.token, { group: record.id, user: user.id });
    if (level !== undefined) claims.push(`${path}:${level}`);
  }
  return claims;
}

async function userInfo(api: ApiClient, baseURL: string, token: string): Promise<UserInfo> {
  return (await api.api({ url: `${baseURL}/oauth/userinfo`, token }, userInfoSchema)).value;
}

async function allGroups(api: ApiClient, baseURL: string, token: string): Promise<GitlabGroup[]> {
  const groups: GitlabGroup[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const url = `${baseURL}/api/v4/groups?all_available=false&per_page=${GROUPS_PER_PAGE}&page=${page}`;
    const { value } = await api.api({ url, token }, z.array(groupSchema));
    groups.push(...value);
    if (value.length < GROUPS_PER_PAGE) return groups;
  }
  return groups;
}

// GET /groups/:id/members/all/:user_id; 403 and 404 (no visible membership) are skipped, as in Dex.
async function effectiveLevel(
  api: ApiClient,
  baseURL: string,
  token: string,
  ids: { group: number; user: number },
): Promise<string | undefined> {
  const { status, body } = await api.probe(`${baseURL}/api/v4/groups/${ids.group}/members/all/${ids.user}`, token);
  if (status === 403 || status === 404) return undefined;
  if (status !== 200)
    throw new UpstreamRequestError(
      `GET /api/v4/groups/${ids.group}/members/all/${ids.user}: HTTP ${status}`,
      status,
      false,
    );
  const member = memberSchema.safeParse(body);
  return member.success ? ACCESS_LEVELS.get(member.data.access_level) : undefined;
}

const pathOf = (group: GitlabGroup): string => (group.full_path !== '' ? group.full_path : group.path);

function withPermissions(paths: readonly string[], info: UserInfo): string[] {
  const claims = [...paths];
  for (const path of paths) {
    const permission = permissionFromUserInfo(path, info);
    if (permission !== undefined) claims.push(`${path}:${permission}`);
  }
  return claims;
}

// The highest level whose claim lists the group or one of its ancestors (`a/b` covers `a/b/c`).
function permissionFromUserInfo(path: string, info: UserInfo): string | undefined {
  const levels = [
    ['owner', info['https://gitlab.org/claims/groups/owner']],
    ['maintainer', info['https://gitlab.org/claims/groups/maintainer']],
    ['developer', info['https://gitlab.org/claims/groups/developer']],
  ] as const;
  for (const [level, granted] of levels) {
    if ((granted ?? []).some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return level;
  }
  return undefined;
}

/**
 * A stand-in for the Microsoft identity platform and Microsoft Graph on one loopback port, speaking
 * their real shapes: /{tenant}/oauth2/v2.0/authorize and /token (refresh tokens only with the
 * offline_access scope), GET /v1.0/me with $select, POST /v1.0/me/getMemberGroups and POST
 * /v1.0/directoryObjects/getByIds (both paged with @odata.nextLink at a small page size; getByIds
 * refuses more than 1000 ids), and Graph's `{"error": {"code", "message"}}` errors. Both `apiURL` and
 * `graphURL` of the connector point at `origin`.
 */
import { type FakeOAuth, json, startFakeOAuth } from './fake-oauth.js';

export interface FakeMicrosoftGroup {
  readonly id: string;
  readonly displayName: string;
  readonly securityEnabled: boolean;
}

export interface FakeMicrosoftUser {
  readonly id: string;
  readonly displayName: string;
  readonly userPrincipalName: string;
  readonly mailNickname: string;
  readonly onPremisesSamAccountName?: string | null;
  readonly groups: readonly FakeMicrosoftGroup[];
}

export interface FakeMicrosoft extends FakeOAuth {
  readonly tenant: string;
  /** Adds or replaces an account (keyed by userPrincipalName); loginAs takes the userPrincipalName. */
  setUser(user: FakeMicrosoftUser): void;
  /** Deletes the account (a user removed from the tenant): its tokens stop working. */
  deleteUser(userPrincipalName: string): void;
  /** The largest number of ids one getByIds request carried. */
  readonly largestGetByIds: () => number;
}

const graphError = (code: string, message: string) => ({
  error: {
    code,
    message,
    innerError: { date: '2025-01-01T00:00:00', 'request-id': 'fake', 'client-request-id': 'fake' },
  },
});

export async function startFakeMicrosoft(options: {
  users: readonly FakeMicrosoftUser[];
  tenant?: string;
  pageSize?: number;
  clientAssertion?: string;
}): Promise<FakeMicrosoft> {
  const tenant = options.tenant ?? 'example.onmicrosoft.com';
  const pageSize = options.pageSize ?? 2;
  const users = new Map(options.users.map((u) => [u.userPrincipalName, u]));
  const allGroups = (): Map<string, FakeMicrosoftGroup> =>
    new Map([...users.values()].flatMap((u) => u.groups.map((g): [string, FakeMicrosoftGroup] => [g.id, g])));
  let largestGetByIds = 0;

  // Pages a list as Graph does: a $skiptoken on the same URL in @odata.nextLink.
  const page = (items: readonly unknown[], url: URL, origin: string): Record<string, unknown> => {
    const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
    const body: Record<string, unknown> = {
      '@odata.context': `${origin}/v1.0/$metadata#Collection(Edm.String)`,
      value: items.slice(skip, skip + pageSize),
    };
    if (skip + pageSize < items.length)
      body['@odata.nextLink'] = `${origin}${url.pathname}?$skiptoken=${skip + pageSize}`;
    return body;
  };

  const fake = await startFakeOAuth({
    authorizePath: `/${tenant}/oauth2/v2.0/authorize`,
    tokenPath: `/${tenant}/oauth2/v2.0/token`,
    expiresIn: 3599,
    issueRefreshToken: (grant) => grant.scopes.includes('offline_access'),
    ...(options.clientAssertion === undefined ? {} : { clientAssertion: options.clientAssertion }),
    api: ({ req, res, url, body, grant, origin }) => {
      const user = grant === undefined ? undefined : users.get(grant.login);
      if (grant === undefined || user === undefined)
        return json(
          res,
          401,
          graphError('InvalidAuthenticationToken', 'Access token has expired or is not yet valid.'),
        );
      const path = url.pathname;
      if (req.method === 'GET' && path === '/v1.0/me') {
        const fields = (url.searchParams.get('$select') ?? 'id,displayName,userPrincipalName').split(',');
        const all: Record<string, unknown> = {
          id: user.id,
          displayName: user.displayName,
          userPrincipalName: user.userPrincipalName,
          mailNickname: user.mailNickname,
          onPremisesSamAccountName: user.onPremisesSamAccountName ?? null,
          mail: null,
          jobTitle: null,
        };
        return json(res, 200, {
          '@odata.context': `${origin}/v1.0/$metadata#users/$entity`,
          ...Object.fromEntries(fields.map((f) => [f, all[f] ?? null])),
        });
      }
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/json')
        return json(res, 404, graphError('Request_ResourceNotFound', `Resource ${path} does not exist.`));
      if (!grant.scopes.map((s) => s.toLowerCase()).includes('directory.read.all'))
        return json(
          res,
          403,
          graphError('Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'),
        );
      const input = JSON.parse(body) as { securityEnabledOnly?: boolean; ids?: string[]; types?: string[] };
      if (path === '/v1.0/me/getMemberGroups') {
        if (typeof input.securityEnabledOnly !== 'boolean')
          return json(res, 400, graphError('Request_BadRequest', 'securityEnabledOnly is required.'));
        const ids = user.groups.filter((g) => !input.securityEnabledOnly || g.securityEnabled).map((g) => g.id);
        return json(res, 200, page(ids, url, origin));
      }
      if (path === '/v1.0/directoryObjects/getByIds') {
        const ids = input.ids ?? [];
        largestGetByIds = Math.max(largestGetByIds, ids.length);
        if (ids.length > 1000)
          return json(res, 400, graphError('Request_BadRequest', 'Too many identifiers: at most 1000 are allowed.'));
        const known = allGroups();
        const found = ids
          .map((id) => known.get(id))
          .filter((g) => g !== undefined)
          .map((g) => ({
            '@odata.type': '#microsoft.graph.group',
            id: g.id,
            displayName: g.displayName,
            securityEnabled: g.securityEnabled,
          }));
        return json(res, 200, page(found, url, origin));
      }
      return json(res, 404, graphError('Request_ResourceNotFound', `Resource ${path} does not exist.`));
    },
  });
  return {
    ...fake,
    tenant,
    setUser: (user) => void users.set(user.userPrincipalName, user),
    deleteUser: (upn) => void users.delete(upn),
    largestGetByIds: () => largestGetByIds,
  };
}

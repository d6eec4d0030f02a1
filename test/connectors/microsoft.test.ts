/**
 * The Microsoft connector against a fake identity platform and Graph (test/support/fake-microsoft.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { configSchema, open } from '../../connectors/microsoft/microsoft.js';
import {
  asCallback,
  authorize,
  GROUPS,
  login,
  OFFLINE,
  PLAIN,
  refused,
  type TestConnector,
  testDeps,
} from '../support/callback-harness.js';
import { type FakeMicrosoft, type FakeMicrosoftUser, startFakeMicrosoft } from '../support/fake-microsoft.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const ADA: FakeMicrosoftUser = {
  id: '8f2c5d4e-1b3a-4c6d-9e8f-0a1b2c3d4e5f',
  displayName: 'Ada Lovelace',
  userPrincipalName: 'Ada.Lovelace@Example.onmicrosoft.com',
  mailNickname: 'ada',
  onPremisesSamAccountName: 'ALOVELACE',
  groups: [
    { id: 'g-1', displayName: 'developers', securityEnabled: true },
    { id: 'g-2', displayName: 'All Company', securityEnabled: false },
    { id: 'g-3', displayName: 'devops', securityEnabled: true },
  ],
};
const BOB: FakeMicrosoftUser = {
  id: '11111111-2222-3333-4444-555555555555',
  displayName: 'Bob',
  userPrincipalName: 'bob@example.onmicrosoft.com',
  mailNickname: 'bob',
  groups: [{ id: 'g-9', displayName: 'sales', securityEnabled: true }],
};

describe('microsoft connector', () => {
  let fake: FakeMicrosoft;
  let dir: string;
  const opened: TestConnector[] = [];

  before(async () => {
    fake = await startFakeMicrosoft({ users: [ADA, BOB], clientAssertion: 'eyJhbGciOiJSUzI1NiJ9.assertion.sig' });
    dir = await mkdtemp(join(tmpdir(), 'idport-ms-'));
  });
  after(async () => {
    for (const connector of opened) await connector.close();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  const connect = async (config: Record<string, unknown> = {}, deps = testDeps()): Promise<TestConnector> => {
    const parsed = configSchema.parse({
      clientID: fake.clientId,
      clientSecret: fake.clientSecret,
      redirectURI: CALLBACK,
      tenant: fake.tenant,
      apiURL: fake.origin,
      graphURL: `${fake.origin}/`,
      ...config,
    });
    const connector = asCallback(await open('microsoft', parsed, deps, { timeoutSeconds: 5 }));
    opened.push(connector);
    return connector;
  };
  const as = (user: FakeMicrosoftUser): void => fake.loginAs(user.userPrincipalName);

  test('logs a user in: Graph object id as user id, display name, userPrincipalName as email', async () => {
    const connector = await connect({ promptType: 'select_account', domainHint: 'example.com' });
    as(ADA);
    const { authorizeUrl, query } = await authorize(connector, PLAIN, CALLBACK);
    assert.equal(authorizeUrl.pathname, `/${fake.tenant}/oauth2/v2.0/authorize`);
    assert.equal(authorizeUrl.searchParams.get('scope'), 'user.read');
    assert.equal(authorizeUrl.searchParams.get('prompt'), 'select_account');
    assert.equal(authorizeUrl.searchParams.get('domain_hint'), 'example.com');
    const identity = await connector.handleCallback(PLAIN, undefined, query);
    assert.deepEqual(identity, {
      userId: ADA.id,
      username: 'Ada Lovelace',
      preferredUsername: undefined,
      email: 'Ada.Lovelace@Example.onmicrosoft.com',
      emailVerified: true,
      groups: [],
    });
    const me = fake.requests.findLast((r) => r.path === '/v1.0/me');
    assert.equal(me?.query.get('$select'), 'id,displayName,userPrincipalName,mailNickname,onPremisesSamAccountName');
    const exchange = fake.requests.findLast((r) => r.path.endsWith('/oauth2/v2.0/token'));
    assert.equal(new URLSearchParams(exchange?.body).get('client_secret'), fake.clientSecret);
  });

  test('emailToLowercase and each preferredUsernameField', async () => {
    as(ADA);
    const lower = await login(
      await connect({ emailToLowercase: true, preferredUsernameField: 'email' }),
      PLAIN,
      CALLBACK,
    );
    assert.equal(lower.email, 'ada.lovelace@example.onmicrosoft.com');
    assert.equal(lower.preferredUsername, 'ada.lovelace@example.onmicrosoft.com');
    const expected = { name: 'Ada Lovelace', mailNickname: 'ada', onPremisesSamAccountName: 'ALOVELACE' };
    for (const [field, value] of Object.entries(expected)) {
      const identity = await login(await connect({ preferredUsernameField: field }), PLAIN, CALLBACK);
      assert.equal(identity.preferredUsername, value, field);
    }
    const deps = testDeps();
    assert.equal(
      (await login(await connect({ preferredUsernameField: 'upn' }, deps), PLAIN, CALLBACK)).preferredUsername,
      undefined,
    );
    assert.ok(deps.lines.some((l) => String(l.msg).includes('unknown preferredUsernameField')));
  });

  test('groups: ids paged through getMemberGroups, names from getByIds, for a specific tenant', async () => {
    const connector = await connect();
    as(ADA);
    const before = fake.requests.length;
    const { authorizeUrl, query } = await authorize(connector, GROUPS, CALLBACK);
    assert.equal(authorizeUrl.searchParams.get('scope'), 'user.read directory.read.all');
    const identity = await connector.handleCallback(GROUPS, undefined, query);
    assert.deepEqual(identity.groups, ['developers', 'All Company', 'devops']);
    const pages = fake.requests
      .slice(before)
      .filter((r) => r.path === '/v1.0/me/getMemberGroups')
      .map((r) => r.query.get('$skiptoken'));
    assert.deepEqual(pages, [null, '2']);
    const security = await login(await connect({ onlySecurityGroups: true }), GROUPS, CALLBACK);
    assert.deepEqual(security.groups, ['developers', 'devops']);
    const ids = await login(await connect({ groupNameFormat: 'id' }), GROUPS, CALLBACK);
    assert.deepEqual(ids.groups, ['g-1', 'g-2', 'g-3']);
  });

  test('no groups (and no directory scope) for the common, consumers and organizations tenants', async () => {
    for (const tenant of ['common', 'consumers', 'organizations']) {
      const connector = await connect({ tenant, groups: ['developers'] });
      const { url } = await connector.loginUrl(GROUPS, CALLBACK, 's');
      assert.equal(new URL(url).pathname, `/${tenant}/oauth2/v2.0/authorize`);
      assert.equal(new URL(url).searchParams.get('scope'), 'user.read');
    }
  });

  test('required groups refuse users in none of them; useGroupsAsWhitelist keeps only those', async () => {
    as(BOB);
    await assert.rejects(
      login(await connect({ groups: ['developers', 'devops'] }), PLAIN, CALLBACK),
      refused({ userMessage: /not in a group allowed/ }),
    );
    as(ADA);
    const all = await login(await connect({ groups: ['devops'] }), PLAIN, CALLBACK);
    assert.deepEqual(all.groups, ['developers', 'All Company', 'devops']);
    const listed = await login(await connect({ groups: ['devops'], useGroupsAsWhitelist: true }), PLAIN, CALLBACK);
    assert.deepEqual(listed.groups, ['devops']);
  });

  test('batchGroupLookups splits getByIds at Graph’s 1000-id cap', async () => {
    const many = await startFakeMicrosoft({
      pageSize: 700,
      users: [
        {
          ...ADA,
          groups: Array.from({ length: 1001 }, (_, i) => ({
            id: `g${i}`,
            displayName: `group ${i}`,
            securityEnabled: true,
          })),
        },
      ],
    });
    try {
      const config = {
        clientID: many.clientId,
        clientSecret: many.clientSecret,
        tenant: many.tenant,
        apiURL: many.origin,
        graphURL: many.origin,
      };
      many.loginAs(ADA.userPrincipalName);
      await assert.rejects(
        login(await connect(config), GROUPS, CALLBACK),
        refused({ message: /Too many identifiers/ }),
      );
      const identity = await login(await connect({ ...config, batchGroupLookups: true }), GROUPS, CALLBACK);
      assert.equal(identity.groups.length, 1001);
      assert.equal(identity.groups[1000], 'group 1000');
    } finally {
      await many.close();
    }
  });

  test('refresh: the stored token while valid, a refresh grant when expired, refused once revoked', async () => {
    const deps = testDeps();
    const connector = await connect({}, deps);
    as(ADA);
    const { authorizeUrl, query } = await authorize(connector, OFFLINE, CALLBACK);
    assert.equal(authorizeUrl.searchParams.get('scope'), 'user.read directory.read.all offline_access');
    const identity = await connector.handleCallback(OFFLINE, undefined, query);
    const data = JSON.parse(new TextDecoder().decode(identity.connectorData)) as Record<string, string>;
    assert.deepEqual(Object.keys(data), ['accessToken', 'refreshToken', 'expiry']);

    const grants = (): number => fake.requests.filter((r) => r.body.includes('grant_type=refresh_token')).length;
    const before = grants();
    const same = await connector.refresh(OFFLINE, identity);
    assert.equal(grants(), before, 'a valid access token is used as is');
    assert.deepEqual(same.groups, ['developers', 'All Company', 'devops']);

    deps.clock.offsetMs = 3600_000; // past expires_in
    const renewed = await connector.refresh(OFFLINE, same);
    assert.equal(grants(), before + 1);
    assert.equal(renewed.userId, ADA.id);
    assert.notDeepEqual(renewed.connectorData, same.connectorData);

    assert.ok(fake.revokeTokens(ADA.userPrincipalName) > 0);
    // The revoked access token is refused by Graph; once expired, its refresh token by the token endpoint.
    await assert.rejects(
      connector.refresh(OFFLINE, renewed),
      refused({ userMessage: /authorization has ended/, message: /InvalidAuthenticationToken/ }),
    );
    deps.clock.offsetMs = 2 * 3600_000;
    await assert.rejects(
      connector.refresh(OFFLINE, renewed),
      refused({ userMessage: /authorization has ended/, message: /invalid_grant/ }),
    );
  });

  test('refresh fails once the user is deleted, and says "try later" while Microsoft is down', async () => {
    const connector = await connect({ tenant: fake.tenant });
    fake.setUser({ ...BOB, userPrincipalName: 'carol@example.onmicrosoft.com', id: 'carol-id' });
    fake.loginAs('carol@example.onmicrosoft.com');
    const identity = await login(connector, OFFLINE, CALLBACK);
    fake.setDown(true);
    try {
      await assert.rejects(
        connector.refresh(OFFLINE, identity),
        refused({ userMessage: /not reachable/, temporary: true }),
      );
    } finally {
      fake.setDown(false);
    }
    fake.deleteUser('carol@example.onmicrosoft.com');
    await assert.rejects(connector.refresh(OFFLINE, identity), refused({ message: /InvalidAuthenticationToken/ }));
    await assert.rejects(
      connector.refresh(OFFLINE, { ...identity, connectorData: undefined }),
      refused({ message: /no upstream access token/ }),
    );
  });

  test('a user who declines sees an error, and the callback URL must match redirectURI', async () => {
    const connector = await connect();
    fake.loginAs('deny');
    await assert.rejects(login(connector, PLAIN, CALLBACK), refused({ userMessage: /did not authorize/ }));
    await assert.rejects(
      connector.loginUrl(PLAIN, 'http://127.0.0.1:9/elsewhere', 's'),
      refused({ message: /does not match redirectURI/ }),
    );
  });

  test('clientAssertion: the file’s JWT is sent instead of a secret', async () => {
    const file = join(dir, 'assertion.jwt');
    await writeFile(file, 'eyJhbGciOiJSUzI1NiJ9.assertion.sig\n');
    as(ADA);
    const identity = await login(await connect({ clientSecret: '', clientAssertion: file }), PLAIN, CALLBACK);
    assert.equal(identity.userId, ADA.id);
    const form = new URLSearchParams(fake.requests.findLast((r) => r.path.endsWith('/token'))?.body);
    assert.equal(form.get('client_assertion'), 'eyJhbGciOiJSUzI1NiJ9.assertion.sig');
    assert.equal(form.has('client_secret'), false);
  });

  test('config: Dex’s keys and checks', () => {
    const base = { clientID: 'id', clientSecret: 's', redirectURI: CALLBACK };
    assert.equal(configSchema.safeParse(base).success, true);
    assert.deepEqual(configSchema.safeParse({ ...base, groupNameFormat: 'mail' }).error?.issues[0]?.path, [
      'groupNameFormat',
    ]);
    assert.deepEqual(configSchema.safeParse({ ...base, clientSecret: undefined }).error?.issues[0]?.path, [
      'clientSecret',
    ]);
    assert.deepEqual(configSchema.safeParse({ ...base, tenat: 'x' }).error?.issues[0]?.code, 'unrecognized_keys');
  });
});

/**
 * The Bitbucket Cloud connector against a fake Bitbucket (test/support/fake-bitbucket.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { configSchema, open } from '../../connectors/bitbucketcloud/bitbucketcloud.js';
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
import { type FakeBitbucket, type FakeBitbucketUser, startFakeBitbucket } from '../support/fake-bitbucket.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const ALICE: FakeBitbucketUser = {
  uuid: '{e5a4f4b2-1c3d-4e5f-8a9b-0c1d2e3f4a5b}',
  username: 'alice',
  emails: [
    { email: 'old@example.com', isPrimary: false, isConfirmed: true },
    { email: 'alice@other.example', isPrimary: false, isConfirmed: false },
    { email: 'alice@example.com', isPrimary: true, isConfirmed: true },
  ],
  workspaces: { acme: 'owner', globex: 'member', initech: 'collaborator' },
};
const UNCONFIRMED: FakeBitbucketUser = {
  uuid: '{00000000-0000-0000-0000-000000000002}',
  username: 'unconfirmed',
  emails: [{ email: 'new@example.com', isPrimary: true, isConfirmed: false }],
  workspaces: {},
};

describe('bitbucket-cloud connector', () => {
  let fake: FakeBitbucket;
  const opened: TestConnector[] = [];

  before(async () => {
    fake = await startFakeBitbucket({ users: [ALICE, UNCONFIRMED] });
    fake.registerCallback(CALLBACK);
  });
  after(async () => {
    for (const connector of opened) await connector.close();
    await fake.close();
  });

  const connect = async (config: Record<string, unknown> = {}, deps = testDeps()): Promise<TestConnector> => {
    const parsed = configSchema.parse({
      clientID: fake.clientId,
      clientSecret: fake.clientSecret,
      redirectURI: CALLBACK,
      baseURL: fake.origin,
      apiURL: `${fake.apiURL}/`,
      ...config,
    });
    const connector = asCallback(await open('bitbucket-cloud', parsed, deps, { timeoutSeconds: 5 }));
    opened.push(connector);
    return connector;
  };

  test('logs a user in: the {uuid} with braces, username, the confirmed primary email from a later page', async () => {
    const connector = await connect();
    fake.loginAs('alice');
    const { authorizeUrl, query } = await authorize(connector, PLAIN, CALLBACK);
    assert.equal(authorizeUrl.pathname, '/site/oauth2/authorize');
    assert.equal(authorizeUrl.searchParams.get('scope'), 'account email');
    assert.equal(authorizeUrl.searchParams.has('redirect_uri'), false, 'as Dex: the registered callback URL is used');
    const before = fake.requests.length;
    assert.deepEqual(await connector.handleCallback(PLAIN, undefined, query), {
      userId: '{e5a4f4b2-1c3d-4e5f-8a9b-0c1d2e3f4a5b}',
      username: 'alice',
      email: 'alice@example.com',
      emailVerified: true,
      groups: [],
    });
    const emailPages = fake.requests
      .slice(before)
      .filter((r) => r.path === '/2.0/user/emails')
      .map((r) => r.query.get('page'));
    assert.deepEqual(emailPages, [null, '2']);
  });

  test('refuses a user without a confirmed primary email', async () => {
    fake.loginAs('unconfirmed');
    await assert.rejects(
      login(await connect(), PLAIN, CALLBACK),
      refused({ userMessage: /no confirmed primary email/ }),
    );
  });

  test('groups: workspaces across pages, with permission suffixes, skipping one that fails', async () => {
    fake.loginAs('alice');
    assert.deepEqual((await login(await connect(), GROUPS, CALLBACK)).groups, ['acme', 'globex', 'initech']);
    const deps = testDeps();
    fake.failPermissionOf('globex');
    const identity = await login(await connect({ getWorkspacePermissions: true }, deps), GROUPS, CALLBACK);
    assert.deepEqual(identity.groups, ['acme', 'globex', 'initech', 'acme:owner', 'initech:collaborator']);
    assert.ok(deps.lines.some((l) => l.workspace === 'globex' && String(l.msg).includes('skipping permission suffix')));
  });

  test('teams: only listed workspaces, and users in none refused (also without the groups scope)', async () => {
    fake.loginAs('alice');
    assert.deepEqual((await login(await connect({ teams: ['initech', 'umbrella'] }), PLAIN, CALLBACK)).groups, [
      'initech',
    ]);
    await assert.rejects(
      login(await connect({ teams: ['umbrella'] }), PLAIN, CALLBACK),
      refused({ userMessage: /not in a workspace allowed/ }),
    );
  });

  test('refresh: the stored token while valid, renewed once expired, refused once revoked or out of the teams', async () => {
    const deps = testDeps();
    const connector = await connect({ teams: ['acme'] }, deps);
    fake.loginAs('alice');
    const identity = await login(connector, OFFLINE, CALLBACK);
    assert.deepEqual((await connector.refresh(OFFLINE, identity)).groups, ['acme']);
    deps.clock.offsetMs = 3 * 3600_000;
    const renewed = await connector.refresh(OFFLINE, identity);
    assert.notDeepEqual(renewed.connectorData, identity.connectorData);
    fake.setUser({ ...ALICE, workspaces: { globex: 'member' } });
    await assert.rejects(connector.refresh(OFFLINE, renewed), refused({ userMessage: /not in a workspace allowed/ }));
    fake.setUser(ALICE);
    assert.ok(fake.revokeTokens('alice') > 0);
    await assert.rejects(connector.refresh(OFFLINE, renewed), refused({ message: /Access token expired/ }));
    deps.clock.offsetMs = 6 * 3600_000;
    await assert.rejects(
      connector.refresh(OFFLINE, renewed),
      refused({ message: /invalid_grant/, userMessage: /authorization has ended/ }),
    );
  });

  test('includeTeamGroups is accepted with a warning; defaults are Bitbucket’s; a declined login is an error', async () => {
    const deps = testDeps();
    await connect({ includeTeamGroups: true }, deps);
    assert.ok(deps.lines.some((l) => String(l.msg).includes('includeTeamGroups is deprecated')));
    const parsed = configSchema.parse({ clientID: 'i', clientSecret: 's', redirectURI: CALLBACK });
    assert.equal(parsed.baseURL, 'https://bitbucket.org');
    assert.equal(parsed.apiURL, 'https://api.bitbucket.org/2.0');
    fake.loginAs('deny');
    await assert.rejects(login(await connect(), PLAIN, CALLBACK), refused({ userMessage: /did not authorize/ }));
  });
});

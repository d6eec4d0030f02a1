/**
 * The GitLab connector against a fake GitLab (test/support/fake-gitlab.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { configSchema, open } from '../../connectors/gitlab/gitlab.js';
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
import { type FakeGitlab, type FakeGitlabUser, startFakeGitlab } from '../support/fake-gitlab.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const TANUKI: FakeGitlabUser = {
  id: 15,
  username: 'tanuki',
  name: 'Tanuki',
  email: 'tanuki@example.com',
  groups: [
    { id: 1, fullPath: 'acme', accessLevel: 50, direct: true },
    { id: 2, fullPath: 'acme/platform', accessLevel: 50, direct: false },
    { id: 3, fullPath: 'globex', accessLevel: 30, direct: true },
    { id: 4, fullPath: 'initech', accessLevel: 20, direct: true },
    { id: 5, fullPath: 'hooli/infra', accessLevel: 40, direct: false },
  ],
};
const NAMELESS: FakeGitlabUser = { id: 16, username: 'nameless', name: '', email: 'nameless@example.com', groups: [] };

describe('gitlab connector', () => {
  let fake: FakeGitlab;
  const opened: TestConnector[] = [];

  before(async () => {
    fake = await startFakeGitlab({ users: [TANUKI, NAMELESS] });
  });
  after(async () => {
    for (const connector of opened) await connector.close();
    await fake.close();
  });

  const connect = async (config: Record<string, unknown> = {}): Promise<TestConnector> => {
    const parsed = configSchema.parse({
      baseURL: `${fake.origin}/`,
      clientID: fake.clientId,
      clientSecret: fake.clientSecret,
      redirectURI: CALLBACK,
      ...config,
    });
    const connector = asCallback(await open('gitlab', parsed, testDeps(), { timeoutSeconds: 5 }));
    opened.push(connector);
    return connector;
  };

  test('logs a user in: numeric id, name, username as preferred_username, email', async () => {
    const connector = await connect();
    fake.loginAs('tanuki');
    const { authorizeUrl, query } = await authorize(connector, PLAIN, CALLBACK);
    assert.equal(authorizeUrl.pathname, '/oauth/authorize');
    assert.equal(authorizeUrl.searchParams.get('scope'), 'read_user');
    assert.deepEqual(await connector.handleCallback(PLAIN, undefined, query), {
      userId: '15',
      username: 'Tanuki',
      preferredUsername: 'tanuki',
      email: 'tanuki@example.com',
      emailVerified: true,
      groups: [],
    });
    const exchange = fake.requests.findLast((r) => r.path === '/oauth/token');
    assert.match(String(exchange?.headers.authorization), /^Basic /, 'client credentials in HTTP Basic');
    fake.loginAs('nameless');
    assert.equal(
      (await login(connector, PLAIN, CALLBACK)).username,
      'nameless@example.com',
      'the email when there is no name',
    );
    assert.equal((await login(await connect({ useLoginAsID: true }), PLAIN, CALLBACK)).userId, 'nameless');
  });

  test('groups: the userinfo groups claim with openid, and permission suffixes', async () => {
    fake.loginAs('tanuki');
    const connector = await connect();
    const { authorizeUrl, query } = await authorize(connector, GROUPS, CALLBACK);
    assert.equal(authorizeUrl.searchParams.get('scope'), 'read_user openid');
    assert.deepEqual((await connector.handleCallback(GROUPS, undefined, query)).groups, ['acme', 'globex', 'initech']);
    assert.deepEqual((await login(await connect({ getGroupsPermission: true }), GROUPS, CALLBACK)).groups, [
      'acme',
      'globex',
      'initech',
      'acme:owner',
      'globex:developer',
    ]);
  });

  test('inheritedGroups: every group (read_api), permissions from the claims or the effective membership', async () => {
    fake.loginAs('tanuki');
    const connector = await connect({ inheritedGroups: true, getGroupsPermission: true });
    const { authorizeUrl, query } = await authorize(connector, GROUPS, CALLBACK);
    assert.equal(authorizeUrl.searchParams.get('scope'), 'read_user openid read_api');
    assert.deepEqual((await connector.handleCallback(GROUPS, undefined, query)).groups, [
      'acme',
      'acme/platform',
      'globex',
      'initech',
      'hooli/infra',
      'acme:owner',
      'acme/platform:owner',
      'globex:developer',
      'initech:reporter',
      'hooli/infra:maintainer',
    ]);
    assert.deepEqual((await login(await connect({ inheritedGroups: true }), GROUPS, CALLBACK)).groups, [
      'acme',
      'acme/platform',
      'globex',
      'initech',
      'hooli/infra',
    ]);
  });

  test('inheritedGroups reads every page of a long group list', async () => {
    const groups = Array.from({ length: 105 }, (_, i) => ({
      id: 100 + i,
      fullPath: `big/g${i}`,
      accessLevel: 10,
      direct: false,
    }));
    fake.setUser({ id: 17, username: 'busy', name: 'Busy', email: 'busy@example.com', groups });
    fake.loginAs('busy');
    const before = fake.requests.length;
    const identity = await login(await connect({ inheritedGroups: true }), GROUPS, CALLBACK);
    assert.equal(identity.groups.length, 105);
    const pages = fake.requests
      .slice(before)
      .filter((r) => r.path === '/api/v4/groups')
      .map((r) => r.query.get('page'));
    assert.deepEqual(pages, ['1', '2']);
  });

  test('groups: only listed groups, and users in none of them refused (also without the groups scope)', async () => {
    fake.loginAs('tanuki');
    const connector = await connect({ groups: ['globex', 'umbrella'] });
    const { authorizeUrl, query } = await authorize(connector, PLAIN, CALLBACK);
    assert.equal(authorizeUrl.searchParams.get('scope'), 'read_user openid', 'groups are needed to check membership');
    assert.deepEqual((await connector.handleCallback(PLAIN, undefined, query)).groups, ['globex']);
    fake.loginAs('nameless');
    await assert.rejects(login(connector, GROUPS, CALLBACK), refused({ userMessage: /not in a group allowed/ }));
  });

  test('refresh renews the token every time and re-reads the groups; a revoked or blocked user is refused', async () => {
    fake.loginAs('tanuki');
    const connector = await connect({ groups: ['acme', 'globex'] });
    const identity = await login(connector, OFFLINE, CALLBACK);
    const data = JSON.parse(new TextDecoder().decode(identity.connectorData)) as Record<string, string>;
    assert.deepEqual(Object.keys(data), ['accessToken', 'refreshToken'], "Dex's GitLab connector data");
    const refreshed = await connector.refresh(OFFLINE, identity);
    assert.deepEqual(refreshed.groups, ['acme', 'globex']);
    assert.notEqual(JSON.parse(new TextDecoder().decode(refreshed.connectorData)).refreshToken, data.refreshToken);
    await assert.rejects(
      connector.refresh(OFFLINE, identity),
      refused({ message: /invalid_grant/, userMessage: /authorization has ended/ }),
    );

    fake.setUser({ ...TANUKI, groups: [{ id: 9, fullPath: 'umbrella', accessLevel: 30, direct: true }] });
    await assert.rejects(connector.refresh(OFFLINE, refreshed), refused({ userMessage: /not in a group allowed/ }));
    fake.setUser(TANUKI);
    const again = await login(connector, OFFLINE, CALLBACK);
    fake.blockUser('tanuki');
    await assert.rejects(connector.refresh(OFFLINE, again), refused({ message: /403 Forbidden/ }));
  });

  test('refresh with only an access token (Dex data without a refresh token) re-reads the user', async () => {
    fake.loginAs('nameless');
    const connector = await connect();
    const identity = await login(connector, OFFLINE, CALLBACK);
    const data = JSON.parse(new TextDecoder().decode(identity.connectorData)) as { accessToken: string };
    const accessOnly = new TextEncoder().encode(JSON.stringify({ accessToken: data.accessToken, refreshToken: '' }));
    assert.equal((await connector.refresh(OFFLINE, { ...identity, connectorData: accessOnly })).userId, '16');
    fake.setDown(true);
    try {
      await assert.rejects(
        connector.refresh(OFFLINE, identity),
        refused({ userMessage: /not reachable/, temporary: true }),
      );
    } finally {
      fake.setDown(false);
    }
  });

  test('a user who declines sees an error; config keys are Dex’s', async () => {
    fake.loginAs('deny');
    await assert.rejects(login(await connect(), PLAIN, CALLBACK), refused({ userMessage: /did not authorize/ }));
    const base = { clientID: 'id', clientSecret: 's', redirectURI: CALLBACK };
    assert.equal(configSchema.parse(base).baseURL, 'https://gitlab.com');
    assert.deepEqual(configSchema.safeParse({ ...base, rootCAData: 'bm90IGEgY2VydA==' }).error?.issues[0]?.path, [
      'rootCAData',
    ]);
  });
});

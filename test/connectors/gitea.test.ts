/**
 * The Gitea connector against a fake Gitea (test/support/fake-gitea.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { configSchema, open } from '../../connectors/gitea/gitea.js';
import {
  asCallback,
  authorize,
  login,
  OFFLINE,
  PLAIN,
  refused,
  type TestConnector,
  testDeps,
} from '../support/callback-harness.js';
import { type FakeGitea, type FakeGiteaUser, startFakeGitea } from '../support/fake-gitea.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const TEA: FakeGiteaUser = {
  id: 3,
  login: 'tea',
  fullName: 'Tea Drinker',
  email: 'tea@example.com',
  teams: [
    { org: 'acme', team: 'Owners' },
    { org: 'acme', team: 'devs' },
    { org: 'globex', team: 'research' },
    { org: 'initech', team: 'ops' },
    { org: 'acme', team: 'qa' },
  ],
};
const SOLO: FakeGiteaUser = { id: 4, login: 'solo', fullName: '', email: 'solo@example.com', teams: [] };

describe('gitea connector', () => {
  let fake: FakeGitea;
  const opened: TestConnector[] = [];

  before(async () => {
    fake = await startFakeGitea({ users: [TEA, SOLO], pageSize: 3 });
  });
  after(async () => {
    for (const connector of opened) await connector.close();
    await fake.close();
  });

  const connect = async (config: Record<string, unknown> = {}, deps = testDeps()): Promise<TestConnector> => {
    const parsed = configSchema.parse({
      baseURL: fake.origin,
      clientID: fake.clientId,
      clientSecret: fake.clientSecret,
      redirectURI: CALLBACK,
      ...config,
    });
    const connector = asCallback(await open('gitea', parsed, deps, { timeoutSeconds: 5 }));
    opened.push(connector);
    return connector;
  };

  test('logs a user in: numeric id, full name (else email), login as preferred_username', async () => {
    const connector = await connect();
    fake.loginAs('tea');
    const { authorizeUrl, query } = await authorize(connector, OFFLINE, CALLBACK);
    assert.equal(authorizeUrl.pathname, '/login/oauth/authorize');
    assert.equal(authorizeUrl.searchParams.has('scope'), false, 'Dex asks Gitea for no scopes');
    const identity = await connector.handleCallback(PLAIN, undefined, query);
    assert.deepEqual(identity, {
      userId: '3',
      username: 'Tea Drinker',
      preferredUsername: 'tea',
      email: 'tea@example.com',
      emailVerified: true,
      groups: [],
    });
    assert.equal(
      fake.requests.some((r) => r.path === '/api/v1/user/teams'),
      false,
      'no teams without orgs or loadAllGroups',
    );
    fake.loginAs('solo');
    const solo = await login(await connect({ useLoginAsID: true }), PLAIN, CALLBACK);
    assert.equal(solo.username, 'solo@example.com');
    assert.equal(solo.userId, 'solo');
  });

  test('loadAllGroups: each org and org:team once, across pages until an empty one', async () => {
    fake.loginAs('tea');
    const before = fake.requests.length;
    const identity = await login(await connect({ loadAllGroups: true }), PLAIN, CALLBACK);
    assert.deepEqual(identity.groups, [
      'acme',
      'acme:Owners',
      'acme:devs',
      'globex',
      'globex:research',
      'initech',
      'initech:ops',
      'acme:qa',
    ]);
    const pages = fake.requests
      .slice(before)
      .filter((r) => r.path === '/api/v1/user/teams')
      .map((r) => r.query.get('page'));
    assert.deepEqual(pages, ['1', '2', '3']);
  });

  test('orgs: only configured orgs and teams, and users in none refused', async () => {
    fake.loginAs('tea');
    const identity = await login(
      await connect({ orgs: [{ name: 'globex' }, { name: 'acme', teams: ['devs'] }] }),
      PLAIN,
      CALLBACK,
    );
    assert.deepEqual(identity.groups, ['acme', 'acme:devs', 'globex']);
    fake.loginAs('solo');
    await assert.rejects(
      login(await connect({ orgs: [{ name: 'acme' }] }), PLAIN, CALLBACK),
      refused({ userMessage: /not in an organization or team allowed/ }),
    );
  });

  test('refresh: the stored token while valid, a refresh grant once expired; refused once revoked or deleted', async () => {
    const deps = testDeps();
    const connector = await connect({ orgs: [{ name: 'acme' }] }, deps);
    fake.loginAs('tea');
    const identity = await login(connector, OFFLINE, CALLBACK);
    const grants = (): number => fake.requests.filter((r) => r.body.includes('grant_type=refresh_token')).length;
    const before = grants();
    assert.deepEqual((await connector.refresh(OFFLINE, identity)).groups, ['acme']);
    assert.equal(grants(), before);
    deps.clock.offsetMs = 2 * 3600_000;
    const renewed = await connector.refresh(OFFLINE, identity);
    assert.equal(grants(), before + 1);
    assert.equal(renewed.userId, '3');

    fake.setUser({ ...TEA, teams: [{ org: 'umbrella', team: 'x' }] });
    await assert.rejects(connector.refresh(OFFLINE, renewed), refused({ userMessage: /not in an organization/ }));
    fake.setUser(TEA);
    assert.ok(fake.revokeTokens('tea') > 0);
    await assert.rejects(
      connector.refresh(OFFLINE, renewed),
      refused({ message: /HTTP 401/, userMessage: /authorization has ended/ }),
    );
    deps.clock.offsetMs = 4 * 3600_000;
    await assert.rejects(connector.refresh(OFFLINE, renewed), refused({ message: /invalid_grant/ }));

    deps.clock.offsetMs = 0;
    const again = await login(connector, OFFLINE, CALLBACK);
    fake.deleteUser('tea');
    await assert.rejects(connector.refresh(OFFLINE, again), refused({ message: /HTTP 401/ }));
    fake.setUser(TEA);
  });

  test('a user who declines sees an error; Gitea down is temporary; Dex’s defaults', async () => {
    const connector = await connect();
    fake.loginAs('deny');
    await assert.rejects(login(connector, PLAIN, CALLBACK), refused({ userMessage: /did not authorize/ }));
    fake.loginAs('tea');
    const { query } = await authorize(connector, PLAIN, CALLBACK);
    fake.setDown(true);
    try {
      await assert.rejects(
        connector.handleCallback(PLAIN, undefined, query),
        refused({ userMessage: /not reachable/, temporary: true }),
      );
    } finally {
      fake.setDown(false);
    }
    assert.equal(
      configSchema.parse({ clientID: 'i', clientSecret: 's', redirectURI: CALLBACK }).baseURL,
      'https://gitea.com',
    );
  });
});

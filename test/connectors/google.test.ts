/**
 * The Google connector against a fake Google (test/support/fake-google.ts): OpenID login with PKCE and
 * nonce, hosted domains, Workspace groups through the Admin SDK with a service account, refresh.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { configSchema, open } from '../../connectors/google/google.js';
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
import { type FakeGoogle, startFakeGoogle } from '../support/fake-google.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const FAST_RETRY = { initialDelayMs: 10, maxDelayMs: 50, maxWaitMs: 2_000 };

describe('google connector', () => {
  let fake: FakeGoogle;
  let dir: string;
  const opened: TestConnector[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idport-google-'));
    fake = await startFakeGoogle({
      dir,
      users: [
        {
          sub: '110169484474386276334',
          email: 'jane@example.com',
          emailVerified: true,
          name: 'Jane Doe',
          hd: 'example.com',
        },
        { sub: '104', email: 'joe@gmail.com', emailVerified: false, name: 'Joe' },
        { sub: '105', email: 'ops@other.org', emailVerified: true, name: 'Ops', hd: 'other.org' },
      ],
      superAdmins: ['admin@example.com', 'root@other.org'],
      memberships: {
        'jane@example.com': ['eng@example.com', 'all@example.com', 'oncall@example.com'],
        'eng@example.com': ['tech@example.com', 'all@example.com'],
        'tech@example.com': ['staff@example.com'],
        'ops@other.org': ['ops-team@other.org'],
        'joe@gmail.com': [],
      },
    });
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
      issuer: fake.origin,
      adminAPIURL: fake.origin,
      ...config,
    });
    const connector = asCallback(await open('google', parsed, deps, { retry: FAST_RETRY, timeoutSeconds: 5 }));
    opened.push(connector);
    return connector;
  };
  const directory = {
    serviceAccountFilePath: '',
    domainToAdminEmail: { '*': 'admin@example.com', 'other.org': 'root@other.org' },
  };

  test("logs a user in: the ID token's sub, name, email and email_verified, with PKCE and a nonce", async () => {
    const connector = await connect();
    fake.loginAs('jane@example.com');
    const { authorizeUrl, query, connectorState } = await authorize(connector, PLAIN, CALLBACK);
    assert.equal(authorizeUrl.pathname, '/o/oauth2/v2/auth');
    assert.equal(authorizeUrl.searchParams.get('scope'), 'openid profile email');
    assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorizeUrl.searchParams.get('nonce'));
    assert.equal(authorizeUrl.searchParams.has('access_type'), false);
    const identity = await connector.handleCallback(PLAIN, connectorState, query);
    assert.equal(identity.userId, '110169484474386276334');
    assert.equal(identity.username, 'Jane Doe');
    assert.equal(identity.email, 'jane@example.com');
    assert.equal(identity.emailVerified, true);
    assert.deepEqual(identity.groups, []);
    fake.loginAs('joe@gmail.com');
    assert.equal((await login(connector, PLAIN, CALLBACK)).emailVerified, false);
  });

  test('refuses a callback without the login state, or with the state of another login', async () => {
    const connector = await connect();
    fake.loginAs('jane@example.com');
    const { query } = await authorize(connector, PLAIN, CALLBACK);
    await assert.rejects(connector.handleCallback(PLAIN, undefined, query), refused({ message: /no connector state/ }));
    const other = await connector.loginUrl(PLAIN, CALLBACK, 'another-state');
    await assert.rejects(connector.handleCallback(PLAIN, other.connectorState, query), refused({ message: /state/ }));
  });

  test('hostedDomains: hd in the authorization request, and users of other domains refused', async () => {
    const one = await connect({ hostedDomains: ['example.com'] });
    assert.equal(new URL((await one.loginUrl(PLAIN, CALLBACK, 's')).url).searchParams.get('hd'), 'example.com');
    const two = await connect({ hostedDomains: ['example.com', 'other.org'] });
    assert.equal(new URL((await two.loginUrl(PLAIN, CALLBACK, 's')).url).searchParams.get('hd'), '*');
    fake.loginAs('joe@gmail.com');
    await assert.rejects(login(one, PLAIN, CALLBACK), refused({ userMessage: /not in a domain allowed/ }));
    fake.loginAs('ops@other.org');
    assert.equal((await login(two, PLAIN, CALLBACK)).userId, '105');
  });

  test('groups from the Directory API: paged, per-domain admin, transitive once each', async () => {
    const config = { ...directory, serviceAccountFilePath: fake.serviceAccountFile };
    fake.loginAs('jane@example.com');
    const direct = await login(await connect(config), GROUPS, CALLBACK);
    assert.deepEqual(direct.groups, ['eng@example.com', 'all@example.com', 'oncall@example.com']);
    assert.equal(fake.impersonated.at(-1), 'admin@example.com');
    const transitive = await login(
      await connect({ ...config, fetchTransitiveGroupMembership: true }),
      GROUPS,
      CALLBACK,
    );
    assert.deepEqual(transitive.groups, [
      'eng@example.com',
      'tech@example.com',
      'staff@example.com',
      'all@example.com',
      'oncall@example.com',
    ]);
    const pages = fake.requests.filter(
      (r) => r.path === '/admin/directory/v1/groups' && r.query.get('userKey') === 'jane@example.com',
    );
    assert.ok(
      pages.some((r) => r.query.get('pageToken') === '2'),
      'the second page was read',
    );
    fake.loginAs('ops@other.org');
    assert.deepEqual((await login(await connect(config), GROUPS, CALLBACK)).groups, ['ops-team@other.org']);
    assert.equal(fake.impersonated.at(-1), 'root@other.org');
    // No groups scope, no groups configured: the Directory API is not asked.
    const before = fake.requests.length;
    assert.deepEqual((await login(await connect(config), PLAIN, CALLBACK)).groups, []);
    assert.equal(
      fake.requests.slice(before).some((r) => r.path.startsWith('/admin/')),
      false,
    );
  });

  test('required groups refuse users in none of them, even when the client did not ask for groups', async () => {
    const config = { ...directory, serviceAccountFilePath: fake.serviceAccountFile, groups: ['oncall@example.com'] };
    fake.loginAs('ops@other.org');
    await assert.rejects(
      login(await connect(config), PLAIN, CALLBACK),
      refused({ userMessage: /not in a group allowed/ }),
    );
    fake.loginAs('jane@example.com');
    assert.deepEqual((await login(await connect(config), GROUPS, CALLBACK)).groups, ['oncall@example.com']);
  });

  test('a service account that may not impersonate the admin fails the login with the reason in the log', async () => {
    const connector = await connect({
      serviceAccountFilePath: fake.serviceAccountFile,
      domainToAdminEmail: { '*': 'intern@example.com' },
    });
    fake.loginAs('jane@example.com');
    await assert.rejects(
      login(connector, GROUPS, CALLBACK),
      refused({ message: /unauthorized_client/, userMessage: /could not complete/ }),
    );
  });

  test('refresh: a new ID token for the same user, the name kept when Google leaves it out, refused once revoked', async () => {
    const connector = await connect({
      ...directory,
      serviceAccountFilePath: fake.serviceAccountFile,
      promptType: 'select_account',
    });
    fake.loginAs('jane@example.com');
    const { authorizeUrl, query, connectorState } = await authorize(connector, OFFLINE, CALLBACK);
    assert.equal(authorizeUrl.searchParams.get('access_type'), 'offline');
    assert.equal(authorizeUrl.searchParams.get('prompt'), 'select_account');
    const identity = await connector.handleCallback(OFFLINE, connectorState, query);
    const refreshToken = new TextDecoder().decode(identity.connectorData);
    assert.match(refreshToken, /^rt_/, "Dex's connector data: the refresh token itself");
    fake.omitNameFromIdTokens(true);
    try {
      const refreshed = await connector.refresh(OFFLINE, identity);
      assert.equal(refreshed.username, 'Jane Doe');
      assert.equal(refreshed.userId, identity.userId);
      assert.deepEqual(refreshed.groups, ['eng@example.com', 'all@example.com', 'oncall@example.com']);
      assert.equal(new TextDecoder().decode(refreshed.connectorData), refreshToken, 'Google does not rotate it');
    } finally {
      fake.omitNameFromIdTokens(false);
    }
    fake.setMemberships('jane@example.com', ['all@example.com']);
    const fewer = await connect({
      ...directory,
      serviceAccountFilePath: fake.serviceAccountFile,
      groups: ['oncall@example.com'],
    });
    await assert.rejects(fewer.refresh(OFFLINE, identity), refused({ userMessage: /not in a group allowed/ }));
    fake.setMemberships('jane@example.com', ['eng@example.com', 'all@example.com', 'oncall@example.com']);
    assert.ok(fake.revokeTokens('jane@example.com') > 0);
    await assert.rejects(
      connector.refresh(OFFLINE, identity),
      refused({ message: /invalid_grant/, userMessage: /authorization has ended/ }),
    );
    await assert.rejects(
      connector.refresh(OFFLINE, { ...identity, connectorData: undefined }),
      refused({ message: /no refresh token/ }),
    );
  });

  test('opens without Google reachable, refuses logins as temporary until discovery succeeds', async () => {
    fake.setDown(true);
    let connector: TestConnector;
    try {
      connector = await connect();
      await assert.rejects(
        connector.loginUrl(PLAIN, CALLBACK, 's'),
        refused({ userMessage: /not reachable/, temporary: true }),
      );
    } finally {
      fake.setDown(false);
    }
    const { url } = await connector.loginUrl(PLAIN, CALLBACK, 's');
    assert.equal(new URL(url).origin, fake.origin);
  });

  test('config: Dex’s checks, the deprecated adminEmail, and a readable service account file', async () => {
    const base = { clientID: 'id', clientSecret: 's', redirectURI: CALLBACK };
    const parsed = configSchema.parse(base);
    assert.equal(parsed.issuer, 'https://accounts.google.com');
    assert.equal(parsed.adminAPIURL, 'https://admin.googleapis.com');
    assert.deepEqual(configSchema.safeParse({ ...base, serviceAccountFilePath: '/x.json' }).error?.issues[0]?.path, [
      'domainToAdminEmail',
    ]);
    assert.deepEqual(configSchema.safeParse({ ...base, groups: ['a@example.com'] }).error?.issues[0]?.path, ['groups']);
    const deps = testDeps();
    const legacy = await connect(
      { serviceAccountFilePath: fake.serviceAccountFile, adminEmail: 'admin@example.com' },
      deps,
    );
    assert.ok(deps.lines.some((l) => String(l.msg).includes('domainToAdminEmail.*')));
    fake.loginAs('jane@example.com');
    assert.equal((await login(legacy, GROUPS, CALLBACK)).groups.length, 3);
    const bad = join(dir, 'not-a-key.json');
    await writeFile(bad, '{"type": "authorized_user"}');
    await assert.rejects(
      connect({ serviceAccountFilePath: bad, adminEmail: 'admin@example.com' }),
      /not a service account key file/,
    );
    await assert.rejects(
      connect({ serviceAccountFilePath: join(dir, 'missing.json'), adminEmail: 'a@example.com' }),
      /error reading credentials/,
    );
  });
});

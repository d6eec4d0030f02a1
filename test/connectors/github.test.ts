/**
 * The GitHub connector against a fake GitHub (test/support/fake-github.ts) speaking GitHub's real
 * OAuth and REST shapes: github.com mode through a fetch that routes GitHub's hosts to the fake, and
 * GitHub Enterprise mode with `hostName` set to the fake's loopback http origin.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { pino } from 'pino';

import {
  type CallbackConnector,
  type ConnectorDeps,
  ConnectorError,
  type Identity,
  type Refreshable,
  type Scopes,
} from '../../connectors/connector.js';
import { configSchema, open } from '../../connectors/github/github.js';
import { freePort } from '../support/config-server.js';
import { type FakeGithub, type FakeGithubUser, startFakeGithub } from '../support/fake-github.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const PLAIN: Scopes = { offlineAccess: false, groups: false };
const GROUPS: Scopes = { offlineAccess: false, groups: true };
const OFFLINE: Scopes = { offlineAccess: true, groups: true };

const OCTOCAT: FakeGithubUser = {
  id: 2342749,
  login: 'octocat',
  name: 'The Octocat',
  email: null,
  emails: [
    { email: 'octo@unverified.example.com', primary: false, verified: false, visibility: null },
    { email: 'octocat@github.com', primary: true, verified: true, visibility: 'private' },
    { email: 'octo@corp.example.com', primary: false, verified: true, visibility: null },
  ],
  orgs: ['acme', 'globex', 'initech'],
  teams: [
    { name: 'Platform', slug: 'platform', org: 'acme' },
    { name: 'Research', slug: 'research', org: 'globex' },
    { name: 'Site Reliability', slug: 'site-reliability', org: 'acme' },
    { name: 'Ops', slug: 'ops', org: 'initech' },
  ],
};
const LONER: FakeGithubUser = {
  id: 7,
  login: 'loner',
  name: null,
  email: 'loner@example.org',
  emails: [{ email: 'loner@example.org', primary: true, verified: true }],
  orgs: [],
  teams: [],
};
const NEWBIE: FakeGithubUser = {
  id: 8,
  login: 'newbie',
  name: 'New Bie',
  email: null,
  emails: [{ email: 'newbie@example.org', primary: true, verified: false }],
  orgs: ['acme'],
  teams: [],
};

type GithubConnector = CallbackConnector & Refreshable & { close(): Promise<void> };

function testDeps(fetchFn: typeof fetch): ConnectorDeps & { lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, fetch: fetchFn, now: () => new Date(), lines };
}

describe('github connector', () => {
  let fake: FakeGithub;
  const opened: GithubConnector[] = [];

  before(async () => {
    fake = await startFakeGithub({ users: [OCTOCAT, LONER, NEWBIE], pageSize: 2 });
  });
  after(async () => {
    for (const connector of opened) await connector.close();
    await fake.close();
  });

  const connect = async (
    config: Record<string, unknown> = {},
    deps = testDeps(fake.githubDotComFetch),
  ): Promise<GithubConnector> => {
    const parsed = configSchema.parse({
      clientID: fake.clientId,
      clientSecret: fake.clientSecret,
      redirectURI: CALLBACK,
      ...config,
    });
    const connector = await open('github', parsed, deps, { timeoutSeconds: 5 });
    assert.equal(connector.kind, 'callback');
    assert.equal(typeof connector.refresh, 'function');
    opened.push(connector as GithubConnector);
    return connector as GithubConnector;
  };

  /** The browser's part: to GitHub's authorize page (logged in as `user`) and back with the query. */
  const authorize = async (connector: GithubConnector, scopes: Scopes, user: string): Promise<URLSearchParams> => {
    fake.loginAs(user);
    const { url } = await connector.loginUrl(scopes, CALLBACK, 'state-123');
    const response = await fake.githubDotComFetch(url, { redirect: 'manual' });
    assert.equal(response.status, 302);
    const back = new URL(response.headers.get('location') ?? '');
    assert.equal(`${back.origin}${back.pathname}`, CALLBACK);
    assert.equal(back.searchParams.get('state'), 'state-123');
    return back.searchParams;
  };

  const login = async (connector: GithubConnector, scopes: Scopes, user: string): Promise<Identity> =>
    connector.handleCallback(scopes, undefined, await authorize(connector, scopes, user));

  const refused =
    (check: { userMessage?: RegExp; message?: RegExp; temporary?: boolean }) =>
    (err: unknown): boolean => {
      assert.ok(err instanceof ConnectorError, `expected a ConnectorError, got ${String(err)}`);
      if (check.userMessage) assert.match(err.userMessage, check.userMessage);
      if (check.message) assert.match(err.message, check.message);
      assert.equal(err.temporary, check.temporary ?? false);
      return true;
    };

  test('logs a user in through github.com: numeric id, name, login and the verified primary email', async () => {
    const connector = await connect();
    const { url } = await connector.loginUrl(PLAIN, CALLBACK, 'state-123');
    const authUrl = new URL(url);
    assert.equal(`${authUrl.origin}${authUrl.pathname}`, 'https://github.com/login/oauth/authorize');
    assert.deepEqual(Object.fromEntries(authUrl.searchParams), {
      client_id: fake.clientId,
      redirect_uri: CALLBACK,
      response_type: 'code',
      scope: 'user:email',
      state: 'state-123',
    });
    const before = fake.requests.length;
    const identity = await login(connector, PLAIN, 'octocat');
    assert.deepEqual(identity, {
      userId: '2342749',
      username: 'The Octocat',
      preferredUsername: 'octocat',
      email: 'octocat@github.com',
      emailVerified: true,
      groups: [],
    });
    const seen = fake.requests.slice(before);
    const exchange = seen.find((r) => r.path === '/login/oauth/access_token');
    assert.equal(exchange?.headers.accept, 'application/json');
    const user = seen.find((r) => r.path === '/user');
    assert.equal(user?.headers['x-github-api-version'], '2022-11-28');
    assert.match(user?.headers.authorization ?? '', /^Bearer gho_/);
    // Emails span two pages of the fake; the primary one is on the first, but both were read.
    assert.deepEqual(
      seen.filter((r) => r.path === '/user/emails').map((r) => r.query.get('page')),
      [null, '2'],
    );
    assert.equal(
      seen.some((r) => r.path.startsWith('/user/teams') || r.path.startsWith('/orgs/')),
      false,
      'no group lookups without groups',
    );
  });

  test('takes a public email from GET /user and falls back to the login for a user without a name', async () => {
    const connector = await connect();
    const before = fake.requests.length;
    const identity = await login(connector, PLAIN, 'loner');
    assert.equal(identity.username, 'loner');
    assert.equal(identity.email, 'loner@example.org');
    assert.equal(
      fake.requests.slice(before).some((r) => r.path === '/user/emails'),
      false,
    );
  });

  test('uses the login as the user id with useLoginAsID', async () => {
    const identity = await login(await connect({ useLoginAsID: true }), PLAIN, 'octocat');
    assert.equal(identity.userId, 'octocat');
  });

  test('loadAllGroups: every org and org:team group, across paginated lists', async () => {
    const connector = await connect({ loadAllGroups: true });
    const { url } = await connector.loginUrl(GROUPS, CALLBACK, 's');
    assert.equal(new URL(url).searchParams.get('scope'), 'user:email read:org');
    const before = fake.requests.length;
    const identity = await login(connector, GROUPS, 'octocat');
    assert.deepEqual(identity.groups, [
      'acme',
      'acme:Platform',
      'acme:Site Reliability',
      'globex',
      'globex:Research',
      'initech',
      'initech:Ops',
    ]);
    const pages = (path: string): Array<string | null> =>
      fake.requests
        .slice(before)
        .filter((r) => r.path === path)
        .map((r) => r.query.get('page'));
    assert.deepEqual(pages('/user/orgs'), [null, '2']);
    assert.deepEqual(pages('/user/teams'), [null, '2']);
  });

  test('asks for read:org with the groups scope but, as Dex, loads no groups without orgs or loadAllGroups', async () => {
    const connector = await connect();
    const { url } = await connector.loginUrl(GROUPS, CALLBACK, 's');
    assert.equal(new URL(url).searchParams.get('scope'), 'user:email read:org');
    assert.deepEqual((await login(connector, GROUPS, 'octocat')).groups, []);
  });

  test('teamNameField: name (default), slug, or both', async () => {
    const orgs = [{ name: 'acme' }];
    assert.deepEqual((await login(await connect({ orgs }), GROUPS, 'octocat')).groups, [
      'acme:Platform',
      'acme:Site Reliability',
    ]);
    assert.deepEqual((await login(await connect({ orgs, teamNameField: 'slug' }), GROUPS, 'octocat')).groups, [
      'acme:platform',
      'acme:site-reliability',
    ]);
    assert.deepEqual((await login(await connect({ orgs, teamNameField: 'both' }), GROUPS, 'octocat')).groups, [
      'acme:Platform',
      'acme:platform',
      'acme:Site Reliability',
      'acme:site-reliability',
    ]);
  });

  test('orgs with teams: only the listed teams become groups, and a slug can be listed with teamNameField slug', async () => {
    const identity = await login(
      await connect({ orgs: [{ name: 'acme', teams: ['Platform'] }, { name: 'globex' }] }),
      GROUPS,
      'octocat',
    );
    assert.deepEqual(identity.groups, ['acme:Platform', 'globex:Research']);
    const bySlug = await login(
      await connect({ orgs: [{ name: 'acme', teams: ['site-reliability'] }], teamNameField: 'slug' }),
      GROUPS,
      'octocat',
    );
    assert.deepEqual(bySlug.groups, ['acme:site-reliability']);
  });

  test('refuses a user outside the configured orgs or teams, with a clear message', async () => {
    const notAllowed = refused({
      userMessage: /not a member of an organization or team allowed to log in here/,
      message: /github user octocat is not in the required orgs or teams/,
    });
    await assert.rejects(login(await connect({ orgs: [{ name: 'umbrella' }] }), GROUPS, 'octocat'), notAllowed);
    await assert.rejects(
      login(await connect({ orgs: [{ name: 'acme', teams: ['Legal'] }] }), GROUPS, 'octocat'),
      notAllowed,
    );
    // Membership is checked even when the client did not ask for groups (and read:org is requested for it).
    const connector = await connect({ orgs: [{ name: 'umbrella' }] });
    assert.equal(
      new URL((await connector.loginUrl(PLAIN, CALLBACK, 's')).url).searchParams.get('scope'),
      'user:email read:org',
    );
    await assert.rejects(login(connector, PLAIN, 'octocat'), notAllowed);
    // A member of an org with no team list is let in; without the groups scope the groups are left out.
    assert.deepEqual((await login(await connect({ orgs: [{ name: 'acme' }] }), PLAIN, 'octocat')).groups, []);
    assert.deepEqual(
      (await login(await connect({ orgs: [{ name: 'acme' }], hostName: fake.origin }), GROUPS, 'newbie')).groups,
      [],
    );
  });

  test('legacy org: bare team names of that org, with a warning, and nobody refused', async () => {
    const deps = testDeps(fake.githubDotComFetch);
    const connector = await connect({ org: 'acme' }, deps);
    assert.ok(deps.lines.some((l) => /legacy field 'org'/.test(String(l.msg))));
    assert.deepEqual((await login(connector, GROUPS, 'octocat')).groups, ['Platform', 'Site Reliability']);
    assert.deepEqual((await login(connector, GROUPS, 'loner')).groups, []);
  });

  test('preferredEmailDomain picks a verified address in the domain, with * for one label, else the primary one', async () => {
    assert.equal(
      (await login(await connect({ preferredEmailDomain: 'corp.example.com' }), PLAIN, 'octocat')).email,
      'octo@corp.example.com',
    );
    // octo@unverified.example.com also matches but is not verified.
    assert.equal(
      (await login(await connect({ preferredEmailDomain: '*.example.com' }), PLAIN, 'octocat')).email,
      'octo@corp.example.com',
    );
    assert.equal(
      (await login(await connect({ preferredEmailDomain: 'example.net' }), PLAIN, 'octocat')).email,
      'octocat@github.com',
    );
  });

  test('refuses a user whose primary email is not verified on github.com, and accepts it on GitHub Enterprise as Dex does', async () => {
    await assert.rejects(
      login(await connect(), PLAIN, 'newbie'),
      refused({
        userMessage: /no verified primary email address/,
        message: /no verified, primary email or preferred-domain email/,
      }),
    );
    // GitHub Enterprise cannot verify addresses; Dex treats all of them as verified there.
    const identity = await login(await connect({ hostName: fake.origin }), PLAIN, 'newbie');
    assert.equal(identity.email, 'newbie@example.org');
    assert.equal(identity.emailVerified, true);
  });

  test('GitHub Enterprise: the web flow at the host and the API under /api/v3, through the injected fetch', async () => {
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const connector = await connect(
      { hostName: fake.origin, orgs: [{ name: 'acme', teams: ['Platform'] }] },
      testDeps(counting),
    );
    const { url } = await connector.loginUrl(GROUPS, CALLBACK, 's');
    assert.equal(new URL(url).href.split('?')[0], `${fake.origin}/login/oauth/authorize`);
    const before = fake.requests.length;
    const identity = await login(connector, GROUPS, 'octocat');
    assert.deepEqual(identity.groups, ['acme:Platform']);
    const paths = fake.requests.slice(before).map((r) => r.path);
    assert.ok(paths.includes('/api/v3/user'));
    assert.ok(paths.includes('/api/v3/orgs/acme/members/octocat'));
    assert.deepEqual(paths.filter((p) => p === '/api/v3/user/teams').length, 2, 'both pages of teams under /api/v3');
    assert.equal(calls, paths.length - 1, 'every call but the browser authorize went through deps.fetch');
  });

  test('a user who denies the authorization gets access_denied as a refused login', async () => {
    const connector = await connect();
    const query = await authorize(connector, PLAIN, 'deny');
    assert.equal(query.get('error'), 'access_denied');
    await assert.rejects(
      connector.handleCallback(PLAIN, undefined, query),
      refused({ userMessage: /did not authorize/, message: /error=access_denied: The user has denied/ }),
    );
  });

  test('a wrong client secret fails the code exchange (GitHub answers 200 with an error)', async () => {
    const connector = await connect({ clientSecret: 'wrong' });
    await assert.rejects(
      login(connector, PLAIN, 'octocat'),
      refused({ userMessage: /could not complete the login/, message: /incorrect_client_credentials/ }),
    );
  });

  test('a replayed code is refused', async () => {
    const connector = await connect();
    const query = await authorize(connector, PLAIN, 'octocat');
    await connector.handleCallback(PLAIN, undefined, query);
    await assert.rejects(
      connector.handleCallback(PLAIN, undefined, query),
      refused({ message: /bad_verification_code/ }),
    );
  });

  test('refresh re-reads the user and groups with the stored token, and fails once the token is revoked', async () => {
    const connector = await connect({ orgs: [{ name: 'acme' }, { name: 'globex' }] });
    const identity = await login(connector, OFFLINE, 'octocat');
    assert.ok(identity.connectorData);
    const data = JSON.parse(new TextDecoder().decode(identity.connectorData)) as Record<string, unknown>;
    assert.match(String(data.accessToken), /^gho_/, "Dex's connector data format");

    fake.setUser({ ...OCTOCAT, name: 'Octo Renamed', orgs: ['acme'], teams: [OCTOCAT.teams[0] ?? assert.fail()] });
    const refreshed = await connector.refresh(OFFLINE, identity);
    assert.equal(refreshed.userId, '2342749');
    assert.equal(refreshed.username, 'Octo Renamed');
    assert.deepEqual(refreshed.groups, ['acme:Platform']);

    // Leaving every allowed org ends the session at the next refresh.
    fake.setUser({ ...OCTOCAT, orgs: [], teams: [] });
    await assert.rejects(connector.refresh(OFFLINE, refreshed), refused({ userMessage: /not a member/ }));
    fake.setUser(OCTOCAT);

    assert.ok(fake.revokeTokens('octocat') > 0);
    await assert.rejects(
      connector.refresh(OFFLINE, refreshed),
      refused({ userMessage: /authorization has ended/, message: /GET \/user: HTTP 401 Bad credentials/ }),
    );
  });

  test('refreshes connector data written by Dex (expiry as Go zero time)', async () => {
    const connector = await connect();
    const identity = await login(connector, OFFLINE, 'loner');
    const token = (JSON.parse(new TextDecoder().decode(identity.connectorData)) as { accessToken: string }).accessToken;
    const fromDex = new TextEncoder().encode(JSON.stringify({ accessToken: token, expiry: '0001-01-01T00:00:00Z' }));
    assert.equal((await connector.refresh(PLAIN, { ...identity, connectorData: fromDex })).preferredUsername, 'loner');
    await assert.rejects(
      connector.refresh(PLAIN, { ...identity, connectorData: undefined }),
      refused({ message: /no upstream access token/ }),
    );
  });

  test('no connector data without offline access', async () => {
    assert.equal((await login(await connect(), PLAIN, 'loner')).connectorData, undefined);
  });

  test('GitHub down (503) or unreachable is a temporary error, at login and at refresh', async () => {
    const temporary = refused({ userMessage: /GitHub is not reachable/, temporary: true });
    const connector = await connect();
    const identity = await login(connector, OFFLINE, 'octocat');
    const query = await authorize(connector, OFFLINE, 'octocat');
    fake.setDown(true);
    try {
      await assert.rejects(connector.handleCallback(OFFLINE, undefined, query), temporary);
      await assert.rejects(connector.refresh(OFFLINE, identity), temporary);
    } finally {
      fake.setDown(false);
    }
    const nowhere = await connect({ hostName: `http://127.0.0.1:${await freePort()}` }, testDeps(fetch));
    await assert.rejects(nowhere.handleCallback(PLAIN, undefined, new URLSearchParams({ code: 'x' })), temporary);
  });

  test('does not send the token to a next page on another host', async () => {
    const hostile: typeof fetch = async (input, init) => {
      const response = await fake.githubDotComFetch(input, init);
      if (!input.toString().includes('/user/emails')) return response;
      const headers = new Headers(response.headers);
      headers.set('link', '<https://evil.example/user/emails?page=2>; rel="next"');
      return new Response(response.body, { status: response.status, headers });
    };
    await assert.rejects(
      login(await connect({}, testDeps(hostile)), PLAIN, 'octocat'),
      refused({ message: /next page https:\/\/evil\.example is not on the API host/ }),
    );
  });

  test('refuses a callback URL other than redirectURI', async () => {
    const connector = await connect();
    await assert.rejects(
      connector.loginUrl(PLAIN, 'http://127.0.0.1:9999/callback', 's'),
      refused({ message: /does not match redirectURI/ }),
    );
  });
});

describe('github connector with expiring user tokens (a GitHub App)', () => {
  let fake: FakeGithub;
  before(async () => {
    fake = await startFakeGithub({ users: [LONER], expiringTokens: true });
  });
  after(async () => fake?.close());

  test('renews an expired access token with the refresh token before re-reading the user', async () => {
    let now = Date.parse('2025-06-01T12:00:00Z');
    const deps = { ...testDeps(fake.githubDotComFetch), now: () => new Date(now) };
    const config = configSchema.parse({
      clientID: fake.clientId,
      clientSecret: fake.clientSecret,
      redirectURI: CALLBACK,
    });
    const connector = await open('github', config, deps);
    if (connector.kind !== 'callback' || connector.refresh === undefined)
      return assert.fail('a refreshable callback connector');
    try {
      fake.loginAs('loner');
      const back = await fake.githubDotComFetch((await connector.loginUrl(OFFLINE, CALLBACK, 's')).url, {
        redirect: 'manual',
      });
      const identity = await connector.handleCallback(
        OFFLINE,
        undefined,
        new URL(back.headers.get('location') ?? '').searchParams,
      );
      const decode = (bytes: Uint8Array | undefined): Record<string, string> =>
        JSON.parse(new TextDecoder().decode(bytes)) as Record<string, string>;
      const first = decode(identity.connectorData);
      assert.match(first.refreshToken ?? '', /^ghr_/);
      assert.equal(first.expiry, '2025-06-01T20:00:00.000Z');

      // Still valid: no renewal.
      const renewals = (): number => fake.requests.filter((r) => r.path === '/login/oauth/access_token').length;
      const before = renewals();
      assert.equal(decode((await connector.refresh(OFFLINE, identity)).connectorData).accessToken, first.accessToken);
      assert.equal(renewals(), before);

      now += 9 * 3600_000;
      const renewed = await connector.refresh(OFFLINE, identity);
      const second = decode(renewed.connectorData);
      assert.equal(renewals(), before + 1);
      assert.notEqual(second.accessToken, first.accessToken);
      assert.notEqual(second.refreshToken, first.refreshToken, 'the rotated refresh token is kept');
      assert.equal(renewed.preferredUsername, 'loner');

      // The used refresh token is gone (rotated): presenting it again ends the session.
      await assert.rejects(
        connector.refresh(OFFLINE, identity),
        (err: unknown) => err instanceof ConnectorError && !err.temporary && /bad_refresh_token/.test(err.message),
      );
    } finally {
      await connector.close?.();
    }
    return undefined;
  });
});

describe('github connector on a GitHub Enterprise host with its own CA (rootCA)', () => {
  let dir: string;
  let cert: string;
  let fake: FakeGithub;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idport-github-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=github.test',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'tls.key'),
        '-out',
        join(dir, 'tls.crt'),
      ],
      { stdio: 'ignore' },
    );
    cert = await readFile(join(dir, 'tls.crt'), 'utf8');
    fake = await startFakeGithub({ users: [LONER], tls: { cert, key: await readFile(join(dir, 'tls.key'), 'utf8') } });
  });
  after(async () => {
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  });

  // The browser's hop to the authorize page, trusting the test CA.
  const codeFrom = (url: string): Promise<URLSearchParams> =>
    new Promise((resolve, reject) => {
      httpsGet(url, { ca: cert }, (res) => {
        res.resume();
        resolve(new URL(res.headers.location ?? '').searchParams);
      }).on('error', reject);
    });

  test('logs in over https with rootCA given as a file path, and refuses an untrusted certificate', async () => {
    const hostName = fake.origin.replace('https://', '');
    const config = { clientID: fake.clientId, clientSecret: fake.clientSecret, redirectURI: CALLBACK, hostName };
    const connector = await open(
      'github',
      configSchema.parse({ ...config, rootCA: join(dir, 'tls.crt') }),
      testDeps(fetch),
    );
    assert.equal(connector.kind, 'callback');
    if (connector.kind !== 'callback') return;
    try {
      fake.loginAs('loner');
      const { url } = await connector.loginUrl(PLAIN, CALLBACK, 's');
      assert.ok(url.startsWith(`https://${hostName}/login/oauth/authorize?`));
      assert.equal((await connector.handleCallback(PLAIN, undefined, await codeFrom(url))).userId, '7');
    } finally {
      await connector.close?.();
    }
    const untrusting = await open('github', configSchema.parse(config), testDeps(fetch));
    if (untrusting.kind !== 'callback') return;
    const query = await codeFrom((await untrusting.loginUrl(PLAIN, CALLBACK, 's')).url);
    await assert.rejects(
      untrusting.handleCallback(PLAIN, undefined, query),
      (err: unknown) => err instanceof ConnectorError && /access_token/.test(err.message),
    );
  });

  test('refuses a rootCA that is not a PEM certificate at open', async () => {
    const config = configSchema.parse({
      clientID: 'id',
      clientSecret: 'secret',
      redirectURI: CALLBACK,
      hostName: 'github.example.com',
      rootCA: 'not a certificate',
    });
    await assert.rejects(open('github', config, testDeps(fetch)), /not in PEM format/);
  });
});

describe('github connector config', () => {
  const base = { clientID: 'id', clientSecret: 'secret', redirectURI: CALLBACK };
  const issues = (config: Record<string, unknown>): string[] => {
    const result = configSchema.safeParse({ ...base, ...config });
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  test("accepts Dex's keys with Dex's defaults", () => {
    assert.deepEqual(configSchema.parse(base), {
      ...base,
      org: '',
      orgs: [],
      hostName: '',
      rootCA: '',
      teamNameField: '',
      loadAllGroups: false,
      useLoginAsID: false,
      preferredEmailDomain: '',
    });
    assert.deepEqual(configSchema.parse({ ...base, orgs: [{ name: 'acme' }] }).orgs, [{ name: 'acme', teams: [] }]);
  });

  test('refuses what Dex refuses at Open', () => {
    assert.deepEqual(issues({ org: 'a', orgs: [{ name: 'b' }] }), [
      "org: cannot use both 'org' and 'orgs' fields simultaneously (as in Dex); move org into orgs",
    ]);
    assert.match(
      issues({ hostName: 'https://github.example.com' })[0] ?? '',
      /^hostName: invalid hostname: hostname cannot contain `\/`/,
    );
    assert.match(
      issues({ hostName: 'http://github.example.com' })[0] ?? '',
      /^hostName: invalid hostname/,
      'plain http only for loopback hosts',
    );
    assert.deepEqual(issues({ rootCA: '/etc/ca.pem' }), [
      'rootCA: hostName is required for a root certificate (rootCA is for GitHub Enterprise only)',
    ]);
    assert.deepEqual(issues({ preferredEmailDomain: 'example.*' }), [
      'preferredEmailDomain: invalid preferredEmailDomain: glob pattern cannot end with "*"',
    ]);
    assert.equal(issues({ teamNameField: 'id' }).length, 1);
    assert.equal(issues({ unknownKey: true }).length, 1);
  });

  test('accepts a GitHub Enterprise host with a port, and loopback http URLs', () => {
    assert.deepEqual(issues({ hostName: 'github.example.com:8443' }), []);
    assert.deepEqual(issues({ hostName: 'http://127.0.0.1:8080' }), []);
    assert.deepEqual(issues({ hostName: 'http://localhost:8080' }), []);
    assert.deepEqual(issues({ hostName: 'http://[::1]:8080' }), []);
  });
});

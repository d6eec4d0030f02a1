/**
 * The generic `oauth` connector against a fake OAuth 2.0 provider (test/support/fake-oauth2.ts) with a
 * userinfo URL shaped like the ones Dex's documentation points it at: Go's `%v` user ids, claimMapping,
 * groups from userinfo and from a JWT access token, client authentication fallback, and errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { pino } from 'pino';

import { type CallbackConnector, ConnectorError, type Identity, type Scopes } from '../../connectors/connector.js';
import { goFormatFloat } from '../../connectors/oauth/go-format.js';
import { configSchema, open } from '../../connectors/oauth/oauth.js';
import { openConnector } from '../../connectors/registry.js';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { type FakeOAuth2, startFakeOAuth2 } from '../support/fake-oauth2.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const PLAIN: Scopes = { offlineAccess: false, groups: false };
const ALL: Scopes = { offlineAccess: true, groups: true };

/** Userinfo documents of the fake provider, by login. */
const PROFILES: Record<string, Record<string, unknown>> = {
  numeric: {
    id: 12345678,
    user_name: 'Jane Doe',
    preferred_username: 'jane',
    email: 'jane@example.com',
    email_verified: true,
    groups: ['admins', { name: 'devs', id: 7 }, 42, 'admins'],
  },
  text: { id: 't2_abc', user_name: 'Text Id', email: 'text@example.com', email_verified: 'true' },
  mapped: { uid: 'u-1', login: 'mapped', mail: 'mapped@example.com', verified: true, teams: ['red'] },
  noid: { user_name: 'No Id' },
  boolid: { id: true },
  emptyid: { id: '', user_name: 'Nobody' },
};

const deps = () => ({ log: pino({ level: 'silent' }), fetch, now: () => new Date() });

describe('oauth connector', () => {
  let fake: FakeOAuth2;
  let postOnly: FakeOAuth2;
  const opened: CallbackConnector[] = [];

  const resources = (request: { path: string; login: string | undefined }) => {
    if (request.path !== '/api/v1/me') return undefined;
    if (request.login === undefined) return { status: 401, body: { message: 'Unauthorized', error: 401 } };
    return { status: 200, body: PROFILES[request.login] ?? {} };
  };

  before(async () => {
    fake = await startFakeOAuth2({
      firstLogin: 'numeric',
      authorizePath: '/api/v1/authorize',
      tokenPath: '/api/v1/access_token',
      clientAuth: 'basic',
      // The access token is a JWT whose groups join the userinfo's (Dex reads both).
      accessTokenClaims: (login) => (login === 'numeric' ? { groups: ['devs', 'from-token'] } : {}),
      resources,
    });
    postOnly = await startFakeOAuth2({ firstLogin: 'text', clientAuth: 'post', resources });
  });
  after(async () => {
    for (const connector of opened) await (connector as { close?: () => Promise<void> }).close?.();
    await fake.close();
    await postOnly.close();
  });

  const connect = async (config: Record<string, unknown> = {}, upstream = fake): Promise<CallbackConnector> => {
    const paths =
      upstream === fake
        ? { authorizationURL: `${fake.origin}/api/v1/authorize`, tokenURL: `${fake.origin}/api/v1/access_token` }
        : { authorizationURL: `${upstream.origin}/oauth/authorize`, tokenURL: `${upstream.origin}/oauth/token` };
    const connector = await open(
      'reddit',
      configSchema.parse({
        clientID: upstream.clientId,
        clientSecret: upstream.clientSecret,
        redirectURI: CALLBACK,
        userInfoURL: `${upstream.origin}/api/v1/me`,
        ...paths,
        ...config,
      }),
      deps(),
      { timeoutSeconds: 5 },
    );
    assert.equal(connector.kind, 'callback');
    opened.push(connector as CallbackConnector);
    return connector as CallbackConnector;
  };

  const login = async (
    connector: CallbackConnector,
    scopes: Scopes,
    user: string,
    upstream = fake,
  ): Promise<Identity> => {
    upstream.loginAs(user);
    const { url } = await connector.loginUrl(scopes, CALLBACK, 'st-1');
    const response = await fetch(url, { redirect: 'manual' });
    assert.equal(response.status, 302);
    const back = new URL(response.headers.get('location') ?? '');
    assert.equal(back.searchParams.get('state'), 'st-1');
    return connector.handleCallback(scopes, undefined, back.searchParams);
  };

  test("formats numbers as Go's %v does", () => {
    const vectors: Array<[number, string]> = [
      [12345678, '1.2345678e+07'],
      [123456, '123456'],
      [999999, '999999'],
      [1000000, '1e+06'],
      [1234567, '1.234567e+06'],
      [100000000, '1e+08'],
      [2 ** 53, '9.007199254740992e+15'],
      [1e21, '1e+21'],
      [1.5e300, '1.5e+300'],
      [-12345678, '-1.2345678e+07'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [1.5, '1.5'],
      [0, '0'],
    ];
    for (const [value, expected] of vectors) assert.equal(goFormatFloat(value), expected, String(value));
  });

  test("logs a user in with a numeric id as Dex does, so sub is Dex's", async () => {
    const connector = await connect({ scopes: ['identity'] });
    const { url } = await connector.loginUrl(PLAIN, CALLBACK, 'st-1');
    const authorize = new URL(url);
    assert.equal(authorize.pathname, '/api/v1/authorize');
    assert.deepEqual(Object.fromEntries(authorize.searchParams), {
      client_id: fake.clientId,
      redirect_uri: CALLBACK,
      response_type: 'code',
      scope: 'identity',
      state: 'st-1',
    });
    const identity = await login(connector, PLAIN, 'numeric');
    assert.deepEqual(identity, {
      userId: '1.2345678e+07',
      username: 'Jane Doe',
      preferredUsername: 'jane',
      email: 'jane@example.com',
      emailVerified: true,
      groups: [],
      connectorData: undefined,
    });
    // Dex's subject for that user id on a connector with id "reddit", written out byte by byte.
    const expected = Buffer.from([
      0x0a,
      13,
      ...Buffer.from('1.2345678e+07'),
      0x12,
      6,
      ...Buffer.from('reddit'),
    ]).toString('base64url');
    assert.equal(expected, 'Cg0xLjIzNDU2NzhlKzA3EgZyZWRkaXQ');
    assert.equal(encodeSubject(identity.userId, 'reddit'), expected);
  });

  test('groups come from userinfo and the JWT access token, names or {name} objects, without duplicates', async () => {
    const connector = await connect();
    const identity = await login(connector, ALL, 'numeric');
    assert.deepEqual(identity.groups, ['admins', 'devs', 'from-token']);
    assert.ok(identity.connectorData);
    const data = JSON.parse(new TextDecoder().decode(identity.connectorData)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(data), ['AccessToken']);
    assert.equal('refresh' in connector, false, 'Dex gives the oauth connector no refresh');
  });

  test('a string id is kept as is; email_verified must be a JSON true', async () => {
    const connector = await connect({}, postOnly);
    const identity = await login(connector, PLAIN, 'text', postOnly);
    assert.equal(identity.userId, 't2_abc');
    assert.equal(identity.username, 'Text Id');
    assert.equal(identity.preferredUsername, '');
    assert.equal(identity.emailVerified, false);
    // The provider refused Basic authentication, so the client retried with the credentials in the form.
    const tokenRequests = postOnly.requests.filter((r) => r.path === '/oauth/token');
    assert.equal(tokenRequests.length, 2);
    assert.match(tokenRequests[0]?.headers.authorization ?? '', /^Basic /);
    assert.equal(new URLSearchParams(tokenRequests[1]?.body).get('client_id'), postOnly.clientId);
  });

  test('claimMapping and userIDKey pick other members', async () => {
    const connector = await connect({
      userIDKey: 'uid',
      claimMapping: {
        userNameKey: 'login',
        preferredUsernameKey: 'login',
        emailKey: 'mail',
        emailVerifiedKey: 'verified',
        groupsKey: 'teams',
      },
    });
    const identity = await login(connector, { offlineAccess: false, groups: true }, 'mapped');
    assert.deepEqual(
      { ...identity },
      {
        userId: 'u-1',
        username: 'mapped',
        preferredUsername: 'mapped',
        email: 'mapped@example.com',
        emailVerified: true,
        groups: ['red'],
        connectorData: undefined,
      },
    );
  });

  test('refuses userinfo without the id member, with an empty one, or with one neither string nor number', async () => {
    const connector = await connect();
    await assert.rejects(login(connector, PLAIN, 'noid'), (err: unknown) => {
      assert.ok(err instanceof ConnectorError);
      assert.match(err.message, /not found id claim/);
      return true;
    });
    await assert.rejects(login(connector, PLAIN, 'boolid'), /id claim should be string or number, got boolean/);
    // Dex would log this user in with an empty user id, a sub shared by every such user (README differences).
    await assert.rejects(login(connector, PLAIN, 'emptyid'), /id claim is empty/);
  });

  test('a user who denies access, a replayed code and a wrong redirect URI are refused', async () => {
    const connector = await connect();
    await assert.rejects(login(connector, PLAIN, 'deny'), /error=access_denied/);
    await assert.rejects(
      connector.handleCallback(PLAIN, undefined, new URLSearchParams({ code: 'never-issued' })),
      (err: unknown) => err instanceof ConnectorError && /invalid_grant/.test(err.message) && !err.temporary,
    );
    await assert.rejects(connector.handleCallback(PLAIN, undefined, new URLSearchParams()), /without a code/);
    await assert.rejects(connector.loginUrl(PLAIN, 'http://evil.example/callback', 's'), /does not match redirectURI/);
  });

  test('an unreachable provider is a temporary failure', async () => {
    const connector = await connect();
    fake.loginAs('numeric');
    const { url } = await connector.loginUrl(PLAIN, CALLBACK, 's');
    const back = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location') ?? '');
    fake.setDown(true);
    try {
      await assert.rejects(connector.handleCallback(PLAIN, undefined, back.searchParams), (err: unknown) => {
        assert.ok(err instanceof ConnectorError);
        assert.equal(err.temporary, true);
        assert.match(err.userMessage, /not reachable/);
        return true;
      });
    } finally {
      fake.setDown(false);
    }
  });

  test("Dex's documented example config is accepted", async () => {
    const connector = await openConnector(
      'oauth',
      'reddit',
      {
        clientID: 'id',
        clientSecret: 'secret',
        redirectURI: 'http://127.0.0.1:5556/dex/callback',
        tokenURL: 'https://www.reddit.com/api/v1/access_token',
        authorizationURL: 'https://www.reddit.com/api/v1/authorize',
        userInfoURL: 'https://www.reddit.com/api/v1/me',
        claimMapping: null,
      },
      { ...deps(), fetch: () => Promise.reject(new Error('no network at startup')) },
    );
    assert.equal(connector.kind, 'callback');
    await connector.close?.();
    assert.equal(configSchema.safeParse({ clientID: 'id', redirectURI: CALLBACK }).success, false);
  });
});

/**
 * The `openshift` connector against a fake cluster (test/support/fake-openshift.ts): background
 * discovery, Dex's identity mapping (uid, name), the `groups` gate, refresh re-reading the user, and
 * Dex's stored token format.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { pino } from 'pino';

import {
  type CallbackConnector,
  ConnectorError,
  type Identity,
  type Refreshable,
  type Scopes,
} from '../../connectors/connector.js';
import { configSchema, open } from '../../connectors/openshift/openshift.js';
import { type FakeOpenshift, type FakeOpenshiftUser, startFakeOpenshift } from '../support/fake-openshift.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const OFFLINE: Scopes = { offlineAccess: true, groups: true };
const FAST_RETRY = { initialDelayMs: 20, maxDelayMs: 50, maxWaitMs: 2_000 };

const JDOE: FakeOpenshiftUser = {
  name: 'jdoe',
  uid: '9f2d1c34-5b6a-4e7f-8a9b-0c1d2e3f4a5b',
  fullName: 'John Doe',
  groups: ['users', 'cluster-admins'],
};
const GUEST: FakeOpenshiftUser = { name: 'guest', uid: 'b0b0b0b0-0000-4000-8000-000000000001', groups: null };

type OpenshiftConnector = CallbackConnector & Refreshable & { close(): Promise<void> };

describe('openshift connector', () => {
  let cluster: FakeOpenshift;
  let expiring: FakeOpenshift;
  const opened: OpenshiftConnector[] = [];
  let clock = Date.now();

  before(async () => {
    cluster = await startFakeOpenshift({ users: [JDOE, GUEST] });
    expiring = await startFakeOpenshift({ users: [JDOE], accessTokenSeconds: 300 });
  });
  after(async () => {
    for (const connector of opened) await connector.close();
    await cluster.close();
    await expiring.close();
  });

  const connect = async (config: Record<string, unknown> = {}, upstream = cluster): Promise<OpenshiftConnector> => {
    const parsed = configSchema.parse({
      issuer: upstream.origin,
      clientID: upstream.clientId,
      clientSecret: upstream.clientSecret,
      redirectURI: CALLBACK,
      ...config,
    });
    const deps = { log: pino({ level: 'silent' }), fetch, now: () => new Date(clock) };
    const connector = (await open('openshift', parsed, deps, {
      timeoutSeconds: 5,
      retry: FAST_RETRY,
    })) as OpenshiftConnector;
    opened.push(connector);
    return connector;
  };

  const login = async (connector: OpenshiftConnector, user: string, upstream = cluster): Promise<Identity> => {
    upstream.loginAs(user);
    const { url } = await connector.loginUrl(OFFLINE, CALLBACK, 'st');
    const response = await fetch(url, { redirect: 'manual' });
    const back = new URL(response.headers.get('location') ?? '');
    return connector.handleCallback(OFFLINE, undefined, back.searchParams);
  };

  const refused =
    (pattern: RegExp, temporary = false) =>
    (err: unknown): boolean => {
      assert.ok(err instanceof ConnectorError, String(err));
      assert.match(`${err.message} | ${err.userMessage}`, pattern);
      assert.equal(err.temporary, temporary);
      return true;
    };

  test('logs in with the discovered OAuth server and maps the User as Dex does (uid, name, all groups)', async () => {
    const connector = await connect();
    const { url } = await connector.loginUrl(OFFLINE, CALLBACK, 'st');
    const authorize = new URL(url);
    assert.equal(`${authorize.origin}${authorize.pathname}`, `${cluster.origin}/oauth/authorize`);
    assert.equal(authorize.searchParams.get('scope'), 'user:info');
    const identity = await login(connector, 'jdoe');
    assert.deepEqual(
      { ...identity, connectorData: undefined },
      {
        userId: '9f2d1c34-5b6a-4e7f-8a9b-0c1d2e3f4a5b',
        username: 'jdoe',
        preferredUsername: 'jdoe',
        email: 'jdoe',
        emailVerified: false,
        groups: ['users', 'cluster-admins'],
        connectorData: undefined,
      },
    );
    // Dex's format: Go's oauth2.Token as JSON, with Go's zero time for a token that does not expire.
    const data = JSON.parse(new TextDecoder().decode(identity.connectorData)) as Record<string, unknown>;
    assert.equal(data.token_type, 'Bearer');
    assert.equal(data.expiry, '0001-01-01T00:00:00Z');
    assert.equal(typeof data.access_token, 'string');
  });

  test('`groups` gates the login: a user in none of them is refused; a user without groups too', async () => {
    const connector = await connect({ groups: ['cluster-admins', 'ops'] });
    assert.equal((await login(connector, 'jdoe')).userId, JDOE.uid);
    await assert.rejects(login(connector, 'guest'), refused(/not in any of the required groups/));
    await assert.rejects(login(connector, 'deny'), refused(/error=access_denied.*did not authorize/));
  });

  test('refresh re-reads the user; leaving the required groups or being deleted ends it', async () => {
    const connector = await connect({ groups: ['cluster-admins'] });
    const first = await login(connector, 'jdoe');
    cluster.setUser({ ...JDOE, groups: ['cluster-admins', 'new-team'] });
    const refreshed = await connector.refresh(OFFLINE, first);
    assert.deepEqual(refreshed.groups, ['cluster-admins', 'new-team']);

    cluster.setDown(true);
    await assert.rejects(connector.refresh(OFFLINE, refreshed), refused(/HTTP 503.*not reachable/, true));
    cluster.setDown(false);

    cluster.setUser({ ...JDOE, groups: ['users'] });
    await assert.rejects(connector.refresh(OFFLINE, refreshed), refused(/not in any of the required groups/));
    cluster.setUser(JDOE);
    assert.equal((await connector.refresh(OFFLINE, refreshed)).userId, JDOE.uid);

    cluster.deleteUser('jdoe');
    await assert.rejects(connector.refresh(OFFLINE, refreshed), refused(/HTTP 401.*login has ended/));
    cluster.setUser(JDOE);
  });

  test('an expired token is renewed with its refresh token; without one the refresh ends, as in Go', async () => {
    const connector = await connect({}, expiring);
    const first = await login(connector, 'jdoe', expiring);
    clock += 600_000;
    expiring.expireAccessTokens();
    const renewed = await connector.refresh(OFFLINE, first);
    assert.equal(renewed.userId, JDOE.uid);
    assert.ok(expiring.requests.some((r) => r.path === '/oauth/token' && r.body.includes('grant_type=refresh_token')));

    const dexData = new TextEncoder().encode(
      JSON.stringify({ access_token: 'old', token_type: 'Bearer', expiry: '2020-01-01T00:00:00Z' }),
    );
    await assert.rejects(
      connector.refresh(OFFLINE, { ...first, connectorData: dexData }),
      refused(/token expired and refresh token is not set/),
    );
    await assert.rejects(
      connector.refresh(OFFLINE, { ...first, connectorData: undefined }),
      refused(/no upstream token/),
    );
  });

  test('starts while the cluster is down and logs in once it is back', async () => {
    cluster.setDown(true);
    const connector = await connect();
    try {
      await assert.rejects(connector.loginUrl(OFFLINE, CALLBACK, 'st'), refused(/not been discovered yet/, true));
    } finally {
      cluster.setDown(false);
    }
    // A login after the first retry delay tries again at once (no waiting for the background timer).
    clock += FAST_RETRY.initialDelayMs;
    assert.equal((await login(connector, 'jdoe')).username, 'jdoe');
  });

  test('refuses a callback URL other than redirectURI', async () => {
    const connector = await connect();
    await assert.rejects(connector.loginUrl(OFFLINE, 'http://evil.example/cb', 'st'), refused(/does not match/));
  });
});

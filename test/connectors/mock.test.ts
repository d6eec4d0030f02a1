import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { pino } from 'pino';

import type { ConnectorDeps, Scopes } from '../../connectors/connector.js';
import { MOCK_USER_ID, mockCallback, mockPassword } from '../../connectors/mock/mock.js';

const scopes: Scopes = { offlineAccess: true, groups: true };
const deps: ConnectorDeps = {
  log: pino({ level: 'silent' }),
  fetch: () => Promise.reject(new Error('mock connectors must not use the network')),
  now: () => new Date('2025-01-01T00:00:00Z'),
};

// Dex's connector/mock/connectortest.go NewCallbackConnector.
const kilgore = {
  userId: '0-385-28089-0',
  username: 'Kilgore Trout',
  email: 'kilgore@kilgore.trout',
  emailVerified: true,
  groups: ['authors'],
  connectorData: new TextEncoder().encode('foobar'),
};

describe('mockCallback connector', () => {
  it('sends the browser straight back to the callback with the state', async () => {
    const connector = await mockCallback.open('mock', {}, deps);
    const { url, connectorState } = await connector.loginUrl(scopes, 'https://idp.example/dex/callback', 'st&ate=1');
    const parsed = new URL(url);
    assert.equal(`${parsed.origin}${parsed.pathname}`, 'https://idp.example/dex/callback');
    assert.equal(parsed.searchParams.get('state'), 'st&ate=1');
    assert.equal(connectorState, undefined);
  });

  it('keeps query parameters already in the callback URL and replaces a stale state', async () => {
    const connector = await mockCallback.open('mock', {}, deps);
    const { url } = await connector.loginUrl(scopes, 'https://idp.example/callback?a=b&state=old', 'new');
    const parsed = new URL(url);
    assert.equal(parsed.searchParams.get('a'), 'b');
    assert.deepEqual(parsed.searchParams.getAll('state'), ['new']);
  });

  it('refuses a callback URL that is not a URL', async () => {
    const connector = await mockCallback.open('mock', {}, deps);
    await assert.rejects(connector.loginUrl(scopes, 'not a url', 's'), /invalid callback URL/);
  });

  it('logs in Kilgore Trout on the callback, whatever the query', async () => {
    const connector = await mockCallback.open('mock', {}, deps);
    assert.deepEqual(await connector.handleCallback(scopes, undefined, new URLSearchParams('code=x')), kilgore);
    assert.equal(kilgore.userId, MOCK_USER_ID);
  });

  it('returns Kilgore Trout again on refresh', async () => {
    const connector = await mockCallback.open('mock', {}, deps);
    const identity = await connector.handleCallback(scopes, undefined, new URLSearchParams());
    assert.deepEqual(await connector.refresh(scopes, { ...identity, groups: [] }), kilgore);
  });

  it('hands out a fresh identity each time, so a caller cannot change the next login', async () => {
    const connector = await mockCallback.open('mock', {}, deps);
    const first = await connector.handleCallback(scopes, undefined, new URLSearchParams());
    first.connectorData?.fill(0);
    assert.deepEqual(await connector.handleCallback(scopes, undefined, new URLSearchParams()), kilgore);
  });
});

describe('mockPassword connector', () => {
  const open = () => mockPassword.open('mock', { username: 'kilgore', password: 'trout' }, deps);

  it('accepts exactly the configured username and password', async () => {
    const connector = await open();
    assert.deepEqual(await connector.login(scopes, 'kilgore', 'trout'), {
      userId: '0-385-28089-0',
      username: 'Kilgore Trout',
      email: 'kilgore@kilgore.trout',
      emailVerified: true,
      groups: [],
      connectorData: new TextEncoder().encode('{"test": "true"}'),
    });
  });

  it('refuses a wrong password, a wrong username and near misses', async () => {
    const connector = await open();
    for (const [username, password] of [
      ['kilgore', 'wrong'],
      ['someone', 'trout'],
      ['Kilgore', 'trout'],
      ['kilgore', 'trout '],
      ['kilgore', 'trou'],
      ['kilgore', ''],
      ['', ''],
    ] as const) {
      assert.equal(await connector.login(scopes, username, password), undefined, `${username}/${password}`);
    }
  });

  it('labels the username field "Username", the label Dex shows for it', async () => {
    assert.equal((await open()).prompt(), 'Username');
  });

  it('returns the identity unchanged on refresh', async () => {
    const connector = await open();
    const identity = await connector.login(scopes, 'kilgore', 'trout');
    assert.ok(identity);
    assert.deepEqual(await connector.refresh(scopes, identity), identity);
  });

  it('requires both a username and a password in its config, as Dex does', () => {
    const result = mockPassword.configSchema.safeParse({ username: '', password: '' });
    assert.equal(result.success, false);
    assert.deepEqual(
      result.error?.issues.map((i) => [i.path, i.message]),
      [
        [['username'], 'no username supplied'],
        [['password'], 'no password supplied'],
      ],
    );
  });

  it('rejects unknown config keys', () => {
    const result = mockPassword.configSchema.safeParse({ username: 'a', password: 'b', pasword: 'c' });
    assert.equal(result.success, false);
    assert.equal(result.error?.issues[0]?.code, 'unrecognized_keys');
  });
});

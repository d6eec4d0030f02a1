/** The `authproxy` connector on its own: Dex's header names and defaults, fallbacks, groups and the login URL. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { pino } from 'pino';

import { configSchema, open } from '../../connectors/authproxy/authproxy.js';
import { type CallbackConnector, ConnectorError, type Scopes } from '../../connectors/connector.js';

const SCOPES: Scopes = { offlineAccess: true, groups: true };
const deps = { log: pino({ level: 'silent' }), fetch, now: () => new Date() };

const connect = async (id: string, config: Record<string, unknown> = {}): Promise<CallbackConnector> => {
  const connector = await open(id, configSchema.parse(config), deps);
  assert.equal(connector.kind, 'callback');
  assert.equal('refresh' in connector, false, 'Dex gives authproxy no refresh');
  return connector as CallbackConnector;
};

const headers = (entries: Record<string, string>): Map<string, string> =>
  new Map(Object.entries(entries).map(([name, value]) => [name.toLowerCase(), value]));

describe('authproxy connector', () => {
  test("sends the browser to the connector's own callback path with the state", async () => {
    const connector = await connect('my Proxy');
    const { url } = await connector.loginUrl(SCOPES, 'https://auth.example.com/dex/callback', 'xdg3z6qu');
    assert.equal(url, 'https://auth.example.com/dex/callback/my%20Proxy?state=xdg3z6qu');
  });

  test("asks the server for exactly the configured headers (Dex's defaults otherwise)", async () => {
    assert.deepEqual((await connect('a')).callbackHeaders, [
      'X-Remote-User-Id',
      'X-Remote-User',
      'X-Remote-User-Name',
      'X-Remote-User-Email',
      'X-Remote-Group',
    ]);
    const custom = await connect('b', { userHeader: 'X-Forwarded-User', groupHeader: 'X-Forwarded-Group' });
    assert.ok(custom.callbackHeaders?.includes('X-Forwarded-User'));
    assert.ok(!custom.callbackHeaders?.includes('X-Remote-User'));
  });

  test('reads every header, header groups (trimmed) before static ones', async () => {
    const connector = await connect('a', { staticGroups: ['default'] });
    const identity = await connector.handleCallback(
      SCOPES,
      undefined,
      new URLSearchParams(),
      headers({
        'X-Remote-User': 'jdoe',
        'X-Remote-User-Id': '42',
        'X-Remote-User-Name': 'John',
        'X-Remote-User-Email': 'jdoe@example.com',
        'X-Remote-Group': 'a, b ,c',
      }),
    );
    assert.deepEqual(identity, {
      userId: '42',
      username: 'jdoe',
      preferredUsername: 'John',
      email: 'jdoe@example.com',
      emailVerified: true,
      groups: ['a', 'b', 'c', 'default'],
    });
  });

  test('custom names and separator; the user header stands in for the missing ones', async () => {
    const connector = await connect('b', {
      userHeader: 'X-Forwarded-User',
      groupHeader: 'X-Forwarded-Group',
      groupHeaderSeparator: '|',
      staticGroups: null,
    });
    const identity = await connector.handleCallback(
      SCOPES,
      undefined,
      new URLSearchParams(),
      // The default names are not read once others are configured.
      headers({ 'X-Forwarded-User': 'bob', 'X-Forwarded-Group': 'x|y', 'X-Remote-User': 'mallory' }),
    );
    assert.deepEqual(identity, {
      userId: 'bob',
      username: 'bob',
      preferredUsername: 'bob',
      email: 'bob',
      emailVerified: true,
      groups: ['x', 'y'],
    });
  });

  test('refuses a callback without the user header (or without any headers at all)', async () => {
    const connector = await connect('a');
    for (const given of [headers({ 'X-Remote-User-Email': 'x@example.com' }), undefined]) {
      await assert.rejects(
        connector.handleCallback(SCOPES, undefined, new URLSearchParams(), given),
        (err: unknown) => {
          assert.ok(err instanceof ConnectorError);
          assert.equal(err.message, 'required HTTP header X-Remote-User is not set');
          return true;
        },
      );
    }
  });
});

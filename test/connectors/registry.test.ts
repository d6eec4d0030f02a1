import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { pino } from 'pino';

import type { ConnectorDeps, Scopes } from '../../connectors/connector.js';
import {
  ConnectorConfigError,
  connectorTypes,
  connectorSchemas,
  isConnectorType,
  loadedConnectorTypes,
  openConnector,
} from '../../connectors/registry.js';

const scopes: Scopes = { offlineAccess: false, groups: false };
const deps: ConnectorDeps = {
  log: pino({ level: 'silent' }),
  fetch: () => Promise.reject(new Error('no network in registry tests')),
  now: () => new Date('2025-01-01T00:00:00Z'),
};

describe('connector registry', () => {
  it('offers a schema for every connector type under its Dex name', () => {
    assert.deepEqual(Object.keys(connectorSchemas()).sort(), Object.keys(connectorTypes).sort());
    assert.ok('mockCallback' in connectorSchemas());
    assert.ok('mockPassword' in connectorSchemas());
  });

  it('accepts an absent or null config for a type without settings, as Dex does', () => {
    const schema = connectorSchemas().mockCallback;
    assert.ok(schema);
    assert.equal(schema.safeParse(undefined).success, true);
    assert.equal(schema.safeParse(null).success, true);
    assert.equal(schema.safeParse({}).success, true);
    assert.equal(schema.safeParse({ unexpected: true }).success, false);
  });

  it('reports each missing key of an absent config by name', () => {
    const result = connectorSchemas().mockPassword?.safeParse(undefined);
    assert.deepEqual(
      result?.error?.issues.map((i) => i.path),
      [['username'], ['password']],
    );
  });

  it('opens a connector of a known type with its parsed config', async () => {
    const connector = await openConnector('mockPassword', 'mock', { username: 'kilgore', password: 'trout' }, deps);
    assert.equal(connector.kind, 'password');
    if (connector.kind !== 'password') return;
    assert.equal((await connector.login(scopes, 'kilgore', 'trout'))?.username, 'Kilgore Trout');
  });

  it('opens mockCallback without a config', async () => {
    const connector = await openConnector('mockCallback', 'mock', undefined, deps);
    assert.equal(connector.kind, 'callback');
  });

  it('loads the module of a type only when a connector of that type is opened', async () => {
    // This file opens only mock connectors; an invalid config or an unknown type loads nothing.
    await assert.rejects(openConnector('ldap', 'ldap', {}, deps), ConnectorConfigError);
    await assert.rejects(openConnector('kerberos', 'k', {}, deps));
    assert.deepEqual(loadedConnectorTypes(), ['mockPassword', 'mockCallback']);
    await openConnector('authproxy', 'proxy', {}, deps);
    assert.deepEqual(loadedConnectorTypes(), ['mockPassword', 'mockCallback', 'authproxy']);
  });

  it('rejects a config missing the password with a zod issue at its path', async () => {
    await assert.rejects(openConnector('mockPassword', 'mock-pw', { username: 'kilgore' }, deps), (err: unknown) => {
      assert.ok(err instanceof ConnectorConfigError);
      assert.equal(err.connectorId, 'mock-pw');
      assert.deepEqual(
        err.issues.map((i) => ({ code: i.code, path: i.path })),
        [{ code: 'invalid_type', path: ['password'] }],
      );
      assert.equal(
        err.message,
        'connector "mock-pw" (type mockPassword): invalid config: config.password: Invalid input: expected string, received undefined',
      );
      return true;
    });
  });

  it('reports every issue, not just the first', async () => {
    await assert.rejects(
      openConnector('mockPassword', 'm', { username: 1, password: '', extra: true }, deps),
      (err: unknown) => {
        assert.ok(err instanceof ConnectorConfigError);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          [['username'], ['password'], []],
        );
        assert.match(
          err.message,
          /config\.username: .*; config\.password: no password supplied; config: Unrecognized key: "extra"/,
        );
        return true;
      },
    );
  });

  it('rejects an unknown connector type with an error naming it and the supported types', async () => {
    await assert.rejects(openConnector('kerberos', 'k', {}, deps), (err: unknown) => {
      assert.ok(err instanceof Error);
      const supported = /^connector "k": unknown connector type "kerberos" \(supported: (.+)\)$/.exec(err.message)?.[1];
      assert.ok(supported, err.message);
      // Every registered type, in the registry's order (the list grows as connectors are added).
      assert.deepEqual(supported.split(', '), Object.keys(connectorTypes));
      assert.ok(supported.split(', ').includes('bitbucket-cloud'));
      return true;
    });
  });

  it('does not mistake inherited object properties for connector types', async () => {
    assert.equal(isConnectorType('toString'), false);
    assert.equal(isConnectorType('__proto__'), false);
    await assert.rejects(openConnector('constructor', 'c', {}, deps), /unknown connector type "constructor"/);
  });
});

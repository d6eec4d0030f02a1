import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { openMemory } from '../../storage/memory/memory.js';
import { withStaticOverlay } from '../../storage/static.js';
import { ReadOnlyError, type Storage } from '../../storage/storage.js';
import { assertRejectsWith, runStorageConformance } from './conformance.js';
import * as fx from './fixtures.js';

// With no static entries the overlay must behave exactly like the storage it wraps.
runStorageConformance('memory storage behind an empty static overlay', () =>
  withStaticOverlay(openMemory(), { clients: [], passwords: [], connectors: [] }),
);

const staticClient = { ...fx.client(1), name: 'From the config file' };
const staticPassword = fx.password(1, 'Admin@Example.com');
const staticConnector = { ...fx.connector(1), name: 'Static LDAP' };

describe('static overlay', () => {
  let inner: Storage;
  let overlay: Storage;
  beforeEach(async () => {
    inner = openMemory();
    // Stored rows that clash with static entries, as left behind by an earlier config or the API.
    await inner.clients.create({ ...fx.client(1), name: 'Stored copy' });
    await inner.clients.create(fx.client(2));
    await inner.passwords.create(fx.password(9, 'admin@example.com'));
    await inner.passwords.create(fx.password(2));
    await inner.connectors.create(fx.connector(2));
    overlay = withStaticOverlay(inner, {
      clients: [staticClient],
      passwords: [staticPassword],
      connectors: [staticConnector],
    });
  });

  it('returns the static entry before a stored one with the same key', async () => {
    assert.deepEqual(await overlay.clients.get('client-1'), staticClient);
    assert.deepEqual(await overlay.connectors.get('connector-1'), staticConnector);
  });

  it('matches static passwords by email regardless of case', async () => {
    assert.deepEqual(await overlay.passwords.get('ADMIN@example.COM'), staticPassword);
  });

  it('returns stored entries whose keys are not static', async () => {
    assert.deepEqual(await overlay.clients.get('client-2'), fx.client(2));
    assert.deepEqual(await overlay.passwords.get('USER2@example.com'), fx.password(2));
    assert.deepEqual(await overlay.connectors.get('connector-2'), fx.connector(2));
    assert.equal(await overlay.clients.get('client-3'), undefined);
  });

  it('lists static entries and stored ones, with the static entry winning a key clash', async () => {
    assert.deepEqual(await overlay.clients.list(), [staticClient, fx.client(2)]);
    assert.deepEqual(await overlay.passwords.list(), [staticPassword, fx.password(2)]);
    assert.deepEqual(await overlay.connectors.list(), [staticConnector, fx.connector(2)]);
  });

  it('refuses to create, update or delete a static client and leaves the stored rows alone', async () => {
    const message = 'client "client-1" comes from the config file and cannot be changed';
    await assertRejectsWith(overlay.clients.create({ ...fx.client(1), name: 'New' }), ReadOnlyError, message);
    await assertRejectsWith(
      overlay.clients.update('client-1', (old) => ({ ...old, name: 'Changed' })),
      ReadOnlyError,
      message,
    );
    await assertRejectsWith(overlay.clients.delete('client-1'), ReadOnlyError, message);
    assert.deepEqual(await inner.clients.get('client-1'), { ...fx.client(1), name: 'Stored copy' });
  });

  it('refuses to write a static password under any capitalisation of its email', async () => {
    const message = (email: string): string => `password "${email}" comes from the config file and cannot be changed`;
    await assertRejectsWith(
      overlay.passwords.create(fx.password(3, 'admin@EXAMPLE.com')),
      ReadOnlyError,
      message('admin@EXAMPLE.com'),
    );
    await assertRejectsWith(
      overlay.passwords.update('ADMIN@example.com', (old) => old),
      ReadOnlyError,
      message('ADMIN@example.com'),
    );
    await assertRejectsWith(overlay.passwords.delete('admin@example.com'), ReadOnlyError, message('admin@example.com'));
    assert.deepEqual(await inner.passwords.get('admin@example.com'), fx.password(9, 'admin@example.com'));
  });

  it('refuses to write a static connector', async () => {
    const message = 'connector "connector-1" comes from the config file and cannot be changed';
    await assertRejectsWith(overlay.connectors.create(fx.connector(1)), ReadOnlyError, message);
    await assertRejectsWith(
      overlay.connectors.update('connector-1', (old) => old),
      ReadOnlyError,
      message,
    );
    await assertRejectsWith(overlay.connectors.delete('connector-1'), ReadOnlyError, message);
  });

  it('passes writes of keys that are not static through to storage', async () => {
    await overlay.clients.create(fx.client(3));
    await overlay.clients.update('client-2', (old) => ({ ...old, name: 'Renamed' }));
    assert.equal(await overlay.passwords.delete('user2@example.com'), true);
    assert.equal(await overlay.passwords.delete('user2@example.com'), false);
    await overlay.connectors.update('connector-2', (old) => ({ ...old, resourceVersion: '3' }));
    assert.deepEqual(await inner.clients.get('client-3'), fx.client(3));
    assert.deepEqual(await inner.clients.get('client-2'), { ...fx.client(2), name: 'Renamed' });
    assert.equal(await inner.passwords.get('user2@example.com'), undefined);
    assert.deepEqual(await inner.connectors.get('connector-2'), { ...fx.connector(2), resourceVersion: '3' });
  });

  it('passes every other table, the keys and garbage collection through to storage', async () => {
    await overlay.authRequests.create(fx.authRequest(1, fx.at(-1)));
    await overlay.updateKeys(() => fx.keys('current'));
    assert.deepEqual(await inner.authRequests.get('auth-request-1'), fx.authRequest(1, fx.at(-1)));
    assert.deepEqual(await inner.getKeys(), fx.keys('current'));
    assert.deepEqual(await overlay.garbageCollect(fx.at(0)), {
      authRequests: 1,
      authCodes: 0,
      refreshTokens: 0,
      deviceRequests: 0,
      deviceTokens: 0,
      sessions: 0,
      passwordFailures: 0,
      revokedTokens: 0,
    });
    assert.equal(await overlay.ping(), undefined);
  });

  it('returns static entries frozen, so a caller cannot change them', async () => {
    const got = await overlay.clients.get('client-1');
    assert.ok(got);
    assert.throws(() => (got.redirectURIs as string[]).push('https://evil.example.com/'), TypeError);
    assert.throws(() => Object.assign(got, { secret: 'changed' }), TypeError);
    const listed = (await overlay.clients.list()).find((client) => client.id === 'client-1');
    assert.throws(() => Object.assign(listed ?? {}, { public: true }), TypeError);
    assert.deepEqual(await overlay.clients.get('client-1'), staticClient);
    // Nor can the config object it came from.
    (staticClient.redirectURIs as string[]).push('https://config-changed.example.com/');
    try {
      assert.equal((await overlay.clients.get('client-1'))?.redirectURIs.length, staticClient.redirectURIs.length - 1);
    } finally {
      (staticClient.redirectURIs as string[]).pop();
    }
  });

  it('refuses a config that lists the same static password twice in different case', () => {
    assert.throws(
      () =>
        withStaticOverlay(openMemory(), {
          clients: [],
          passwords: [staticPassword, fx.password(2, 'admin@example.com')],
          connectors: [],
        }),
      { message: 'static password "admin@example.com" is listed twice' },
    );
  });
});

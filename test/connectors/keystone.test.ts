/**
 * The `keystone` connector against a fake Keystone v3 API (test/support/fake-keystone.ts): the domain
 * named as Dex names it, Dex's identity (Keystone's user id, the typed username, group names), wrong
 * passwords, and refresh through the admin account.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { pino } from 'pino';

import { ConnectorError, type PasswordConnector, type Refreshable, type Scopes } from '../../connectors/connector.js';
import { domainOf } from '../../connectors/keystone/config.js';
import { configSchema, open } from '../../connectors/keystone/keystone.js';
import { type FakeKeystone, type FakeKeystoneUser, startFakeKeystone } from '../support/fake-keystone.js';

const GROUPS: Scopes = { offlineAccess: true, groups: true };
const PLAIN: Scopes = { offlineAccess: true, groups: false };
const DEFAULT_DOMAIN = 'default';
const CORP_DOMAIN = '3f6c1a2b9d8e4f7a8b6c5d4e3f2a1b0c';

const DEMO: FakeKeystoneUser = {
  id: 'a7f0b5d3c2e14f6b9d8e7c6b5a4f3e2d',
  name: 'demo',
  password: 'DEMO_PASS',
  domainId: DEFAULT_DOMAIN,
  email: 'demo@example.com',
  groups: ['developers', 'operators'],
};
const ADMIN: FakeKeystoneUser = {
  id: 'ad000000000000000000000000000001',
  name: 'admin',
  password: 'ADMIN_PASS',
  domainId: DEFAULT_DOMAIN,
  groups: [],
  admin: true,
};
const CORP: FakeKeystoneUser = {
  id: 'c0000000000000000000000000000001',
  name: 'demo',
  password: 'corp-pass',
  domainId: CORP_DOMAIN,
  groups: ['corp'],
};

type KeystoneConnector = PasswordConnector & Refreshable & { close(): Promise<void> };

describe('keystone connector', () => {
  let keystone: FakeKeystone;
  const opened: KeystoneConnector[] = [];

  before(async () => {
    keystone = await startFakeKeystone({
      domains: { [DEFAULT_DOMAIN]: 'Default', [CORP_DOMAIN]: 'corp' },
      users: [DEMO, ADMIN, CORP],
    });
  });
  after(async () => {
    for (const connector of opened) await connector.close();
    await keystone.close();
  });

  const connect = async (config: Record<string, unknown> = {}): Promise<KeystoneConnector> => {
    const parsed = configSchema.parse({
      keystoneHost: keystone.origin,
      domain: DEFAULT_DOMAIN,
      keystoneUsername: 'admin',
      keystonePassword: 'ADMIN_PASS',
      ...config,
    });
    const connector = (await open(
      'keystone',
      parsed,
      { log: pino({ level: 'silent' }), fetch, now: () => new Date() },
      {
        timeoutSeconds: 5,
      },
    )) as KeystoneConnector;
    opened.push(connector);
    return connector;
  };

  test('names the domain by id for a UUID (any spelling Go accepts) or "default", else by name', () => {
    assert.deepEqual(domainOf('default'), { id: 'default' });
    assert.deepEqual(domainOf('3f6c1a2b9d8e4f7a8b6c5d4e3f2a1b0c'), { id: '3f6c1a2b9d8e4f7a8b6c5d4e3f2a1b0c' });
    assert.deepEqual(domainOf('3f6c1a2b-9d8e-4f7a-8b6c-5d4e3f2a1b0c'), { id: '3f6c1a2b-9d8e-4f7a-8b6c-5d4e3f2a1b0c' });
    assert.deepEqual(domainOf('{3f6c1a2b-9d8e-4f7a-8b6c-5d4e3f2a1b0c}'), {
      id: '{3f6c1a2b-9d8e-4f7a-8b6c-5d4e3f2a1b0c}',
    });
    assert.deepEqual(domainOf('Default'), { name: 'Default' });
    assert.deepEqual(domainOf('corp'), { name: 'corp' });
  });

  test("logs in with Keystone's user id, the typed username, the verified email and group names", async () => {
    const connector = await connect();
    assert.equal(connector.prompt(), 'username');
    const identity = await connector.login(GROUPS, 'demo', 'DEMO_PASS');
    assert.deepEqual(identity, {
      userId: 'a7f0b5d3c2e14f6b9d8e7c6b5a4f3e2d',
      username: 'demo',
      email: 'demo@example.com',
      emailVerified: true,
      groups: ['developers', 'operators'],
    });
    assert.deepEqual(keystone.authRequests.at(-1), {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'demo', domain: { id: 'default' }, password: 'DEMO_PASS' } },
        },
      },
    });
    assert.deepEqual((await connector.login(PLAIN, 'demo', 'DEMO_PASS'))?.groups, []);
  });

  test('a domain given by name or by its id finds the user in that domain', async () => {
    const byName = await connect({ domain: 'corp' });
    const identity = await byName.login(GROUPS, 'demo', 'corp-pass');
    assert.equal(identity?.userId, CORP.id);
    assert.equal(identity?.email, '');
    assert.equal(identity?.emailVerified, false);
    assert.deepEqual(keystone.authRequests.at(-1), {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'demo', domain: { name: 'corp' }, password: 'corp-pass' } },
        },
      },
    });
    assert.equal((await (await connect({ domain: CORP_DOMAIN })).login(GROUPS, 'demo', 'corp-pass'))?.userId, CORP.id);
  });

  test('wrong credentials are a failed login, not an error; an outage is a temporary error', async () => {
    const connector = await connect();
    assert.equal(await connector.login(GROUPS, 'demo', 'wrong'), undefined);
    assert.equal(await connector.login(GROUPS, 'nobody', 'DEMO_PASS'), undefined);
    keystone.setDown(true);
    try {
      await assert.rejects(connector.login(GROUPS, 'demo', 'DEMO_PASS'), (err: unknown) => {
        assert.ok(err instanceof ConnectorError);
        assert.equal(err.temporary, true);
        return true;
      });
    } finally {
      keystone.setDown(false);
    }
  });

  test('refresh checks the user exists with the admin token and re-reads the groups', async () => {
    const connector = await connect();
    const identity = await connector.login(GROUPS, 'demo', 'DEMO_PASS');
    assert.ok(identity);
    keystone.setUser({ ...DEMO, groups: ['developers'] });
    assert.deepEqual((await connector.refresh(GROUPS, identity)).groups, ['developers']);

    const badAdmin = await connect({ keystonePassword: 'not-the-password' });
    await assert.rejects(badAdmin.refresh(GROUPS, identity), (err: unknown) => {
      assert.ok(err instanceof ConnectorError);
      assert.equal(err.temporary, true, 'a wrong admin password must not end users’ sessions');
      return true;
    });

    keystone.deleteUser(DEMO.id);
    await assert.rejects(connector.refresh(GROUPS, identity), (err: unknown) => {
      assert.ok(err instanceof ConnectorError);
      assert.match(err.message, /does not exist/);
      assert.equal(err.temporary, false);
      return true;
    });
    keystone.setUser(DEMO);
  });
});

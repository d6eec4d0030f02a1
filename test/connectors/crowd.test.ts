/**
 * The `atlassian-crowd` connector against a fake Crowd REST API (test/support/fake-crowd.ts): Dex's
 * identity (the user key, name, email), preferredUsernameField, nested groups paged and filtered by
 * `groups`, wrong passwords, a refused application, and refresh.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { pino } from 'pino';

import { configSchema, open } from '../../connectors/atlassian-crowd/crowd.js';
import { ConnectorError, type PasswordConnector, type Refreshable, type Scopes } from '../../connectors/connector.js';
import { type FakeCrowd, type FakeCrowdUser, startFakeCrowd } from '../support/fake-crowd.js';

const GROUPS: Scopes = { offlineAccess: true, groups: true };
const NO_GROUPS: Scopes = { offlineAccess: true, groups: false };

const JANE: FakeCrowdUser = {
  key: '8a3c2f1e-crowd-key-0001',
  name: 'jane',
  password: 'jane-pass',
  email: 'jane@example.com',
  groups: ['confluence-users', 'jira-users', 'engineering', 'admins', 'crowd-administrators'],
};
const TEMP: FakeCrowdUser = {
  key: 'temp-key',
  name: 'temp',
  password: 'temp-pass',
  email: 'temp@example.com',
  groups: ['contractors'],
};

type CrowdConnector = PasswordConnector & Refreshable & { close(): Promise<void> };

const refused =
  (pattern: RegExp, temporary = false) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof ConnectorError, String(err));
    assert.match(`${err.message} | ${err.userMessage}`, pattern);
    assert.equal(err.temporary, temporary);
    return true;
  };

describe('atlassian-crowd connector', () => {
  let crowd: FakeCrowd;
  const opened: CrowdConnector[] = [];

  before(async () => {
    crowd = await startFakeCrowd({ users: [JANE, TEMP] });
  });
  after(async () => {
    for (const connector of opened) await connector.close();
    await crowd.close();
  });

  const connect = async (config: Record<string, unknown> = {}): Promise<CrowdConnector> => {
    const parsed = configSchema.parse({
      baseURL: crowd.baseURL,
      clientID: crowd.appName,
      clientSecret: crowd.appPassword,
      ...config,
    });
    const deps = { log: pino({ level: 'silent' }), fetch, now: () => new Date() };
    const connector = (await open('crowd', parsed, deps, { timeoutSeconds: 5, groupsPageSize: 2 })) as CrowdConnector;
    opened.push(connector);
    return connector;
  };

  test("logs in with the Crowd user key as id, Dex's fields, and every nested group (paged)", async () => {
    const connector = await connect({ usernamePrompt: 'Login', preferredUsernameField: 'name' });
    assert.equal(connector.prompt(), 'Login');
    const identity = await connector.login(GROUPS, 'jane', 'jane-pass');
    assert.deepEqual(
      { ...identity, connectorData: undefined },
      {
        userId: '8a3c2f1e-crowd-key-0001',
        username: 'jane',
        preferredUsername: 'jane',
        email: 'jane@example.com',
        emailVerified: true,
        groups: JANE.groups,
        connectorData: undefined,
      },
    );
    assert.deepEqual(JSON.parse(new TextDecoder().decode(identity?.connectorData)), { username: 'jane' });
    assert.equal(crowd.paths.filter((p) => p.includes('/user/group/nested')).length, 3, '5 groups at 2 a page');
    assert.equal((await connect()).prompt(), 'Username');
  });

  test('preferredUsernameField picks key or email; anything else leaves it empty', async () => {
    for (const [field, expected] of [
      ['key', JANE.key],
      ['email', JANE.email],
      ['nickname', ''],
    ] as const) {
      const identity = await (await connect({ preferredUsernameField: field })).login(NO_GROUPS, 'jane', 'jane-pass');
      assert.equal(identity?.preferredUsername, expected, field);
    }
  });

  test('`groups` allows only members and reports only those groups; non-members are refused even without the groups scope', async () => {
    const connector = await connect({ groups: ['admins', 'engineering', 'ops'] });
    assert.deepEqual((await connector.login(GROUPS, 'jane', 'jane-pass'))?.groups, ['engineering', 'admins']);
    assert.deepEqual((await connector.login(NO_GROUPS, 'jane', 'jane-pass'))?.groups, []);
    await assert.rejects(connector.login(GROUPS, 'temp', 'temp-pass'), refused(/not in any of the required groups/));
    await assert.rejects(connector.login(NO_GROUPS, 'temp', 'temp-pass'), refused(/not in any of the required groups/));
  });

  test('wrong or empty passwords and unknown users are failed logins; an inactive account is refused', async () => {
    const connector = await connect();
    assert.equal(await connector.login(GROUPS, 'jane', 'wrong'), undefined);
    assert.equal(await connector.login(GROUPS, 'jane', ''), undefined);
    assert.equal(await connector.login(GROUPS, 'nobody', 'x'), undefined);
    crowd.setUser({ ...TEMP, active: false });
    await assert.rejects(connector.login(GROUPS, 'temp', 'temp-pass'), refused(/INACTIVE_ACCOUNT/));
    crowd.setUser(TEMP);
  });

  test('a refused application or a Crowd outage is a temporary failure', async () => {
    const wrongApp = await connect({ clientSecret: 'not-the-app-password' });
    await assert.rejects(
      wrongApp.login(GROUPS, 'jane', 'jane-pass'),
      refused(/failed to authenticate Crowd Application with ID "idport-app"/, true),
    );
    const connector = await connect();
    crowd.setDown(true);
    try {
      await assert.rejects(connector.login(GROUPS, 'jane', 'jane-pass'), refused(/HTTP 503/, true));
    } finally {
      crowd.setDown(false);
    }
  });

  test('refresh re-reads the user and groups, renews the session, and ends for a removed or deactivated user', async () => {
    const connector = await connect({ groups: ['engineering', 'contractors'] });
    const identity = await connector.login(GROUPS, 'temp', 'temp-pass');
    assert.ok(identity);
    crowd.setUser({ ...TEMP, email: 'temp@new.example.com', groups: ['contractors', 'engineering'] });
    const refreshed = await connector.refresh(GROUPS, identity);
    assert.equal(refreshed.email, 'temp@new.example.com');
    assert.deepEqual(refreshed.groups, ['contractors', 'engineering']);
    assert.ok(crowd.paths.includes('POST /crowd/rest/usermanagement/1/session?validate-password=false'));

    crowd.setUser({ ...TEMP, groups: ['marketing'] });
    await assert.rejects(connector.refresh(GROUPS, identity), refused(/not in any of the required groups/));
    crowd.setUser({ ...TEMP, active: false });
    await assert.rejects(connector.refresh(GROUPS, identity), refused(/INACTIVE_ACCOUNT/));
    crowd.deleteUser('temp');
    await assert.rejects(connector.refresh(GROUPS, identity), refused(/USER_NOT_FOUND/));
    crowd.setUser(TEMP);
    await assert.rejects(connector.refresh(GROUPS, { ...identity, connectorData: undefined }), refused(/unmarshal/));
  });
});

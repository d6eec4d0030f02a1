import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import bcrypt from 'bcrypt';
import { pino } from 'pino';

import { ConnectorError, type ConnectorDeps, type Identity, type Scopes } from '../../connectors/connector.js';
import {
  bcryptCost,
  COST_SURVEY_TTL_MS,
  openLocal,
  type BcryptCompare,
  type LocalOptions,
} from '../../connectors/local/local.js';
import { MemoryStorage } from '../../storage/memory/memory.js';
import type { Password } from '../../storage/storage.js';

// Dex's example static password: "password" hashed with cost 10 ($2a$, as Go writes it).
const PASSWORD_HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
const EMPTY_PASSWORD_HASH = '$2b$10$TSgyDcaUZ.3sohcP0eYSeOpdbs6eZZUMdp7ybAXldD.oMXDEy3H4u';
const COST_4_HASH = '$2b$04$BTePig75a5KpvedPVRnQKe8GN0QbRy.FDH0xgw67cTzQk.fq9RdFa'; // "s3cret"
const scopes: Scopes = { offlineAccess: true, groups: true };

const admin: Password = {
  email: 'admin@example.com',
  hash: PASSWORD_HASH,
  username: 'admin',
  userId: '08a8684b-db88-4b73-90a9-3cd1661f5466',
};

interface LogLine {
  level: number;
  msg: string;
  connector?: string;
  userId?: string;
  cost?: number;
}

const clock = { now: new Date('2025-01-01T00:00:00Z') };

function depsLoggingTo(logs: LogLine[]): ConnectorDeps {
  return {
    log: pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) }),
    fetch: () => Promise.reject(new Error('the local connector must not use the network')),
    now: () => clock.now,
  };
}

/** Stands in for hashing the dummy's random secret: names the cost, so a test sees which cost the work has. */
const fakeDummyHash = async (_password: string, cost: number): Promise<string> => `dummy at cost ${cost}`;

async function setup(entries: Password[] = [admin], compare?: BcryptCompare, options: LocalOptions = {}) {
  const storage = new MemoryStorage();
  for (const p of entries) await storage.passwords.create(p);
  const logs: LogLine[] = [];
  const connector = openLocal(storage.passwords, depsLoggingTo(logs), {
    hash: fakeDummyHash,
    ...(compare === undefined ? {} : { compare }),
    ...options,
  });
  return { storage, logs, connector };
}

/** A compare that records its calls and delegates to bcrypt, so a test can see the work happen. */
function spyCompare(answer?: boolean) {
  const calls: { password: string; hash: string }[] = [];
  const compare: BcryptCompare = async (password, hash) => {
    calls.push({ password, hash });
    return answer ?? (hash.startsWith('dummy') ? false : bcrypt.compare(password, hash));
  };
  return { calls, compare };
}

describe('local connector', () => {
  it('labels the username field "Email Address", as Dex does', async () => {
    assert.equal((await setup()).connector.prompt(), 'Email Address');
  });

  it('logs in with the right password', async () => {
    const identity = await (await setup()).connector.login(scopes, 'admin@example.com', 'password');
    assert.deepEqual(identity, {
      userId: admin.userId,
      username: 'admin',
      preferredUsername: undefined,
      email: 'admin@example.com',
      emailVerified: true,
      groups: [],
    });
  });

  it('refuses a wrong password', async () => {
    assert.equal(await (await setup()).connector.login(scopes, 'admin@example.com', 'passw0rd'), undefined);
  });

  it('refuses an unknown email', async () => {
    assert.equal(await (await setup()).connector.login(scopes, 'nobody@example.com', 'password'), undefined);
  });

  it('matches the email case-insensitively and reports the stored spelling', async () => {
    const identity = await (await setup()).connector.login(scopes, 'Admin@EXAMPLE.com', 'password');
    assert.equal(identity?.email, 'admin@example.com');
    assert.equal(identity?.userId, admin.userId);
  });

  it('refuses an empty password even when the hash is of the empty string', async () => {
    const { connector } = await setup([{ ...admin, hash: EMPTY_PASSWORD_HASH }]);
    assert.equal(await connector.login(scopes, 'admin@example.com', ''), undefined);
  });

  it('does the bcrypt work for an empty password', async () => {
    const spy = spyCompare();
    await (await setup([admin], spy.compare)).connector.login(scopes, 'admin@example.com', '');
    assert.deepEqual(spy.calls, [{ password: '', hash: PASSWORD_HASH }]);
  });

  it('reports name, preferred username, email verification and groups as Dex does', async () => {
    const { connector } = await setup([
      { ...admin, name: 'Ada Admin', preferredUsername: 'ada', emailVerified: false, groups: ['admins', 'ops'] },
    ]);
    const identity = await connector.login(scopes, 'admin@example.com', 'password');
    assert.deepEqual(identity, {
      userId: admin.userId,
      username: 'Ada Admin', // Dex's resolvePasswordName: name wins over username when set
      preferredUsername: 'ada',
      email: 'admin@example.com',
      emailVerified: false,
      groups: ['admins', 'ops'],
    });
  });

  it('propagates a storage failure instead of answering "wrong password"', async () => {
    const failing = { get: () => Promise.reject(new Error('database down')), list: async () => [] };
    const connector = openLocal(failing, depsLoggingTo([]));
    await assert.rejects(connector.login(scopes, 'admin@example.com', 'password'), { message: 'database down' });
  });

  describe('equal work', () => {
    const cost12: Password = {
      ...admin,
      email: 'bob@example.com',
      userId: 'bob',
      hash: '$2b$12$ABCDEFGHIJKLMNOPQRSTUu6IMaX9mhpGvB759uQD/Ph0vpUV9f2sO',
    };

    it('compares an unknown email against a real bcrypt hash of a random secret, at the cost in use', async () => {
      const spy = spyCompare();
      const { connector } = await setup([admin], spy.compare, { hash: (pw, cost) => bcrypt.hash(pw, cost) });
      assert.equal(await connector.login(scopes, 'nobody@example.com', 'password'), undefined);
      const dummy = spy.calls[0]?.hash ?? '';
      assert.equal(spy.calls.length, 1);
      assert.equal(bcryptCost(dummy), 10);
      assert.equal(await bcrypt.compare('password', dummy), false);
      // The same dummy serves the next unknown email: it is computed once per cost, not per login.
      await connector.login(scopes, 'other@example.com', 'password');
      assert.equal(spy.calls[1]?.hash, dummy);
    });

    it('compares an unknown email against the highest cost in use', async () => {
      const spy = spyCompare();
      const { connector } = await setup([admin, cost12], spy.compare);
      assert.equal(await connector.login(scopes, 'nobody@example.com', 'password'), undefined);
      assert.deepEqual(spy.calls, [{ password: 'password', hash: 'dummy at cost 12' }]);
    });

    it('ignores out-of-range costs when finding the highest cost in use', async () => {
      const spy = spyCompare();
      const { connector } = await setup([admin, { ...cost12, hash: `$2b$17$${PASSWORD_HASH.slice(7)}` }], spy.compare);
      await connector.login(scopes, 'nobody@example.com', 'password');
      assert.deepEqual(spy.calls, [{ password: 'password', hash: 'dummy at cost 10' }]);
    });

    it('notices a costlier password added later, within a minute', async () => {
      const spy = spyCompare();
      const { connector, storage } = await setup([admin], spy.compare);
      await connector.login(scopes, 'nobody@example.com', 'x');
      await storage.passwords.create(cost12);
      clock.now = new Date(clock.now.getTime() + COST_SURVEY_TTL_MS);
      await connector.login(scopes, 'nobody@example.com', 'x');
      assert.deepEqual(
        spy.calls.map((c) => c.hash),
        ['dummy at cost 10', 'dummy at cost 12'],
      );
    });

    it('compares against the user hash exactly once for a wrong password', async () => {
      const spy = spyCompare();
      await (await setup([admin, cost12], spy.compare)).connector.login(scopes, 'admin@example.com', 'wrong');
      assert.deepEqual(spy.calls, [{ password: 'wrong', hash: PASSWORD_HASH }]);
    });

    it('never logs in through the dummy hash, whatever compare answers', async () => {
      const spy = spyCompare(true);
      assert.equal(
        await (await setup([admin], spy.compare)).connector.login(scopes, 'nobody@example.com', 'x'),
        undefined,
      );
      assert.equal(spy.calls.length, 1);
    });
  });

  describe('hash cost', () => {
    const cost12Entry: Password = {
      ...admin,
      email: 'bob@example.com',
      userId: 'bob',
      hash: `$2b$12$${PASSWORD_HASH.slice(7)}`,
    };

    it('refuses a hash below cost 10 with an error log, even with the right password', async () => {
      const spy = spyCompare();
      const { connector, logs } = await setup([{ ...admin, hash: COST_4_HASH }], spy.compare);
      assert.equal(await connector.login(scopes, 'admin@example.com', 's3cret'), undefined);
      // The stand-in costs what the entry's own hash would, clamped into the accepted range.
      assert.deepEqual(spy.calls, [{ password: 's3cret', hash: 'dummy at cost 10' }]);
      const errors = logs.filter((l) => l.level === 50);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]?.msg, 'password hash cost out of range');
      assert.equal(errors[0]?.cost, 4);
      assert.equal(errors[0]?.userId, admin.userId);
      assert.equal(errors[0]?.connector, 'local');
    });

    it('refuses a hash above cost 16 without running it', async () => {
      // Not a real hash: computing one at cost 17 would take seconds, which is the point of the limit.
      const spy = spyCompare(true);
      const { connector, logs } = await setup([{ ...admin, hash: `$2b$17$${PASSWORD_HASH.slice(7)}` }], spy.compare);
      assert.equal(await connector.login(scopes, 'admin@example.com', 'password'), undefined);
      assert.deepEqual(spy.calls, [{ password: 'password', hash: 'dummy at cost 16' }]);
      assert.equal(logs.find((l) => l.level === 50)?.cost, 17);
    });

    it('accepts costs 10 through 16', async () => {
      for (const cost of ['10', '12', '16']) {
        const spy = spyCompare(true);
        const hash = `$2b$${cost}$${PASSWORD_HASH.slice(7)}`;
        const { connector } = await setup([{ ...admin, hash }], spy.compare);
        assert.equal((await connector.login(scopes, 'admin@example.com', 'password'))?.userId, admin.userId, cost);
        assert.deepEqual(spy.calls, [{ password: 'password', hash }]);
      }
    });

    it('refuses an entry that does not hold a bcrypt hash', async () => {
      const spy = spyCompare(true);
      const { connector, logs } = await setup([{ ...admin, hash: 'password' }, cost12Entry], spy.compare);
      assert.equal(await connector.login(scopes, 'admin@example.com', 'password'), undefined);
      assert.deepEqual(spy.calls, [{ password: 'password', hash: 'dummy at cost 12' }]);
      assert.equal(logs.find((l) => l.level === 50)?.msg, 'password entry does not hold a bcrypt hash');
    });
  });

  describe('refresh', () => {
    async function loggedIn(entries: Password[] = [admin]) {
      const env = await setup(entries);
      const identity = await env.connector.login(scopes, 'admin@example.com', 'password');
      assert.ok(identity);
      return { ...env, identity };
    }

    it('returns the same identity while nothing changed', async () => {
      const { connector, identity } = await loggedIn();
      assert.deepEqual(await connector.refresh(scopes, identity), identity);
    });

    it('fails after the user is deleted', async () => {
      const { connector, identity, storage } = await loggedIn();
      await storage.passwords.delete('admin@example.com');
      await assert.rejects(connector.refresh(scopes, identity), (err: unknown) => {
        assert.ok(err instanceof ConnectorError);
        assert.equal(err.message, 'user not found');
        return true;
      });
    });

    it('fails when the email now belongs to a different user', async () => {
      const { connector, identity, storage } = await loggedIn();
      await storage.passwords.delete('admin@example.com');
      await storage.passwords.create({ ...admin, userId: 'someone-else' });
      await assert.rejects(connector.refresh(scopes, identity), ConnectorError);
    });

    it('fails for an identity without an email', async () => {
      const { connector, identity } = await loggedIn();
      const withoutEmail: Identity = { ...identity, email: undefined };
      await assert.rejects(connector.refresh(scopes, withoutEmail), ConnectorError);
    });

    it('picks up changed groups, name and email verification', async () => {
      const { connector, identity, storage } = await loggedIn([{ ...admin, groups: ['ops'] }]);
      assert.deepEqual(identity.groups, ['ops']);
      await storage.passwords.update('admin@example.com', (p) => ({
        ...p,
        name: 'Ada Admin',
        preferredUsername: 'ada',
        emailVerified: false,
        groups: ['ops', 'admins'],
      }));
      const refreshed = await connector.refresh(scopes, { ...identity, connectorData: new Uint8Array([1]) });
      assert.deepEqual(refreshed, {
        userId: admin.userId,
        username: 'Ada Admin',
        preferredUsername: 'ada',
        email: 'admin@example.com',
        emailVerified: false,
        groups: ['ops', 'admins'],
        connectorData: new Uint8Array([1]),
      });
    });
  });
});

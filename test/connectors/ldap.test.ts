import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { Attribute, Change } from 'ldapts';
import { pino } from 'pino';

import {
  ConnectorError,
  type ConnectorDeps,
  type Identity,
  type PasswordConnector,
  type Refreshable,
  type Scopes,
} from '../../connectors/connector.js';
import { configSchema, open } from '../../connectors/ldap/ldap.js';
import {
  FIXTURE,
  FIXTURE_GROUP_SEARCH,
  FIXTURE_USER_SEARCH,
  fixtureConnectorConfig,
  type Slapd,
  startSlapd,
} from '../support/slapd.js';

const withGroups: Scopes = { offlineAccess: true, groups: true };
const noGroups: Scopes = { offlineAccess: true, groups: false };
const { users } = FIXTURE;
const UNAVAILABLE = 'The directory is unavailable. Try again later.';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

// Every line any connector in this file logged, to check at the end that no password ever appears.
const allLogs: LogLine[] = [];

function deps(logs: LogLine[] = []): ConnectorDeps {
  return {
    log: pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          const parsed = JSON.parse(line) as LogLine;
          logs.push(parsed);
          allLogs.push(parsed);
        },
      },
    ),
    fetch: () => Promise.reject(new Error('the ldap connector must not use fetch')),
    now: () => new Date('2025-01-01T00:00:00Z'),
  };
}

type LdapConnector = PasswordConnector & Refreshable;

async function connector(raw: Record<string, unknown>, logs?: LogLine[]): Promise<LdapConnector> {
  return open('ldap', configSchema.parse(raw), deps(logs));
}

/** A TCP server that accepts connections and never says a word: a hung directory. */
async function silentServer(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  return {
    port,
    connections: () => count,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port nothing listens on (bound, then released), so connecting is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
      else resolve(address.port);
    });
  });
}

async function elapsedMs(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

function decodeData(identity: Identity): unknown {
  assert.ok(identity.connectorData);
  return JSON.parse(new TextDecoder().decode(identity.connectorData));
}

describe('ldap connector against slapd', () => {
  let slapd: Slapd;

  before(async () => {
    slapd = await startSlapd();
  });
  after(async () => {
    await slapd.stop();
  });

  // The service account over plain LDAP; each test overrides what it is about.
  const plain = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    ...fixtureConnectorConfig(slapd),
    rootCAData: '',
    usernamePrompt: 'Directory user',
    timeout: '5s',
    ...overrides,
  });

  describe('login', () => {
    it('logs a user in with the right password and maps the configured attributes', async () => {
      const ldap = await connector(plain());
      assert.equal(ldap.prompt(), 'Directory user');
      const identity = await ldap.login(noGroups, users.jane.uid, users.jane.password);
      assert.ok(identity);
      assert.deepEqual(
        { ...identity, connectorData: undefined },
        {
          userId: 'jane',
          username: 'Jane Doe',
          preferredUsername: 'jane',
          email: 'jane@example.org',
          emailVerified: true,
          groups: [],
          connectorData: undefined,
        },
      );
      // Dex's refreshData shape, so refresh tokens survive a move between Dex and idport.
      assert.deepEqual(decodeData(identity), { username: 'jane', entry: { DN: users.jane.dn } });
    });

    it('returns undefined for a wrong password', async () => {
      const logs: LogLine[] = [];
      const ldap = await connector(plain(), logs);
      assert.equal(await ldap.login(noGroups, users.jane.uid, 'not-her-password'), undefined);
      assert.ok(logs.some((l) => l.msg === 'invalid password' && l['dn'] === users.jane.dn));
    });

    it('refuses an empty password without contacting the directory', async () => {
      const directory = await silentServer();
      try {
        const ldap = await connector(plain({ host: `127.0.0.1:${directory.port}`, timeout: '3s' }));
        const ms = await elapsedMs(async () => assert.equal(await ldap.login(noGroups, users.jane.uid, ''), undefined));
        assert.equal(directory.connections(), 0);
        assert.ok(ms < 500, `took ${ms} ms`);
      } finally {
        await directory.close();
      }
    });

    it('returns undefined for an unknown user', async () => {
      const ldap = await connector(plain());
      assert.equal(await ldap.login(noGroups, 'nobody', 'whatever'), undefined);
    });

    it('does not let filter metacharacters in the username widen the search', async () => {
      const ldap = await connector(plain({ userSearch: { ...FIXTURE_USER_SEARCH, username: ['uid', 'mail'] } }));
      const attempts = [
        '*',
        'admin)(uid=*',
        'admin)(|(uid=*',
        '*)(uid=*))(|(uid=*',
        'jan*',
        '*ane',
        '\\',
        '\\2a',
        'jane\u0000',
        'jane)',
        '(uid=jane)',
      ];
      for (const username of attempts) {
        // Each password is a real one: a widened filter would log someone in or match several entries (and throw).
        for (const password of [users.jane.password, users.admin.password]) {
          assert.equal(
            await ldap.login(noGroups, username, password),
            undefined,
            `username ${JSON.stringify(username)}`,
          );
        }
      }
    });

    it('logs in a user whose uid holds ( * ) and a backslash, with groups', async () => {
      const ldap = await connector(plain());
      const identity = await ldap.login(withGroups, users.special.uid, users.special.password);
      assert.ok(identity);
      assert.equal(identity.userId, users.special.uid);
      assert.equal(identity.username, users.special.cn);
      assert.deepEqual(identity.groups, ['developers', 'engineering', 'staff', 'ops']);
    });

    it('matches the username against each attribute of a list', async () => {
      const ldap = await connector(plain({ userSearch: { ...FIXTURE_USER_SEARCH, username: ['uid', 'mail'] } }));
      assert.equal((await ldap.login(noGroups, users.jane.mail, users.jane.password))?.userId, 'jane');
      assert.equal((await ldap.login(noGroups, users.jane.uid, users.jane.password))?.userId, 'jane');
    });

    it('refuses a login with an error when several entries match the username', async () => {
      const logs: LogLine[] = [];
      const ldap = await connector(plain(), logs);
      await assert.rejects(ldap.login(noGroups, users.twin.uid, users.twin.password), (err: unknown) => {
        assert.ok(err instanceof ConnectorError);
        assert.equal(err.message, 'ldap: filter (&(objectClass=inetOrgPerson)(uid=twin)) matched more than one entry');
        assert.equal(err.userMessage, 'Login failed.');
        return true;
      });
      assert.ok(logs.some((l) => l.level === 50 && l.msg === 'several entries match one username; login refused'));
    });

    it('uses DN as a pseudo-attribute and builds the email from emailSuffix', async () => {
      const ldap = await connector(
        plain({ userSearch: { ...FIXTURE_USER_SEARCH, idAttr: 'DN', nameAttr: 'uid', emailSuffix: 'corp.example' } }),
      );
      const identity = await ldap.login(noGroups, users.jane.uid, users.jane.password);
      assert.equal(identity?.userId, users.jane.dn);
      assert.equal(identity.email, 'jane@corp.example');
    });

    it('searches anonymously when bindDN and bindPW are empty', async () => {
      const ldap = await connector(plain({ bindDN: '', bindPW: '' }));
      assert.equal((await ldap.login(noGroups, users.john.uid, users.john.password))?.userId, 'john');
    });

    it('fails with a user-safe error when the service account password is wrong, without trying other hosts', async () => {
      const logs: LogLine[] = [];
      const second = await silentServer();
      try {
        const ldap = await connector(
          plain({ host: [`127.0.0.1:${slapd.port}`, `127.0.0.1:${second.port}`], bindPW: 'wrong' }),
          logs,
        );
        await assert.rejects(ldap.login(noGroups, users.jane.uid, users.jane.password), (err: unknown) => {
          assert.ok(err instanceof ConnectorError);
          assert.match(err.message, /service account bind failed: InvalidCredentialsError \(LDAP result 49\)/);
          assert.equal(err.userMessage, UNAVAILABLE);
          return true;
        });
        assert.equal(second.connections(), 0);
        assert.ok(logs.some((l) => l.msg === 'LDAP service account bind failed; check bindDN and bindPW'));
      } finally {
        await second.close();
      }
    });
  });

  describe('groups', () => {
    it('reads direct and nested groups when the groups scope is asked', async () => {
      const ldap = await connector(plain());
      const identity = await ldap.login(withGroups, users.jane.uid, users.jane.password);
      assert.deepEqual(identity?.groups, ['developers', 'engineering', 'staff', 'ops']);
    });

    it('does not search groups without the groups scope', async () => {
      const logs: LogLine[] = [];
      const ldap = await connector(plain(), logs);
      const identity = await ldap.login(noGroups, users.jane.uid, users.jane.password);
      assert.deepEqual(identity?.groups, []);
      assert.equal(logs.filter((l) => l.msg === 'group search').length, 0);
    });

    it('stops at a membership cycle', async () => {
      const ldap = await connector(plain());
      const identity = await ldap.login(withGroups, users.john.uid, users.john.password);
      assert.deepEqual(identity?.groups, ['cycle-a', 'cycle-b']);
    });

    it('reads only direct groups without recursionGroupAttr', async () => {
      const ldap = await connector(
        plain({ groupSearch: { ...FIXTURE_GROUP_SEARCH, userMatchers: [{ userAttr: 'DN', groupAttr: 'member' }] } }),
      );
      assert.deepEqual((await ldap.login(withGroups, users.jane.uid, users.jane.password))?.groups, ['developers']);
    });

    it('honours the deprecated groupSearch.userAttr/groupAttr and warns about them', async () => {
      const logs: LogLine[] = [];
      const ldap = await connector(
        plain({ groupSearch: { baseDN: FIXTURE.groupsDN, userAttr: 'uid', groupAttr: 'memberUid', nameAttr: 'cn' } }),
        logs,
      );
      assert.deepEqual((await ldap.login(withGroups, users.jane.uid, users.jane.password))?.groups, ['ops']);
      assert.ok(logs.some((l) => l.level === 40 && l['deprecated'] === true));
    });

    it('returns no groups when the group base does not exist', async () => {
      const ldap = await connector(
        plain({ groupSearch: { ...FIXTURE_GROUP_SEARCH, baseDN: 'ou=missing,dc=example,dc=org' } }),
      );
      assert.deepEqual((await ldap.login(withGroups, users.jane.uid, users.jane.password))?.groups, []);
    });
  });

  describe('refresh', () => {
    it('re-reads groups on refresh', async () => {
      const ldap = await connector(plain());
      const identity = await ldap.login(withGroups, users.john.uid, users.john.password);
      assert.ok(identity);
      const admin = await slapd.adminClient();
      const groupDN = `cn=newcomers,${FIXTURE.groupsDN}`;
      try {
        await admin.add(groupDN, { objectClass: 'groupOfNames', cn: 'newcomers', member: users.john.dn });
        const refreshed = await ldap.refresh(withGroups, identity);
        // Breadth first: both direct groups, then the parent of cycle-a.
        assert.deepEqual(refreshed.groups, ['cycle-a', 'newcomers', 'cycle-b']);
        assert.equal(refreshed.userId, 'john');
        assert.deepEqual(refreshed.connectorData, identity.connectorData);
        await admin
          .modify(
            groupDN,
            new Change({
              operation: 'delete',
              modification: new Attribute({ type: 'member', values: [users.john.dn] }),
            }),
          )
          .catch(() => undefined);
        await admin.del(groupDN);
        assert.deepEqual((await ldap.refresh(withGroups, identity)).groups, ['cycle-a', 'cycle-b']);
        assert.deepEqual((await ldap.refresh(noGroups, identity)).groups, []);
      } finally {
        await admin.del(groupDN).catch(() => undefined);
        await admin.unbind();
      }
    });

    it('fails the refresh after the user is deleted', async () => {
      const ldap = await connector(plain());
      const identity = await ldap.login(withGroups, users.leaver.uid, users.leaver.password);
      assert.ok(identity);
      const admin = await slapd.adminClient();
      await admin.del(users.leaver.dn);
      await admin.unbind();
      await assert.rejects(
        ldap.refresh(withGroups, identity),
        new ConnectorError('ldap: refresh: user "leaver" not found'),
      );
    });

    it('fails the refresh after the user entry moved to another DN', async () => {
      const ldap = await connector(plain());
      const identity = await ldap.login(noGroups, users.mover.uid, users.mover.password);
      assert.ok(identity);
      const admin = await slapd.adminClient();
      const movedDN = `uid=mover,${FIXTURE.contractorsDN}`;
      await admin.modifyDN(users.mover.dn, movedDN);
      await admin.unbind();
      // Still found by username (the search base covers both subtrees), but it is not the entry that logged in.
      await assert.rejects(
        ldap.refresh(noGroups, identity),
        new ConnectorError(`ldap: refresh: username "mover" expected DN "${users.mover.dn}", got "${movedDN}"`),
      );
    });

    it('fails the refresh without connector data', async () => {
      const ldap = await connector(plain());
      const identity: Identity = { userId: 'jane', username: 'Jane Doe', emailVerified: true, groups: [] };
      await assert.rejects(
        ldap.refresh(noGroups, identity),
        new ConnectorError('ldap: refresh without valid connector data'),
      );
    });
  });

  describe('transport', () => {
    const ldaps = (overrides: Record<string, unknown> = {}): Record<string, unknown> =>
      plain({ host: `127.0.0.1:${slapd.ldapsPort}`, insecureNoSSL: false, ...overrides });
    const base64 = (pem: string): string => Buffer.from(pem).toString('base64');

    it('logs in over LDAPS trusting the CA from rootCAData', async () => {
      const ldap = await connector(ldaps({ rootCAData: base64(slapd.caPem) }));
      assert.equal((await ldap.login(withGroups, users.jane.uid, users.jane.password))?.userId, 'jane');
    });

    it('logs in over StartTLS trusting the CA from a rootCA file', async () => {
      const ldap = await connector(plain({ insecureNoSSL: false, startTLS: true, rootCA: slapd.caFile }));
      assert.equal((await ldap.login(withGroups, users.jane.uid, users.jane.password))?.userId, 'jane');
    });

    it('checks the certificate against a DNS host name over StartTLS', async () => {
      const ldap = await connector(
        plain({ host: `localhost:${slapd.port}`, insecureNoSSL: false, startTLS: true, rootCA: slapd.caFile }),
      );
      assert.equal((await ldap.login(noGroups, users.jane.uid, users.jane.password))?.userId, 'jane');
    });

    it('fails LDAPS with a certificate from an untrusted CA, with a clear log line', async () => {
      const logs: LogLine[] = [];
      const ldap = await connector(ldaps({ rootCAData: base64(slapd.wrongCaPem) }), logs);
      await assert.rejects(ldap.login(noGroups, users.jane.uid, users.jane.password), (err: unknown) => {
        assert.ok(err instanceof ConnectorError);
        assert.match(
          err.message,
          /^ldap: no directory server usable: ldaps:\/\/127\.0\.0\.1:\d+: certificate not trusted \(SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain\)$/,
        );
        assert.equal(err.userMessage, UNAVAILABLE);
        return true;
      });
      const line = logs.find((l) => l.level === 50);
      assert.match(
        line?.msg ?? '',
        /^TLS certificate of ldaps:\/\/127\.0\.0\.1:\d+ did not verify: .*; trust its CA with rootCA or rootCAData/,
      );
    });

    it('fails StartTLS with a certificate from an untrusted CA', async () => {
      const ldap = await connector(
        plain({ insecureNoSSL: false, startTLS: true, rootCAData: base64(slapd.wrongCaPem) }),
      );
      await assert.rejects(
        ldap.login(noGroups, users.jane.uid, users.jane.password),
        /certificate not trusted \(SELF_SIGNED_CERT_IN_CHAIN/,
      );
    });

    it('fails LDAPS against the system roots, which do not include the test CA', async () => {
      const ldap = await connector(ldaps());
      await assert.rejects(ldap.login(noGroups, users.jane.uid, users.jane.password), /certificate not trusted/);
    });

    it('accepts an untrusted certificate with insecureSkipVerify', async () => {
      const ldap = await connector(ldaps({ rootCAData: base64(slapd.wrongCaPem), insecureSkipVerify: true }));
      assert.equal((await ldap.login(noGroups, users.jane.uid, users.jane.password))?.userId, 'jane');
    });

    it('presents clientCert and clientKey to a directory that demands a client certificate', async () => {
      const strict = await startSlapd({ requireClientCert: true });
      try {
        const config = { ...ldaps({ rootCA: strict.caFile }), host: `127.0.0.1:${strict.ldapsPort}` };
        const withCert = await connector({
          ...config,
          clientCert: strict.clientCertFile,
          clientKey: strict.clientKeyFile,
        });
        assert.equal((await withCert.login(noGroups, users.jane.uid, users.jane.password))?.userId, 'jane');
        const withoutCert = await connector(config);
        await assert.rejects(withoutCert.login(noGroups, users.jane.uid, users.jane.password), ConnectorError);
      } finally {
        await strict.stop();
      }
    });
  });

  describe('timeouts and failover', () => {
    const kinds = { plain: 'a plain', ldaps: 'an LDAPS', startTLS: 'a StartTLS' } as const;
    for (const transport of ['plain', 'ldaps', 'startTLS'] as const) {
      it(`fails within the configured timeout when ${kinds[transport]} directory never answers`, async () => {
        const hung = await silentServer();
        try {
          const ldap = await connector(
            plain({
              host: `127.0.0.1:${hung.port}`,
              insecureNoSSL: transport === 'plain',
              startTLS: transport === 'startTLS',
              rootCAData: Buffer.from(slapd.caPem).toString('base64'),
              timeout: '400ms',
            }),
          );
          const ms = await elapsedMs(() =>
            assert.rejects(ldap.login(noGroups, users.jane.uid, users.jane.password), (err: unknown) => {
              assert.ok(err instanceof ConnectorError);
              assert.match(
                err.message,
                /^ldap: no directory server usable: ldaps?:\/\/127\.0\.0\.1:\d+: no answer within 400 ms/,
              );
              assert.equal(err.userMessage, UNAVAILABLE);
              return true;
            }),
          );
          assert.ok(ms >= 350 && ms < 1_500, `took ${ms} ms`);
        } finally {
          await hung.close();
        }
      });
    }

    // The test's own timeout turns a regression (an unbounded handshake) into a failure, not a hang.
    it(
      'fails within the configured timeout when the TLS handshake after StartTLS stalls',
      { timeout: 5_000 },
      async () => {
        // Answers the first request (ldapts' StartTLS, message 1) with success, then never speaks TLS.
        const startTLSOk = Buffer.from([
          0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ]);
        const sockets = new Set<Socket>();
        const stalling = createServer((socket) => {
          sockets.add(socket);
          socket.on('error', () => undefined);
          socket.once('data', () => socket.write(startTLSOk));
        });
        const port = await listen(stalling);
        try {
          const ldap = await connector(
            plain({ host: `127.0.0.1:${port}`, insecureNoSSL: false, startTLS: true, timeout: '400ms' }),
          );
          const ms = await elapsedMs(() =>
            assert.rejects(
              ldap.login(noGroups, users.jane.uid, users.jane.password),
              /no answer within 400 ms \(TLS handshake after StartTLS: Operation timed out\)/,
            ),
          );
          assert.ok(ms >= 350 && ms < 1_500, `took ${ms} ms`);
        } finally {
          for (const socket of sockets) socket.destroy();
          await new Promise((resolve) => stalling.close(resolve));
        }
      },
    );

    it('fails over to the next host when the first refuses connections', async () => {
      const logs: LogLine[] = [];
      const down = await closedPort();
      const ldap = await connector(plain({ host: [`127.0.0.1:${down}`, `127.0.0.1:${slapd.port}`] }), logs);
      assert.equal((await ldap.login(withGroups, users.jane.uid, users.jane.password))?.userId, 'jane');
      assert.ok(
        logs.some(
          (l) =>
            l.level === 40 && l['server'] === `ldap://127.0.0.1:${down}` && /ECONNREFUSED/.test(String(l['reason'])),
        ),
      );
    });

    it('fails over past a host that never answers, through the hosts list', async () => {
      const hung = await silentServer();
      try {
        const ldap = await connector(
          plain({ host: undefined, hosts: [`127.0.0.1:${hung.port}`, `127.0.0.1:${slapd.port}`], timeout: '300ms' }),
        );
        const ms = await elapsedMs(async () =>
          assert.equal((await ldap.login(noGroups, users.jane.uid, users.jane.password))?.userId, 'jane'),
        );
        assert.ok(ms < 1_500, `took ${ms} ms`);
      } finally {
        await hung.close();
      }
    });

    it('reports every host when none can be used', async () => {
      const [first, second] = [await closedPort(), await closedPort()];
      const ldap = await connector(plain({ host: [`127.0.0.1:${first}`, `127.0.0.1:${second}`] }));
      await assert.rejects(ldap.login(noGroups, users.jane.uid, users.jane.password), (err: unknown) => {
        assert.ok(err instanceof ConnectorError);
        assert.equal(
          err.message,
          `ldap: no directory server usable (all hosts tried): ldap://127.0.0.1:${first}: connect ECONNREFUSED 127.0.0.1:${first}; ` +
            `ldap://127.0.0.1:${second}: connect ECONNREFUSED 127.0.0.1:${second}`,
        );
        return true;
      });
    });
  });

  it('never logs a password', () => {
    const text = JSON.stringify(allLogs);
    assert.ok(allLogs.length > 0);
    for (const password of [...Object.values(users).map((u) => u.password), FIXTURE.service.password, slapd.adminPW]) {
      assert.ok(!text.includes(password), `a log line holds ${password}`);
    }
  });
});

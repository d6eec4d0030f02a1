import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { pino } from 'pino';

import type { ConnectorDeps } from '../../connectors/connector.js';
import { configuredHosts, effectiveUserMatchers, parseGoDuration } from '../../connectors/ldap/config.js';
import { serverUrl } from '../../connectors/ldap/connection.js';
import { configSchema, open } from '../../connectors/ldap/ldap.js';

const minimal = { host: 'ldap.example.com', userSearch: { baseDN: 'ou=people,dc=example,dc=com', username: 'uid' } };

const deps: ConnectorDeps = {
  log: pino({ level: 'silent' }),
  fetch: () => Promise.reject(new Error('unused')),
  now: () => new Date('2025-01-01T00:00:00Z'),
};

function issues(raw: unknown): string[] {
  const result = configSchema.safeParse(raw);
  assert.equal(result.success, false, 'expected the config to be rejected');
  return result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
}

describe('ldap connector config', () => {
  it("accepts the example config from Dex's connector/ldap/ldap.go unchanged", () => {
    const config = configSchema.parse({
      host: 'ldap.example.com:636',
      rootCA: '/etc/dex/ldap.ca',
      bindDN: 'uid=serviceaccount,cn=users,dc=example,dc=com',
      bindPW: 'password',
      userSearch: {
        baseDN: 'cn=users,dc=example,dc=com',
        filter: '(objectClass=person)',
        username: ['uid', 'mail'],
        idAttr: 'uid',
        emailAttr: 'mail',
        nameAttr: 'name',
        preferredUsernameAttr: 'uid',
      },
      groupSearch: {
        baseDN: 'cn=groups,dc=example,dc=com',
        filter: '(|(objectClass=posixGroup)(objectClass=groupOfNames))',
        userMatchers: [
          { userAttr: 'uid', groupAttr: 'memberUid' },
          { userAttr: 'DN', groupAttr: 'member' },
        ],
        nameAttr: 'name',
      },
    });
    assert.equal(config.timeout, 10_000);
    assert.equal(config.userSearch.scope, 'sub');
    assert.deepEqual(config.userSearch.username, ['uid', 'mail']);
    assert.deepEqual(config.groupSearch.userMatchers[1], {
      userAttr: 'DN',
      groupAttr: 'member',
      recursionGroupAttr: '',
    });
  });

  it("fills Dex's documented defaults", () => {
    const config = configSchema.parse(minimal);
    assert.deepEqual(
      { ...config, userSearch: { ...config.userSearch }, groupSearch: { ...config.groupSearch } },
      {
        host: 'ldap.example.com',
        insecureNoSSL: false,
        insecureSkipVerify: false,
        startTLS: false,
        rootCA: '',
        rootCAData: '',
        clientCert: '',
        clientKey: '',
        bindDN: '',
        bindPW: '',
        usernamePrompt: '',
        userSearch: {
          baseDN: 'ou=people,dc=example,dc=com',
          filter: '',
          username: ['uid'],
          scope: 'sub',
          idAttr: 'uid',
          emailAttr: 'mail',
          nameAttr: '',
          preferredUsernameAttr: '',
          emailSuffix: '',
        },
        groupSearch: {
          baseDN: '',
          filter: '',
          scope: 'sub',
          userAttr: '',
          groupAttr: '',
          recursionGroupAttr: '',
          userMatchers: [],
          nameAttr: '',
        },
        timeout: 10_000,
      },
    );
  });

  it('takes one host, a host list or a hosts list, in order', () => {
    assert.deepEqual(configuredHosts(configSchema.parse(minimal)), [{ hostname: 'ldap.example.com', port: undefined }]);
    assert.deepEqual(configuredHosts(configSchema.parse({ ...minimal, host: ['a.example:389', '[::1]:1636'] })), [
      { hostname: 'a.example', port: 389 },
      { hostname: '::1', port: 1636 },
    ]);
    assert.deepEqual(
      configuredHosts(configSchema.parse({ ...minimal, host: undefined, hosts: ['b.example', '::1'] })),
      [
        { hostname: 'b.example', port: undefined },
        { hostname: '::1', port: undefined },
      ],
    );
  });

  it('rejects a missing host, host with hosts, a scheme and a bad port', () => {
    assert.deepEqual(issues({ ...minimal, host: undefined }), ['host: host is required']);
    assert.deepEqual(issues({ ...minimal, hosts: ['b.example'] }), ['hosts: set host or hosts, not both']);
    assert.deepEqual(issues({ ...minimal, host: 'ldaps://ldap.example.com' }), [
      'host: must be host or host:port, without a scheme (use insecureNoSSL / startTLS to pick the transport)',
    ]);
    assert.deepEqual(issues({ ...minimal, host: 'ldap.example.com:99999' }), ['host: must be host or host:port']);
  });

  it('requires userSearch.baseDN and userSearch.username, as Dex does', () => {
    assert.deepEqual(issues({ host: 'h', userSearch: { baseDN: '', username: '' } }), [
      'userSearch.baseDN: userSearch.baseDN is required',
      'userSearch.username: userSearch.username is required',
    ]);
  });

  it('rejects unknown keys, unknown scopes and filters that do not parse', () => {
    assert.deepEqual(issues({ ...minimal, hots: 'x' }), [': Unrecognized key: "hots"']);
    assert.deepEqual(issues({ ...minimal, userSearch: { ...minimal.userSearch, scope: 'base' } }), [
      'userSearch.scope: Invalid option: expected one of ""|"sub"|"one"',
    ]);
    assert.deepEqual(issues({ ...minimal, userSearch: { ...minimal.userSearch, filter: '(objectClass=person' } }), [
      'userSearch.filter: must be an LDAP filter such as "(objectClass=person)" (RFC 4515)',
    ]);
  });

  it('rejects settings Dex would ignore or fail on at every login', () => {
    assert.deepEqual(issues({ ...minimal, bindDN: 'cn=svc' }), [
      'bindPW: bindPW is required with bindDN (leave both empty for an anonymous search)',
    ]);
    assert.deepEqual(issues({ ...minimal, clientCert: '/c.pem' }), [
      'clientKey: clientCert and clientKey must be set together',
    ]);
    assert.deepEqual(issues({ ...minimal, groupSearch: { baseDN: 'ou=groups' } }), [
      'groupSearch.nameAttr: groupSearch.nameAttr is required when groupSearch.baseDN is set',
    ]);
    assert.deepEqual(issues({ ...minimal, kerberos: { enabled: true, keytabPath: '/k' } }), [
      'kerberos: Kerberos (SPNEGO) login is not supported by idport yet; remove the block or set enabled: false',
    ]);
    assert.equal(configSchema.safeParse({ ...minimal, kerberos: { enabled: false, keytabPath: '/k' } }).success, true);
  });

  it('reads timeout as a Go duration or as milliseconds', () => {
    assert.equal(configSchema.parse({ ...minimal, timeout: '1m30s' }).timeout, 90_000);
    assert.equal(configSchema.parse({ ...minimal, timeout: '1.5s' }).timeout, 1_500);
    assert.equal(configSchema.parse({ ...minimal, timeout: 250 }).timeout, 250);
    const message =
      'timeout: must be a duration of at least 1ms, such as "10s" or "500ms" (a number means milliseconds)';
    for (const bad of ['0s', '10', 'ten seconds', '-1s', 0, ''])
      assert.deepEqual(issues({ ...minimal, timeout: bad }), [message], String(bad));
  });

  it('parses Go durations', () => {
    assert.equal(parseGoDuration('10s'), 10_000);
    assert.equal(parseGoDuration('500ms'), 500);
    assert.equal(parseGoDuration('2h45m'), 9_900_000);
    assert.equal(parseGoDuration('.5s'), 500);
    assert.equal(parseGoDuration('1500us'), 1.5);
    assert.equal(parseGoDuration('10'), undefined);
    assert.equal(parseGoDuration('s'), undefined);
    assert.equal(parseGoDuration('1d'), undefined);
  });

  it("uses Dex's userMatchers, else the deprecated userAttr/groupAttr pair", () => {
    const matchers = [{ userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'member' }];
    assert.deepEqual(
      effectiveUserMatchers(
        configSchema.parse({
          ...minimal,
          groupSearch: { baseDN: 'g', nameAttr: 'cn', userMatchers: matchers, userAttr: 'uid' },
        }),
      ),
      {
        matchers,
        isDeprecated: false,
      },
    );
    assert.deepEqual(
      effectiveUserMatchers(
        configSchema.parse({
          ...minimal,
          groupSearch: { baseDN: 'g', nameAttr: 'cn', userAttr: 'uid', groupAttr: 'memberUid' },
        }),
      ),
      {
        matchers: [{ userAttr: 'uid', groupAttr: 'memberUid', recursionGroupAttr: '' }],
        isDeprecated: true,
      },
    );
    assert.deepEqual(effectiveUserMatchers(configSchema.parse(minimal)), { matchers: [], isDeprecated: false });
  });

  it('defaults the port to 636 for LDAPS and 389 for plain LDAP and StartTLS', () => {
    assert.equal(serverUrl({ hostname: 'ldap.example.com', port: undefined }, 'ldaps'), 'ldaps://ldap.example.com:636');
    assert.equal(serverUrl({ hostname: 'ldap.example.com', port: undefined }, 'plain'), 'ldap://ldap.example.com:389');
    assert.equal(
      serverUrl({ hostname: 'ldap.example.com', port: undefined }, 'startTLS'),
      'ldap://ldap.example.com:389',
    );
    assert.equal(serverUrl({ hostname: '::1', port: 1389 }, 'plain'), 'ldap://[::1]:1389');
  });
});

describe('ldap connector startup', () => {
  it('fails to open with an unreadable rootCA file or CA data without certificates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'idport-ldap-config-'));
    try {
      const missing = join(dir, 'missing.pem');
      await assert.rejects(open('ldap', configSchema.parse({ ...minimal, rootCA: missing }), deps), {
        message: `ldap: cannot read rootCA file ${missing}: ENOENT: no such file or directory, open '${missing}'`,
      });
      const notPem = join(dir, 'not.pem');
      await writeFile(notPem, 'hello');
      await assert.rejects(open('ldap', configSchema.parse({ ...minimal, rootCA: notPem }), deps), {
        message: `ldap: no PEM certificates found in rootCA ${notPem}`,
      });
      const rootCAData = Buffer.from(
        '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
      ).toString('base64');
      await assert.rejects(
        open('ldap', configSchema.parse({ ...minimal, rootCAData }), deps),
        /^Error: ldap: rootCAData holds a certificate that does not parse/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses usernamePrompt, falling back to "Username" as Dex\'s login page does', async () => {
    assert.equal((await open('ldap', configSchema.parse(minimal), deps)).prompt(), 'Username');
    assert.equal(
      (await open('ldap', configSchema.parse({ ...minimal, usernamePrompt: 'Email' }), deps)).prompt(),
      'Email',
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectorSchemas } from '../../connectors/registry.js';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { ConfigError, loadConfig, readConfig } from '../../src/config/load.js';
import { configWarnings, formatWarning } from '../../src/config/warnings.js';

const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W'; // from Dex's config.dev.yaml
const options = { env: {}, connectorSchemas: connectorSchemas() };

describe('keys as Dex reads them (ghodss/yaml into encoding/json)', () => {
  it('matches keys case-insensitively at every level, in connector configs too', () => {
    const config = loadConfig(
      `Issuer: http://127.0.0.1:5556/dex
STORAGE: {Type: sqlite3, Config: {FILE: dex.db}}
Web: {HTTP: 127.0.0.1:5556}
OAuth2: {SkipApprovalScreen: true, ResponseTypes: [code]}
EnablePasswordDb: true
StaticClients:
  - ID: app
    RedirectURIs: ['https://app.example.com/cb']
    Name: App
    Secret: s3cret
StaticPasswords:
  - Email: admin@example.com
    Hash: "${HASH}"
    UserId: "1"
Connectors:
  - Type: ldap
    ID: ldap
    Name: LDAP
    Config:
      Host: ldap.example.com:636
      UserSearch: {BaseDN: 'ou=people,dc=example,dc=org', Username: uid, IDAttr: uid, EmailAttr: mail, NameAttr: cn}
`,
      'config.yaml',
      options,
    );
    assert.equal(config.issuer, 'http://127.0.0.1:5556/dex');
    assert.deepEqual(config.storage, { type: 'sqlite3', config: { file: 'dex.db' } });
    assert.equal(config.oauth2.skipApprovalScreen, true);
    assert.equal(config.enablePasswordDB, true);
    assert.deepEqual(config.staticClients[0]?.redirectURIs, ['https://app.example.com/cb']);
    assert.equal(config.staticPasswords[0]?.userID, '1');
    assert.deepEqual(config.connectors[0]?.config, {
      host: 'ldap.example.com:636',
      userSearch: {
        baseDN: 'ou=people,dc=example,dc=org',
        username: 'uid',
        idAttr: 'uid',
        emailAttr: 'mail',
        nameAttr: 'cn',
      },
    });
  });

  it('warns about each unknown key with its line, and ignores it, as Dex does', () => {
    const { config, warnings } = readConfig(
      `issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web:
  http: 127.0.0.1:5556
  tlsCertificate: /tls.crt
staticClients:
  - id: app
    secret: s
    name: App
    colour: blue
connectors:
  - type: mockCallback
    id: mock
    name: Mock
    config: {unexpected: 1}
`,
      'dex.yaml',
      options,
    );
    assert.equal(config.web.http, '127.0.0.1:5556');
    assert.equal(config.staticClients[0]?.id, 'app');
    assert.deepEqual(config.connectors[0]?.config, {});
    assert.deepEqual(warnings.map(formatWarning), [
      'dex.yaml:5:3 web.tlsCertificate is not a key idport or Dex knows; ignored, as Dex ignores it',
      'dex.yaml:10:5 staticClients[0].colour is not a key idport or Dex knows; ignored, as Dex ignores it',
      'dex.yaml:15:14 connectors[0].config.unexpected is not a key idport or Dex knows; ignored, as Dex ignores it',
    ]);
  });

  it('refuses the same unknown keys under strict (check-config --strict), together with other problems', () => {
    const yaml = `issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web: {http: 127.0.0.1:5556, tlsCertificate: /tls.crt}
expiry: {idTokens: soon}
`;
    assert.throws(
      () => readConfig(yaml, 'dex.yaml', { ...options, strict: true }),
      (err: unknown) =>
        err instanceof ConfigError &&
        assert.deepEqual(err.issues, [
          'dex.yaml:3:29 web: unknown key "tlsCertificate"',
          'dex.yaml:4:10 expiry.idTokens: expected a duration like "24h" or "90m", got "soon"',
        ]) === undefined,
    );
  });

  it('uses the later of two keys naming one setting, and says so', () => {
    const { config, warnings } = readConfig(
      `issuer: http://127.0.0.1:5556/dex
Issuer: http://127.0.0.1:5557/dex
storage: {type: memory}
web: {http: 127.0.0.1:5556}
`,
      'dex.yaml',
      options,
    );
    assert.equal(config.issuer, 'http://127.0.0.1:5557/dex');
    assert.match(
      formatWarning(warnings[0] ?? { key: '', message: '' }),
      /^dex\.yaml:2:1 Issuer names the same setting/,
    );
  });

  it('keeps a key named __proto__ a plain (unknown) key, never a prototype', () => {
    const { config, warnings } = readConfig(
      `issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web: {http: 127.0.0.1:5556}
__proto__: {enablePasswordDB: true}
`,
      'dex.yaml',
      options,
    );
    assert.equal(config.enablePasswordDB, false);
    assert.equal(Object.getPrototypeOf(config), Object.prototype);
    assert.deepEqual(
      warnings.map((w) => w.key),
      ['__proto__'],
    );
  });
});

describe('Dex acceptance rules', () => {
  const base = `issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web: {http: 127.0.0.1:5556}
enablePasswordDB: true
`;

  it("takes static passwords with only a hash; without userID they get Dex's sub for an empty id", () => {
    const config = loadConfig(`${base}staticPasswords:\n  - hash: "${HASH}"\n`, 'c.yaml', options);
    assert.deepEqual(
      { ...config.staticPasswords[0], hash: '' },
      { email: '', hash: '', username: '', userID: '', name: '', emailVerified: true, groups: [] },
    );
    assert.equal(encodeSubject('', 'local'), 'EgVsb2NhbA');
    assert.deepEqual(configWarnings(config), []);
  });

  it('warns when two or more static passwords lack a userID, since they share one identity', () => {
    const config = loadConfig(
      `${base}staticPasswords:
  - {email: a@example.com, hash: "${HASH}"}
  - {email: b@example.com, hash: "${HASH}", userID: "b"}
  - {email: c@example.com, hash: "${HASH}"}
`,
      'c.yaml',
      options,
    );
    assert.deepEqual(configWarnings(config).map(formatWarning), [
      'staticPasswords entries [0], [2] have no userID, so they share one identity (the same "sub", EgVsb2NhbA, as in Dex): give each a userID of its own',
    ]);
  });

  it('says nothing about token exchange in oauth2.grantTypes, which idport serves as Dex does (issue 12)', () => {
    const listed = loadConfig(
      `${base}oauth2:\n  grantTypes: [authorization_code, urn:ietf:params:oauth:grant-type:token-exchange]\n`,
      'c.yaml',
      options,
    );
    assert.deepEqual(listed.oauth2.grantTypes, [
      'authorization_code',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
    assert.deepEqual(configWarnings(listed), []);
    assert.deepEqual(configWarnings(loadConfig(base, 'c.yaml', options)), [], "Dex's default list alone says nothing");
  });

  it('still refuses a static password without any hash, as Dex does', () => {
    assert.throws(
      () => loadConfig(`${base}staticPasswords:\n  - {email: a@example.com}\n`, 'c.yaml', options),
      (err: unknown) =>
        err instanceof ConfigError &&
        assert.deepEqual(err.issues, ['c.yaml:6:5 staticPasswords[0].hash: required (or hashFromEnv)']) === undefined,
    );
  });

  it('accepts an oidc connector without clientID or redirectURI (used only for token exchange)', () => {
    const config = loadConfig(
      `${base}connectors:
  - type: oidc
    id: upstream
    name: Upstream
    config: {issuer: https://token.example.com, scopes: [openid, groups], getUserInfo: true}
`,
      'c.yaml',
      options,
    );
    assert.equal(config.connectors[0]?.type, 'oidc');
  });
});

describe('redirect URIs', () => {
  it('accepts a path as Dex does, and refuses "//host/path", which would leave the host', () => {
    const base = `issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web: {http: 127.0.0.1:5556}
staticClients:
  - {id: app, secret: s, name: App, redirectURIs: ['/login/oidc'], postLogoutRedirectURIs: ['/bye']}
`;
    assert.deepEqual(loadConfig(base, 'c.yaml', options).staticClients[0]?.redirectURIs, ['/login/oidc']);
    assert.throws(
      () => loadConfig(base.replace("'/login/oidc'", "'//evil.example/cb'"), 'c.yaml', options),
      (err: unknown) =>
        err instanceof ConfigError && /redirectURIs\[0\]: a relative redirect URI is a path/.test(err.issues[0] ?? ''),
    );
  });
});

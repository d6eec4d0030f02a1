import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';
import { z } from 'zod';
import { ConfigError, loadConfig, loadConfigFile, type Config } from '../../src/config/load.js';

const EXAMPLE = fileURLToPath(new URL('../../config.example.yaml', import.meta.url));
const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W'; // from Dex's config.dev.yaml

// Stand-ins for the connector registry's schemas.
const connectorSchemas = {
  mockCallback: z.strictObject({}),
  sample: z.strictObject({
    host: z.string(),
    port: z.number().default(389),
    tls: z.strictObject({ insecure: z.boolean() }).optional(),
  }),
};

/** Loads YAML that must be valid. */
const load = (yaml: string, env: Record<string, string> = {}): Config =>
  loadConfig(yaml, 'config.yaml', { env, connectorSchemas });

/** Loads YAML that must be invalid and returns every reported problem. */
function problems(yaml: string, env: Record<string, string> = {}, strict = false): readonly string[] {
  try {
    loadConfig(yaml, 'config.yaml', { env, connectorSchemas, strict });
  } catch (err: unknown) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return assert.fail('expected a ConfigError');
}

const MINIMAL = `issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
web:
  http: 127.0.0.1:5556
`;

describe('config.example.yaml', () => {
  it('loads and starts the demo with Dex defaults', async () => {
    const config = await loadConfigFile(EXAMPLE, { env: {}, connectorSchemas: {} });
    assert.equal(config.issuer, 'http://127.0.0.1:5556/dex');
    assert.deepEqual(config.storage, { type: 'sqlite3', config: { file: './data/idport.db' } });
    assert.equal(config.web.http, '127.0.0.1:5556');
    assert.deepEqual(config.staticClients, [
      {
        id: 'example-app',
        secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0',
        redirectURIs: ['http://127.0.0.1:5555/callback', 'http://localhost:5555/callback'],
        postLogoutRedirectURIs: ['http://127.0.0.1:5555/', 'http://localhost:5555/'],
        trustedPeers: [],
        public: false,
        name: 'Example App',
        logoURL: '',
      },
    ]);
    assert.equal(config.enablePasswordDB, true);
    const [admin, ...others] = config.staticPasswords;
    assert.equal(others.length, 0);
    assert.ok(admin);
    assert.deepEqual(
      { ...admin, hash: '' },
      {
        email: 'admin@example.com',
        hash: '',
        username: 'admin',
        userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
        name: 'admin',
        emailVerified: true,
        groups: [],
      },
    );
    assert.equal(bcrypt.compareSync('password', admin.hash), true);
    assert.deepEqual(config.connectors, []);
    assert.equal(config.frontend.issuer, 'idport');
  });

  it('has Dex defaults for everything it leaves out', async () => {
    const config = await loadConfigFile(EXAMPLE, { env: {}, connectorSchemas: {} });
    assert.deepEqual(config.expiry, {
      deviceRequests: 5 * 60_000,
      signingKeys: 6 * 3_600_000,
      idTokens: 24 * 3_600_000,
      authRequests: 24 * 3_600_000,
      refreshTokens: { disableRotation: false, reuseInterval: 3_000 },
    });
    assert.deepEqual(config.signer, {
      type: 'local',
      config: { keysRotationPeriod: 6 * 3_600_000, algorithm: 'RS256' },
    });
    assert.deepEqual(config.oauth2, {
      grantTypes: [
        'authorization_code',
        'implicit',
        'password',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code',
        'urn:ietf:params:oauth:grant-type:token-exchange',
      ],
      responseTypes: ['code'],
      skipApprovalScreen: false,
      alwaysShowLoginScreen: false,
      pkce: { enforce: false, codeChallengeMethodsSupported: ['S256', 'plain'] },
      grantTypesDefaulted: true,
    });
    assert.deepEqual(config.web, {
      http: '127.0.0.1:5556',
      headers: {},
      allowedOrigins: [],
      allowedHeaders: [],
      clientRemoteIP: { header: 'X-Forwarded-For', trustedProxies: [] },
    });
    assert.deepEqual(config.telemetry, { enableProfiling: false });
    assert.deepEqual(config.logger, { level: 'info', format: 'text' });
    assert.deepEqual(config.frontend, { theme: 'light', issuer: 'idport', logoURL: 'theme/logo.png', extra: {} });
    assert.deepEqual(config.sessions, {
      cookieName: 'dex_session',
      absoluteLifetime: 24 * 3_600_000,
      validIfNotUsedFor: 3_600_000,
      rememberMeCheckedByDefault: true,
      ssoSharedWithDefault: 'none',
    });
  });
});

describe('Dex configs', () => {
  // The shape of Dex's config.dev.yaml.
  const DEX_DEV = `issuer: http://127.0.0.1:5556/dex

storage:
  type: sqlite3
  config:
    file: var/sqlite/dex.db

web:
  http: 127.0.0.1:5556

telemetry:
  http: 127.0.0.1:5558

staticClients:
  - id: example-app
    redirectURIs:
      - 'http://127.0.0.1:5555/callback'
    name: 'Example App'
    secret: ZXhhbXBsZS1hcHAtc2VjcmV0

connectors:
  - type: mockCallback
    id: mock
    name: Example

enablePasswordDB: true

staticPasswords:
  - email: "admin@example.com"
    hash: "${HASH}"
    username: "admin"
    name: "Admin User"
    emailVerified: true
    preferredUsername: "admin"
    groups:
      - "team-a"
      - "team-a/admins"
    userID: "08a8684b-db88-4b73-90a9-3cd1661f5466"
`;

  it("loads Dex's config.dev.yaml unchanged", () => {
    const config = load(DEX_DEV);
    assert.deepEqual(config.storage, { type: 'sqlite3', config: { file: 'var/sqlite/dex.db' } });
    assert.equal(config.telemetry.http, '127.0.0.1:5558');
    assert.equal(config.staticClients[0]?.id, 'example-app');
    assert.deepEqual(config.connectors, [{ type: 'mockCallback', id: 'mock', name: 'Example', config: {} }]);
    assert.deepEqual(config.staticPasswords, [
      {
        email: 'admin@example.com',
        hash: HASH,
        username: 'admin',
        name: 'Admin User',
        emailVerified: true,
        preferredUsername: 'admin',
        groups: ['team-a', 'team-a/admins'],
        userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
      },
    ]);
  });

  it('loads the grpc block of config.dev.yaml', () => {
    assert.deepEqual(load(`${DEX_DEV}grpc:\n  addr: 127.0.0.1:5557\n`).grpc, {
      addr: '127.0.0.1:5557',
      reflection: false,
    });
  });

  it("refuses a grpc block Dex refuses, with Dex's texts", () => {
    assert.deepEqual(problems(`${DEX_DEV}grpc:\n  tlsCert: a.pem\n  tlsClientCA: ''\n  tlsMinVersion: 1.1\n`), [
      'config.yaml:39:1 grpc.addr: no address specified for gRPC',
      'config.yaml:39:1 grpc.tlsKey: must specific both a gRPC TLS cert and key',
      'config.yaml:42:3 grpc.tlsMinVersion: supported TLS versions are: 1.2, 1.3',
    ]);
    assert.deepEqual(problems(`${DEX_DEV}grpc:\n  addr: 127.0.0.1:5557\n  tlsClientCA: ca.pem\n`), [
      'config.yaml:41:3 grpc.tlsClientCA: cannot specify gRPC TLS client CA without a gRPC TLS cert',
    ]);
  });

  it('loads every Dex key idport supports', () => {
    const config = load(
      `issuer: https://idp.example.com/dex
storage:
  type: postgres
  config:
    host: db.example.com
    port: 5432
    database: dex
    user: dex
    password: secret
    connectionTimeout: 5
    maxOpenConns: 10
    maxIdleConns: 0
    connMaxLifetime: 300
    ssl:
      mode: verify-ca
      caFile: /ca.crt
      keyFile: /client.key
      certFile: /client.crt
web:
  http: 0.0.0.0:5556
  https: 0.0.0.0:5554
  tlsCert: /tls.crt
  tlsKey: /tls.key
  tlsMinVersion: 1.2
  tlsMaxVersion: 1.3
  headers:
    Content-Security-Policy: default-src 'self'
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
    X-XSS-Protection: 1; mode=block
    Strict-Transport-Security: max-age=31536000
  allowedOrigins: ['*']
  allowedHeaders: [Authorization]
  clientRemoteIP:
    header: X-Forwarded-For
    trustedProxies: [10.0.0.0/8, "::1/128"]
telemetry:
  http: 0.0.0.0:5558
  enableProfiling: no
expiry:
  deviceRequests: 10m
  signingKeys: 12h
  idTokens: 1h
  authRequests: 1h30m
  refreshTokens:
    disableRotation: false
    reuseInterval: 500ms
    validIfNotUsedFor: 2160h
    absoluteLifetime: "0"
oauth2:
  grantTypes: [authorization_code, refresh_token, client_credentials]
  responseTypes: [code, id_token]
  skipApprovalScreen: true
  alwaysShowLoginScreen: true
  passwordConnector: local
  pkce:
    enforce: true
    codeChallengeMethodsSupported: [S256]
frontend:
  dir: /srv/web
  theme: tectonic
  issuer: Example
  logoURL: https://example.com/logo.png
  extra:
    tos: https://example.com/tos
logger:
  level: DEBUG
  format: json
signer:
  type: local
  config:
    keysRotationPeriod: 3h
    algorithm: EdDSA
sessions:
  cookieName: sid
  absoluteLifetime: 12h
  validIfNotUsedFor: 30m
  rememberMeCheckedByDefault: false
staticClients:
  - idEnv: APP_ID
    secretEnv: APP_SECRET
    redirectURIs: [https://app.example.com/callback, /device/callback, 'com.example.app:/oauth2redirect']
    trustedPeers: [other]
    name: App
    logoURL: https://app.example.com/logo.png
    postLogoutRedirectURIs: [https://app.example.com/]
    backchannelLogoutURI: https://app.example.com/logout
  - id: cli
    public: true
    name: CLI
enablePasswordDB: true
staticPasswords:
  - email: a@example.com
    hash: ${Buffer.from(HASH).toString('base64')}
    username: a
    userID: "1"
`,
      { APP_ID: 'app', APP_SECRET: 'app-secret' },
    );
    assert.deepEqual(config.storage.config, {
      host: 'db.example.com',
      port: 5432,
      database: 'dex',
      user: 'dex',
      password: 'secret',
      connectionTimeout: 5,
      maxOpenConns: 10,
      maxIdleConns: 5,
      connMaxLifetime: 300,
      ssl: { mode: 'verify-ca', caFile: '/ca.crt', keyFile: '/client.key', certFile: '/client.crt' },
    });
    assert.equal(config.web.tlsMinVersion, '1.2'); // a YAML number, read as text like Dex does
    assert.equal(config.web.headers['X-XSS-Protection'], '1; mode=block');
    assert.equal(config.telemetry.enableProfiling, false); // YAML 1.1 "no", as go-yaml reads it
    assert.deepEqual(config.web.clientRemoteIP, {
      header: 'X-Forwarded-For',
      trustedProxies: ['10.0.0.0/8', '::1/128'],
    });
    assert.deepEqual(config.expiry.refreshTokens, {
      disableRotation: false,
      reuseInterval: 500,
      validIfNotUsedFor: 7_776_000_000,
      absoluteLifetime: undefined,
    });
    assert.equal(config.expiry.authRequests, 5_400_000);
    assert.deepEqual(config.oauth2.grantTypes, ['authorization_code', 'refresh_token', 'client_credentials']);
    assert.equal(config.frontend.theme, 'light'); // Dex's retired theme names fall back to light
    assert.equal(config.logger.level, 'debug');
    assert.deepEqual(config.signer, { type: 'local', config: { keysRotationPeriod: 10_800_000, algorithm: 'EdDSA' } });
    assert.equal(config.sessions.validIfNotUsedFor, 1_800_000);
    assert.equal(config.staticClients[0]?.id, 'app');
    assert.equal(config.staticClients[1]?.secret, '');
    assert.equal(config.staticPasswords[0]?.hash, HASH); // Dex's backwards-compatible base64 form, decoded
  });

  it('treats an empty value (`key:`) as unset, as Go does', () => {
    const config = load(`${MINIMAL}staticClients:\nconnectors:\nlogger:\n  level:\n`);
    assert.deepEqual(config.staticClients, []);
    assert.equal(config.logger.level, 'info');
  });
});

describe('config errors', () => {
  it('reports a YAML syntax error with its position', () => {
    assert.deepEqual(problems(`issuer: http://127.0.0.1:5556/dex\nstorage:\n  type: memory\n   config: {}\n`), [
      'config.yaml:3:9 invalid YAML: Nested mappings are not allowed in compact mappings',
      'config.yaml:3:9 invalid YAML: Implicit keys need to be on a single line',
    ]);
  });

  it('reports YAML that has no finite value or is several documents', () => {
    assert.deepEqual(problems(`${MINIMAL}oauth2: &loop\n  pkce: *loop\n`), [
      'config.yaml invalid YAML: an anchor is used inside itself',
    ]);
    assert.deepEqual(problems(`${MINIMAL}---\nissuer: http://127.0.0.1:5557/dex\n`), [
      'config.yaml:6:1 invalid YAML: a config file holds one YAML document; remove the second "---"',
    ]);
  });

  it('refuses unknown keys under --strict, each at its key, as it did before Dex parity', () => {
    // Without `strict` these are warnings (test/config/dex-keys.test.ts); enablePasswordDb is not unknown any more.
    assert.deepEqual(problems(`${MINIMAL}enablePasswordDx: true\n`, {}, true), [
      'config.yaml:6:1 unknown key "enablePasswordDx" (did you mean "enablePasswordDB"?)',
    ]);
    assert.deepEqual(problems(`${MINIMAL}  tlsCertificate: /tls.crt\n`, {}, true), [
      'config.yaml:6:3 web: unknown key "tlsCertificate"',
    ]);
  });

  it('reports a value of the wrong type', () => {
    assert.deepEqual(problems(`${MINIMAL}enablePasswordDB: "yes"\n`), [
      'config.yaml:6:1 enablePasswordDB: expected true or false, got "yes"',
    ]);
  });

  it('reports a bad issuer URL', () => {
    assert.deepEqual(problems(MINIMAL.replace('http://127.0.0.1:5556/dex', '127.0.0.1:5556/dex')), [
      'config.yaml:1:1 issuer: expected an http(s) URL like "https://idp.example.com/dex"',
    ]);
  });

  it('reports a bad duration', () => {
    assert.deepEqual(problems(`${MINIMAL}expiry:\n  idTokens: 10\n  refreshTokens:\n    reuseInterval: 1 day\n`), [
      'config.yaml:7:3 expiry.idTokens: expected a duration like "24h" or "90m", got "10"',
      'config.yaml:9:5 expiry.refreshTokens.reuseInterval: expected a duration like "24h" or "90m", got "1 day"',
    ]);
  });

  it('reports a missing issuer at the document', () => {
    assert.deepEqual(problems(MINIMAL.replace('issuer: http://127.0.0.1:5556/dex\n', '')), [
      'config.yaml:1:1 issuer: required',
    ]);
  });

  it('reports secret and secretEnv both set', () => {
    assert.deepEqual(
      problems(
        `${MINIMAL}staticClients:
  - id: example-app
    secret: ZXhhbXBsZS1hcHAtc2VjcmV0
    secretEnv: EXAMPLE_SECRET
    name: Example App
`,
        { EXAMPLE_SECRET: 'x' },
      ),
      ['config.yaml:9:5 staticClients[0].secretEnv: set either secret or secretEnv, not both'],
    );
  });

  it('reports a secretEnv variable that is not set', () => {
    assert.deepEqual(
      problems(`${MINIMAL}staticClients:
  - id: example-app
    secretEnv: EXAMPLE_SECRET
    name: Example App
`),
      ['config.yaml:8:5 staticClients[0].secretEnv: environment variable EXAMPLE_SECRET is not set'],
    );
  });

  it('reports a duplicate client id at the second client', () => {
    assert.deepEqual(
      problems(`${MINIMAL}staticClients:
  - id: example-app
    secret: a
    name: First
  - id: example-app
    secret: b
    name: Second
`),
      ['config.yaml:10:5 staticClients[1].id: duplicate client id "example-app" (also staticClients[0])'],
    );
  });

  it('reports an unknown storage type, and a Dex one idport does not support yet', () => {
    assert.deepEqual(problems(MINIMAL.replace('type: memory', 'type: sqlite')), [
      'config.yaml:3:3 storage.type: unknown storage type "sqlite" (supported: memory, sqlite3, postgres, kubernetes)',
    ]);
    assert.deepEqual(problems(MINIMAL.replace('type: memory', 'type: etcd')), [
      'config.yaml:3:3 storage.type: "etcd" is not supported by idport yet (supported: memory, sqlite3, postgres, kubernetes)',
    ]);
  });

  it('reports an unknown connector type with the known ones', () => {
    assert.deepEqual(problems(`${MINIMAL}connectors:\n  - type: mockcallback\n    id: mock\n    name: Mock\n`), [
      'config.yaml:7:5 connectors[0].type: unknown connector type "mockcallback" (supported: mockCallback, sample)',
    ]);
    assert.deepEqual(problems(`${MINIMAL}connectors:\n  - type: gitlab\n    id: gitlab\n    name: GitLab\n`), [
      'config.yaml:7:5 connectors[0].type: connector type "gitlab" is not supported by idport yet (supported: mockCallback, sample)',
    ]);
  });

  it('reports a connector config error at its nested path', () => {
    const connectors = `connectors:
  - type: mockCallback
    id: mock
    name: Mock
  - type: sample
    id: sample
    name: Sample
    config:
      host: 389
      tls:
        insecure: sure
        verify: false
`;
    assert.deepEqual(problems(`${MINIMAL}${connectors}`, {}, true), [
      'config.yaml:14:7 connectors[1].config.host: expected a string, got 389',
      'config.yaml:16:9 connectors[1].config.tls.insecure: expected true or false, got "sure"',
      'config.yaml:17:9 connectors[1].config.tls: unknown key "verify"',
    ]);
    const config = load(
      `${MINIMAL}${connectors.replace('host: 389', 'host: ldap.example.com').replace('sure', 'true').replace('        verify: false\n', '')}`,
    );
    // The validated YAML: the registry parses it (defaults and all) when it opens the connector.
    assert.deepEqual(config.connectors[1]?.config, { host: 'ldap.example.com', tls: { insecure: true } });
  });

  it('reports several problems together, in file order', () => {
    assert.deepEqual(
      problems(
        `issuer: https://idp.example.com?x=1
storage:
  type: sqlite3
  config: {}
web:
  https: 0.0.0.0:5554
expiry:
  signingKeys: -1h
logger:
  level: verbose
staticClients:
  - id: app
    redirectURIs: https://app.example.com/callback
    name: App
  - idEnv: APP_ID
    id: app2
    public: true
staticPasswords:
  - email: admin@example.com
    hash: password
    hashFromEnv: ADMIN_HASH
    username: admin
  - email: Admin@Example.com
    hash: "$2a$04$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
    username: admin2
    userID: "2"
connectors:
  - type: sample
    id: local
    name: Local
    config: {host: h}
grpc: {addr: ":5557", tlsKey: k.pem}
colour: blue
`,
        {},
        true,
      ),
      [
        'config.yaml:1:1 issuer: must not have a query or fragment (OpenID Connect Discovery 1.0 §3)',
        'config.yaml:4:3 storage.config.file: required',
        'config.yaml:5:1 web.tlsCert: required when https is set',
        'config.yaml:5:1 web.tlsKey: required when https is set',
        'config.yaml:8:3 expiry.signingKeys: must not be negative, got "-1h"',
        'config.yaml:10:3 logger.level: expected one of "debug", "info", "warn", "error", got "verbose"',
        'config.yaml:12:5 staticClients[0].secret: required unless the client is public (or set secretEnv)',
        'config.yaml:13:5 staticClients[0].redirectURIs: expected a list of URLs',
        'config.yaml:15:5 staticClients[1].name: required',
        'config.yaml:15:5 staticClients[1].idEnv: set either id or idEnv, not both',
        'config.yaml:21:5 staticPasswords[0].hashFromEnv: set either hash or hashFromEnv, not both',
        'config.yaml:23:5 staticPasswords[1].email: duplicate email "Admin@Example.com" (also staticPasswords[0])',
        'config.yaml:24:5 staticPasswords[1].hash: bcrypt cost must be between 10 and 16, got 4',
        'config.yaml:32:1 grpc.tlsCert: must specific both a gRPC TLS cert and key',
        'config.yaml:33:1 unknown key "colour"',
      ],
    );
  });

  it('checks cross-field rules: password DB, connector ids, password connector', () => {
    assert.deepEqual(
      problems(`${MINIMAL}staticPasswords:
  - email: admin@example.com
    hash: "${HASH}"
    username: admin
    userID: "1"
oauth2:
  passwordConnector: ldap
connectors:
  - type: mockCallback
    id: mock
    name: A
  - type: mockCallback
    id: mock
    name: B
`),
      [
        'config.yaml:6:1 staticPasswords: requires enablePasswordDB: true',
        'config.yaml:18:5 connectors[1].id: duplicate connector id "mock" (also connectors[0])',
      ],
    );
    assert.deepEqual(
      problems(`${MINIMAL}enablePasswordDB: true
oauth2:
  passwordConnector: ldap
connectors:
  - type: mockCallback
    id: local
    name: A
`),
      [
        'config.yaml:8:3 oauth2.passwordConnector: no connector with id "ldap" (connectors: local)',
        'config.yaml:11:5 connectors[0].id: "local" is the password database\'s id (enablePasswordDB: true)',
      ],
    );
  });

  it('names the Dex keys idport does not support yet', () => {
    assert.deepEqual(
      problems(`${MINIMAL}logger:
  excludeFields: [email]
signer:
  type: vault
  config: {keysRotationPeriod: 6h}
staticClients:
  - id: app
    public: true
    name: App
    allowedConnectors: [github]
connectors:
  - type: mockCallback
    id: mock
    name: Mock
    grantTypes: [password]
`),
      [
        'config.yaml:7:3 logger.excludeFields: not supported by idport yet',
        'config.yaml:9:3 signer.type: "vault" is not supported by idport yet (supported: local)',
        'config.yaml:15:5 staticClients[0].allowedConnectors: not supported by idport yet',
        'config.yaml:20:5 connectors[0].grantTypes: not supported by idport yet',
      ],
    );
  });

  it('reports an unreadable file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'idport-config-'));
    try {
      const missing = join(dir, 'missing.yaml');
      await assert.rejects(loadConfigFile(missing, { env: {}, connectorSchemas: {} }), {
        name: 'ConfigError',
        issues: [`${missing}: cannot read the config file (no such file)`],
      });
      const file = join(dir, 'config.yaml');
      await writeFile(file, 'issuer: [\n');
      await assert.rejects(loadConfigFile(file, { env: {}, connectorSchemas: {} }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.issues[0] ?? '',
          new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:1 invalid YAML: `),
        );
        assert.match(err.message, /^invalid configuration \(\d+ problems?\):\n {2}/);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { expandEnv, expandEnvInMapping, isEnvExpansionEnabled } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/load.js';

describe('expandEnv (Go os.ExpandEnv)', () => {
  const env = { HOST: 'ldap.example.com', PORT: '636', EMPTY: '' };
  const cases: [string, string][] = [
    ['$HOST', 'ldap.example.com'],
    ['${HOST}:${PORT}', 'ldap.example.com:636'],
    ['ldap://$HOST:$PORT/', 'ldap://ldap.example.com:636/'],
    ['$UNSET', ''],
    ['a${UNSET}b', 'ab'],
    ['$EMPTY', ''],
    ['$HOST.x', 'ldap.example.com.x'],
    ['price $5', 'price '], // $5 is a (never set) special variable
    ['pa$$word', 'paword'], // $$ is the special variable "$": Dex users hit this with LDAP passwords
    ['end$', 'end$'],
    ['$ alone', '$ alone'],
    ['$-x', 'x'],
    ['${}x', 'x'],
    ['${HOST', 'HOST'],
    ['no variables', 'no variables'],
  ];
  for (const [input, output] of cases) {
    it(`expands ${JSON.stringify(input)} to ${JSON.stringify(output)}`, () => {
      assert.equal(expandEnv(input, env), output);
    });
  }
});

describe('expandEnvInMapping (Dex expandEnvInMap)', () => {
  it('expands strings in mappings and directly in lists, but not lists inside lists', () => {
    const input = { a: '$X', n: 1, nested: { b: '${X}' }, list: ['$X', { c: '$X' }, ['$X']], flag: true };
    assert.deepEqual(expandEnvInMapping(input, { X: 'v' }), {
      a: 'v',
      n: 1,
      nested: { b: 'v' },
      list: ['v', { c: 'v' }, ['$X']],
      flag: true,
    });
  });

  it('keeps a "__proto__" key as a plain key', () => {
    const input = JSON.parse('{"__proto__": {"x": "$X"}}') as unknown;
    const output = expandEnvInMapping(input, { X: 'v' });
    assert.equal(Object.getPrototypeOf(output), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(output, '__proto__')?.value, { x: 'v' });
  });
});

describe('DEX_EXPAND_ENV', () => {
  it('is on by default and reads Go booleans', () => {
    assert.equal(isEnvExpansionEnabled({}), true);
    for (const value of ['false', 'FALSE', 'False', 'f', 'F', '0'])
      assert.equal(isEnvExpansionEnabled({ DEX_EXPAND_ENV: value }), false);
    for (const value of ['true', '1', 't', 'bogus', 'no'])
      assert.equal(isEnvExpansionEnabled({ DEX_EXPAND_ENV: value }), true);
  });
});

describe('environment variables in config.yaml', () => {
  const yaml = `issuer: http://127.0.0.1:5556/dex
storage:
  type: postgres
  config:
    host: $PGHOST
    password: \${PGPASSWORD}
    port: $PGPORT
web:
  http: 127.0.0.1:5556
staticClients:
  - id: app
    name: $APP_NAME
    secret: $APP_SECRET
    redirectURIs: [http://127.0.0.1:5555/callback]
connectors:
  - type: sample
    id: $CONNECTOR_ID
    name: Sample
    config:
      host: \${LDAP_HOST}:636
      bindPW: $LDAP_PASSWORD
      servers: [$LDAP_HOST, {name: $LDAP_HOST}]
signer:
  type: local
  config:
    keysRotationPeriod: $ROTATION
    algorithm: $ALG
`;
  const env = {
    PGHOST: 'db.internal',
    PGPASSWORD: 's3cret',
    PGPORT: '5433',
    APP_NAME: 'expanded',
    APP_SECRET: 'expanded',
    CONNECTOR_ID: 'expanded',
    LDAP_HOST: 'ldap.example.com',
    LDAP_PASSWORD: 'p@ss',
    ROTATION: '12h',
    ALG: 'ES256',
  };
  const connectorSchemas = {
    sample: z.strictObject({
      host: z.string(),
      bindPW: z.string(),
      servers: z.array(z.union([z.string(), z.strictObject({ name: z.string() })])),
    }),
  };

  it('expands $VAR in storage.config, connectors[].config and signer.config only', () => {
    const config = loadConfig(yaml, 'config.yaml', { env, connectorSchemas });
    assert.equal(config.storage.type, 'postgres');
    if (config.storage.type !== 'postgres') return;
    assert.equal(config.storage.config.host, 'db.internal');
    assert.equal(config.storage.config.password, 's3cret');
    assert.equal(config.storage.config.port, 5433);
    assert.deepEqual(config.connectors[0]?.config, {
      host: 'ldap.example.com:636',
      bindPW: 'p@ss',
      servers: ['ldap.example.com', { name: 'ldap.example.com' }],
    });
    assert.deepEqual(config.signer, { type: 'local', config: { keysRotationPeriod: 43_200_000, algorithm: 'ES256' } });
    // Dex does not expand anywhere else.
    assert.equal(config.connectors[0]?.id, '$CONNECTOR_ID');
    assert.equal(config.staticClients[0]?.name, '$APP_NAME');
    assert.equal(config.staticClients[0]?.secret, '$APP_SECRET');
  });

  it('leaves $VAR alone everywhere when DEX_EXPAND_ENV=false', () => {
    const withoutExpansion = yaml
      .replace('port: $PGPORT', 'port: 5433')
      .replace('keysRotationPeriod: $ROTATION', 'keysRotationPeriod: 12h')
      .replace('algorithm: $ALG', 'algorithm: ES256');
    const config = loadConfig(withoutExpansion, 'config.yaml', {
      env: { ...env, DEX_EXPAND_ENV: 'false' },
      connectorSchemas,
    });
    if (config.storage.type !== 'postgres') return assert.fail('expected postgres');
    assert.equal(config.storage.config.host, '$PGHOST');
    assert.equal(config.storage.config.password, '${PGPASSWORD}');
    assert.deepEqual(config.connectors[0]?.config, {
      host: '${LDAP_HOST}:636',
      bindPW: '$LDAP_PASSWORD',
      servers: ['$LDAP_HOST', { name: '$LDAP_HOST' }],
    });
  });

  it('resolves idEnv, secretEnv and hashFromEnv in place', () => {
    const hash = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
    const config = loadConfig(
      `issuer: https://idp.example.com
storage: {type: memory}
web: {http: ":5556"}
staticClients:
  - idEnv: CLIENT_ID
    secretEnv: CLIENT_SECRET
    name: From env
enablePasswordDB: true
staticPasswords:
  - email: admin@example.com
    hashFromEnv: ADMIN_HASH
    username: admin
    userID: "1"
`,
      'config.yaml',
      { env: { CLIENT_ID: 'env-app', CLIENT_SECRET: 'env-secret', ADMIN_HASH: hash }, connectorSchemas: {} },
    );
    const [client] = config.staticClients;
    assert.equal(client?.id, 'env-app');
    assert.equal(client?.secret, 'env-secret');
    assert.equal(client !== undefined && 'idEnv' in client, false);
    assert.equal(client !== undefined && 'secretEnv' in client, false);
    const [user] = config.staticPasswords;
    assert.equal(user?.hash, hash);
    assert.equal(user !== undefined && 'hashFromEnv' in user, false);
  });

  it("does not take frontend.dir from DEX_FRONTEND_DIR, which Dex's image sets for every deployment", () => {
    const minimal = 'issuer: https://idp.example.com\nstorage: {type: memory}\nweb: {http: ":5556"}\n';
    assert.equal(
      loadConfig(minimal, 'c.yaml', { env: { DEX_FRONTEND_DIR: '/srv/web' }, connectorSchemas: {} }).frontend.dir,
      undefined,
    );
    assert.equal(
      loadConfig(`${minimal}frontend: {dir: ./web}\n`, 'c.yaml', {
        env: { DEX_FRONTEND_DIR: '/srv/web' },
        connectorSchemas: {},
      }).frontend.dir,
      './web',
    );
  });
});

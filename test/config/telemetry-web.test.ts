/** telemetry, web.clientRemoteIP, web.allowedHeaders and frontend: what loads, what is an error, what is a warning. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, type Config } from '../../src/config/load.js';
import { configWarnings } from '../../src/config/warnings.js';

const MINIMAL = `issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
web:
  http: 127.0.0.1:5556
`;

const load = (yaml: string, env: Record<string, string> = {}): Config =>
  loadConfig(yaml, 'config.yaml', { env, connectorSchemas: {} });

function problems(yaml: string): readonly string[] {
  try {
    load(yaml);
  } catch (err: unknown) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return assert.fail('expected a ConfigError');
}

describe('telemetry', () => {
  it('accepts telemetry.http and enableProfiling: false', () => {
    const config = load(`${MINIMAL}telemetry:\n  http: 127.0.0.1:5558\n  enableProfiling: false\n`);
    assert.deepEqual(config.telemetry, { http: '127.0.0.1:5558', enableProfiling: false });
  });

  it('names enableProfiling: true as not supported yet (Go pprof has no Node equivalent)', () => {
    assert.deepEqual(problems(`${MINIMAL}telemetry:\n  http: 127.0.0.1:5558\n  enableProfiling: true\n`), [
      'config.yaml:8:3 telemetry.enableProfiling: not supported by idport yet',
    ]);
  });

  it('reports a bad telemetry address', () => {
    assert.deepEqual(problems(`${MINIMAL}telemetry:\n  http: localhost\n`), [
      'config.yaml:7:3 telemetry.http: expected an address like "127.0.0.1:5556"',
    ]);
  });
});

describe('web.clientRemoteIP', () => {
  it('reads X-Forwarded-For from the trusted proxies unless another header is named', () => {
    assert.deepEqual(load(`${MINIMAL}  clientRemoteIP:\n    trustedProxies: [10.0.0.0/8]\n`).web.clientRemoteIP, {
      header: 'X-Forwarded-For',
      trustedProxies: ['10.0.0.0/8'],
    });
    assert.deepEqual(
      load(`${MINIMAL}  clientRemoteIP:\n    header: X-Real-IP\n    trustedProxies: ["fd00::/8"]\n`).web.clientRemoteIP,
      {
        header: 'X-Real-IP',
        trustedProxies: ['fd00::/8'],
      },
    );
  });

  it('refuses a header with no trusted proxies, which Dex would believe from any client', () => {
    assert.deepEqual(problems(`${MINIMAL}  clientRemoteIP:\n    header: X-Real-IP\n`), [
      "config.yaml:7:5 web.clientRemoteIP.header: is read only from clientRemoteIP.trustedProxies, which is empty: list your proxies' CIDR ranges (0.0.0.0/0 and ::/0 trust every peer, as Dex does)",
    ]);
  });

  it('reports a header name that is not one, and a bad CIDR range', () => {
    assert.deepEqual(
      problems(`${MINIMAL}  clientRemoteIP:\n    header: "X Real IP"\n    trustedProxies: [10.0.0.0]\n`),
      [
        'config.yaml:7:5 web.clientRemoteIP.header: expected an HTTP header name like "X-Forwarded-For"',
        'config.yaml:8:22 web.clientRemoteIP.trustedProxies[0]: expected a CIDR range like "10.0.0.0/8"',
      ],
    );
  });
});

describe('config warnings', () => {
  it("has none for a config that sets none of the ignored keys, even with DEX_FRONTEND_DIR set by Dex's image", () => {
    assert.deepEqual(configWarnings(load(MINIMAL, { DEX_FRONTEND_DIR: '/srv/dex/web' })), []);
  });

  it('warns that frontend.dir and frontend.extra are ignored, naming the key', () => {
    const config = load(
      `${MINIMAL}frontend:\n  dir: /srv/dex/web\n  extra:\n    tos: https://example.com/tos\n    help: https://example.com/help\n`,
    );
    assert.deepEqual(configWarnings(config), [
      {
        key: 'frontend.dir',
        message:
          'is ignored: idport renders its own pages and themes, so Dex\'s Go templates and static files in "/srv/dex/web" are not used',
      },
      { key: 'frontend.extra', message: 'is ignored: idport\'s pages do not read template values ("tos", "help")' },
    ]);
  });

  it('warns that web.allowedHeaders does nothing without web.allowedOrigins', () => {
    assert.deepEqual(configWarnings(load(`${MINIMAL}  allowedHeaders: [X-Requested-With]\n`)), [
      { key: 'web.allowedHeaders', message: 'has no effect without web.allowedOrigins (CORS is off)' },
    ]);
    assert.deepEqual(
      configWarnings(load(`${MINIMAL}  allowedHeaders: [X-Requested-With]\n  allowedOrigins: ['*']\n`)),
      [],
    );
  });
});

/** `oauth2.responseTypes` with Dex's combined values, from a config file to discovery and /auth. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { CLIENT_ID, configYaml, REDIRECT, start, type Started } from './support.js';

describe("oauth2.responseTypes with Dex's combined values", () => {
  let idport: Started;
  before(async () => {
    idport = await start(
      configYaml(undefined, `oauth2:\n  responseTypes: ["id_token token", code, "code id_token", code]\n`),
    );
  });
  after(() => idport.close());

  it('lists exactly the configured values in discovery, sorted and once each, as Dex does', async () => {
    const body = (await (await fetch(`${idport.origin}/dex/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(body['response_types_supported'], ['code', 'code id_token', 'id_token token']);
  });

  it('serves a configured combination at /auth and refuses one not configured', async () => {
    const auth = (responseType: string) =>
      fetch(
        `${idport.origin}/dex/auth?${new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: REDIRECT, response_type: responseType, scope: 'openid', state: 's', nonce: 'n' }).toString()}`,
        { redirect: 'manual' },
      );
    const hybrid = await auth('code id_token');
    assert.ok(!(hybrid.headers.get('location') ?? '').includes('error='), 'the hybrid flow starts');
    const refused = await auth('code token');
    assert.match(refused.headers.get('location') ?? '', /error=unsupported_response_type/);
  });

  it('refuses a value Dex does not accept', () => {
    const yaml = configYaml(undefined, 'oauth2:\n  responseTypes: ["token code"]\n');
    assert.throws(
      () => loadConfig(yaml, 'config.yaml', { env: {}, connectorSchemas: {} }),
      (err: unknown) =>
        err instanceof ConfigError && /oauth2\.responseTypes\[0\]: expected one of/.test(err.issues[0] ?? ''),
    );
  });
});

describe('Dex parity details', () => {
  let idport: Started;
  before(async () => {
    idport = await start(configYaml());
  });
  after(() => idport.close());

  it('answers GET /token with 400 invalid_request as Dex does, not 404', async () => {
    const response = await fetch(`${idport.origin}/dex/token`);
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await response.json(), { error: 'invalid_request', error_description: 'method not allowed' });
  });

  it('lists locale in claims_supported, as Dex does', async () => {
    const body = (await (await fetch(`${idport.origin}/dex/.well-known/openid-configuration`)).json()) as {
      claims_supported: string[];
    };
    assert.ok(body.claims_supported.includes('locale'));
  });
});

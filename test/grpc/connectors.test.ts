import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { Browser } from '../support/browser.js';
import { apiConfig, callApi, REDIRECT, startApi, subjectOf, tokenRequest, type StartedApi } from './support.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const CONFIG_CONNECTOR = `connectors:
- type: mockCallback
  id: mock
  name: Mock`;
const STATIC_CLIENT = { id: 'static-app', secret: 'static-secret' };

/**
 * A login through `connector_id` (a mockCallback connector logs anyone in); the token response. The code is redeemed
 * at `redeemAt` (another replica) when given.
 */
const loginWith = async (
  origin: string,
  connectorId: string,
  options: { readonly redeemAt?: string; readonly scope?: string } = {},
): Promise<Record<string, unknown>> => {
  const url = `${origin}/dex/auth?${new URLSearchParams({
    client_id: STATIC_CLIENT.id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: options.scope ?? 'openid',
    state: 's',
    connector_id: connectorId,
  }).toString()}`;
  // The issuer names port 5556; the servers listen on free ports, so the connector's redirects are mapped there.
  const browser = new Browser();
  let page = await browser.request(url);
  let location = page.headers.get('location');
  for (let hops = 0; hops < 10 && location !== null && !location.startsWith(REDIRECT); hops++) {
    page = await browser.request(new URL(location.replace('http://127.0.0.1:5556', origin), page.url).href);
    location = page.headers.get('location');
  }
  const code = location?.startsWith(REDIRECT) === true ? new URL(location).searchParams.get('code') : null;
  if (code === null) return { status: page.status };
  return tokenRequest(options.redeemAt ?? origin, STATIC_CLIENT, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
  });
};

describe('gRPC API connector calls', () => {
  let dir: string;
  let first: StartedApi;
  let second: StartedApi;
  let flagOff: StartedApi;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'idport-grpc-conn-'));
    const shared = apiConfig('  addr: 127.0.0.1:0', CONFIG_CONNECTOR).replace(
      'type: memory',
      `type: sqlite3\n  config:\n    file: ${join(dir, 'idport.db')}`,
    );
    // Two replicas on one database, as with PostgreSQL.
    first = await startApi(shared, { DEX_API_CONNECTORS_CRUD: 'true' });
    second = await startApi(shared, { DEX_API_CONNECTORS_CRUD: '1' });
    flagOff = await startApi(apiConfig('  addr: 127.0.0.1:0', CONFIG_CONNECTOR), { DEX_API_CONNECTORS_CRUD: 'yes' });
  });
  after(async () => {
    await Promise.all([first.close(), second.close(), flagOff.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses every connector call without DEX_API_CONNECTORS_CRUD, while the others work', async () => {
    const refused = { code: 'UNKNOWN', details: 'api_connectors_crud feature flag is not enabled' };
    const outcomes = await callApi(flagOff.channel, [
      { method: 'ListConnectors' },
      {
        method: 'CreateConnector',
        request: { connector: { id: 'x', type: 'mockCallback', name: 'X', config: b64('{}') } },
      },
      { method: 'UpdateConnector', request: { id: 'x', new_name: 'Y' } },
      { method: 'DeleteConnector', request: { id: 'x' } },
      { method: 'GetVersion' },
    ]);
    assert.deepEqual(outcomes, [refused, refused, refused, refused, { reply: { server: '0.1.0', api: 3 } }]);
  });

  it("lists the config's connectors and local, read-only, and checks requests as Dex does", async () => {
    const connector = { id: 'mock', type: 'mockCallback', name: 'Again', config: b64('{}') };
    const outcomes = await callApi(first.channel, [
      { method: 'ListConnectors' },
      { method: 'CreateConnector', request: { connector } },
      { method: 'UpdateConnector', request: { id: 'local', new_name: 'x' } },
      { method: 'DeleteConnector', request: { id: 'mock' } },
      { method: 'CreateConnector', request: { connector: { ...connector, id: '' } } },
      { method: 'CreateConnector', request: { connector: { ...connector, id: 'n', type: '' } } },
      { method: 'CreateConnector', request: { connector: { ...connector, id: 'n', name: '' } } },
      { method: 'CreateConnector', request: { connector: { ...connector, id: 'n', config: '' } } },
      { method: 'CreateConnector', request: { connector: { ...connector, id: 'n', config: b64('{nope') } } },
      { method: 'UpdateConnector', request: { id: 'n' } },
      { method: 'UpdateConnector', request: { new_name: 'x' } },
      { method: 'UpdateConnector', request: { id: 'n', new_config: b64('{nope') } },
      { method: 'UpdateConnector', request: { id: 'n', new_name: 'x' } },
      { method: 'DeleteConnector', request: { id: 'n' } },
      { method: 'DeleteConnector', request: {} },
    ]);
    assert.deepEqual(outcomes[0], {
      reply: {
        connectors: [
          { id: 'local', type: 'local', name: 'Email' },
          { id: 'mock', type: 'mockCallback', name: 'Mock', config: b64('{}') },
        ],
      },
    });
    assert.deepEqual(outcomes.slice(1), [
      { code: 'UNKNOWN', details: 'create connector: static connectors: read-only cannot create connector' },
      { code: 'UNKNOWN', details: 'update connector: static connectors: read-only cannot update connector' },
      { code: 'UNKNOWN', details: 'delete connector: static connectors: read-only cannot delete connector' },
      { code: 'UNKNOWN', details: 'no id supplied' },
      { code: 'UNKNOWN', details: 'no type supplied' },
      { code: 'UNKNOWN', details: 'no name supplied' },
      { code: 'UNKNOWN', details: 'no config supplied' },
      { code: 'UNKNOWN', details: 'invalid config supplied' },
      { code: 'UNKNOWN', details: 'nothing to update' },
      { code: 'UNKNOWN', details: 'no email supplied' },
      { code: 'UNKNOWN', details: 'invalid config supplied' },
      { reply: { not_found: true } },
      { reply: { not_found: true } },
      { code: 'UNKNOWN', details: 'no id supplied' },
    ]);
  });

  it('serves logins through a connector created on one replica at once on the other, until it is deleted', async () => {
    assert.equal((await loginWith(second.origin, 'api-mock')).status !== 200, true, 'unknown before it is created');
    const connector = { id: 'api-mock', type: 'mockCallback', name: 'API Mock', config: b64('{}') };
    const created = await callApi(first.channel, [
      { method: 'CreateConnector', request: { connector } },
      { method: 'CreateConnector', request: { connector } },
    ]);
    assert.deepEqual(created, [{ reply: {} }, { reply: { already_exists: true } }]);
    for (const replica of [first, second]) {
      const tokens = await loginWith(replica.origin, 'api-mock');
      assert.equal(tokens.status, 200, JSON.stringify(tokens));
      // Dex's encoding of (mockCallback's user, the connector id).
      assert.equal(subjectOf(tokens.id_token), encodeSubject('0-385-28089-0', 'api-mock'));
    }
    assert.deepEqual(
      await callApi(second.channel, [{ method: 'UpdateConnector', request: { id: 'api-mock', new_name: 'Renamed' } }]),
      [{ reply: {} }],
    );
    const page = await (
      await fetch(
        `${first.origin}/dex/auth?client_id=static-app&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code&scope=openid`,
      )
    ).text();
    assert.match(page, /Renamed/);
    assert.deepEqual(await callApi(second.channel, [{ method: 'DeleteConnector', request: { id: 'api-mock' } }]), [
      { reply: {} },
    ]);
    for (const replica of [first, second]) assert.notEqual((await loginWith(replica.origin, 'api-mock')).status, 200);
    assert.equal((await loginWith(first.origin, 'mock')).status, 200, 'the config connector still works');
  });

  it('redeems and refreshes on a replica that has not seen the stored connector of the login yet', async () => {
    const connector = { id: 'api-refresh', type: 'mockCallback', name: 'API Refresh', config: b64('{}') };
    assert.deepEqual(await callApi(first.channel, [{ method: 'CreateConnector', request: { connector } }]), [
      { reply: {} },
    ]);
    try {
      // The login runs on the first replica; the second answers no request between the creation and the redemption,
      // so only the token endpoint's own read of the stored connector tells it that the connector can refresh.
      const scope = 'openid offline_access';
      const tokens = await loginWith(first.origin, 'api-refresh', { redeemAt: second.origin, scope });
      assert.equal(tokens.status, 200, JSON.stringify(tokens));
      assert.equal(typeof tokens.refresh_token, 'string', 'a refresh token, since mockCallback can refresh');
      const refreshed = await tokenRequest(second.origin, STATIC_CLIENT, {
        grant_type: 'refresh_token',
        refresh_token: String(tokens.refresh_token),
      });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed));
      assert.equal(subjectOf(refreshed.id_token), encodeSubject('0-385-28089-0', 'api-refresh'));
    } finally {
      await callApi(first.channel, [{ method: 'DeleteConnector', request: { id: 'api-refresh' } }]);
    }
  });
});

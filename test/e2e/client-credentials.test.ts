import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { apiConfig, startApi, tokenRequest, type StartedApi } from '../grpc/support.js';

const CLIENTS = `- id: machine
  name: Machine Account
  secret: machine-secret
  redirectURIs: ['http://127.0.0.1:5555/callback']
  clientCredentialsClaims:
    groups: [robots, deployers]
- id: cli
  name: CLI
  public: true
  redirectURIs: ['http://127.0.0.1:5555/callback']
`;
const MACHINE = { id: 'machine', secret: 'machine-secret' };

/** A server whose config lists `grantTypes` (none: Dex's defaults), with the environment given. */
const startWith = async (grantTypes: string | undefined, env: Record<string, string> = {}): Promise<StartedApi> => {
  const oauth2 = grantTypes === undefined ? 'oauth2: {}' : `oauth2:\n  grantTypes: ${grantTypes}`;
  const yaml = apiConfig('  addr: 127.0.0.1:0')
    .replace('oauth2:\n  skipApprovalScreen: true', oauth2)
    .replace('staticClients:\n', `staticClients:\n${CLIENTS}`);
  return startApi(yaml, env);
};

const discoveredGrants = async (idport: StartedApi): Promise<unknown> =>
  ((await (await fetch(`${idport.origin}/dex/.well-known/openid-configuration`)).json()) as Record<string, unknown>)
    .grant_types_supported;

describe('client_credentials grant, as Dex master serves it', () => {
  let idport: StartedApi;
  before(async () => {
    idport = await startWith('[authorization_code, client_credentials]');
  });
  after(async () => idport.close());

  it('advertises exactly the grants served', async () => {
    assert.deepEqual(await discoveredGrants(idport), ['authorization_code', 'client_credentials']);
  });

  it("issues the client's own tokens: sub for (client, no connector), name and groups, no refresh token", async () => {
    const tokens = await tokenRequest(idport.origin, MACHINE, {
      grant_type: 'client_credentials',
      scope: 'openid profile groups',
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens));
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.refresh_token, undefined);
    const keys = createRemoteJWKSet(new URL(`${idport.origin}/dex/keys`));
    const { payload } = await jwtVerify(String(tokens.id_token), keys, {
      issuer: 'http://127.0.0.1:5556/dex',
      audience: 'machine',
    });
    assert.equal(payload.sub, encodeSubject('machine', ''));
    assert.equal(payload.sub, 'CgdtYWNoaW5l');
    assert.equal(payload.name, 'Machine Account');
    assert.equal(payload.preferred_username, 'Machine Account');
    assert.deepEqual(payload.groups, ['robots', 'deployers']);
    const access = await jwtVerify(String(tokens.access_token), keys, { audience: 'machine' });
    assert.equal(access.payload.sub, 'CgdtYWNoaW5l');
    const bare = await tokenRequest(idport.origin, MACHINE, { grant_type: 'client_credentials' });
    assert.equal(bare.status, 200);
    assert.equal(bare.id_token, undefined, 'an ID token only with openid');
  });

  it("refuses public clients, offline_access, federated:id and unknown scopes with Dex's errors", async () => {
    const cases: [Record<string, string>, { id: string; secret: string }, string, string][] = [
      [
        { scope: 'openid' },
        { id: 'cli', secret: '' },
        'unauthorized_client',
        'Public clients cannot use client_credentials grant.',
      ],
      [
        { scope: 'openid offline_access' },
        MACHINE,
        'invalid_scope',
        'client_credentials grant does not support offline_access scope.',
      ],
      [
        { scope: 'federated:id' },
        MACHINE,
        'invalid_scope',
        'client_credentials grant does not support federated:id scope.',
      ],
      [
        { scope: 'openid foo bar' },
        MACHINE,
        'invalid_scope', // RFC 6749 §5.2 keeps `"` out of error_description, so Go's quotes arrive as single quotes.
        "Unrecognized scope(s) ['foo' 'bar']",
      ],
      [
        { scope: 'audience:server:client_id:cli' },
        MACHINE,
        'invalid_scope',
        "Client can't request scope(s) ['audience:server:client_id:cli']",
      ],
    ];
    for (const [form, client, error, description] of cases) {
      const response: Record<string, unknown> =
        client.secret === ''
          ? await publicRequest(idport, client.id, form)
          : await tokenRequest(idport.origin, client, { grant_type: 'client_credentials', ...form });
      assert.deepEqual(
        { status: response.status, error: response.error, error_description: response.error_description },
        { status: 400, error, error_description: description },
      );
    }
    const wrongSecret = await tokenRequest(
      idport.origin,
      { id: 'machine', secret: 'wrong' },
      { grant_type: 'client_credentials' },
    );
    assert.equal(wrongSecret.status, 401);
  });
});

const publicRequest = async (idport: StartedApi, clientId: string, form: Record<string, string>) => {
  const response = await fetch(`${idport.origin}/dex/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, ...form }).toString(),
  });
  return { status: response.status, ...((await response.json()) as Record<string, unknown>) };
};

describe('client_credentials with Dex default grant types', () => {
  it('is off and not advertised without DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT', async () => {
    const idport = await startWith(undefined);
    try {
      assert.equal(((await discoveredGrants(idport)) as string[]).includes('client_credentials'), false);
      const refused = await tokenRequest(idport.origin, MACHINE, { grant_type: 'client_credentials' });
      assert.equal(refused.status, 400);
      assert.equal(refused.error, 'unsupported_grant_type');
    } finally {
      await idport.close();
    }
  });

  it('is on and advertised with DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT=true and no list', async () => {
    const idport = await startWith(undefined, { DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT: 'true' });
    const listed = await startWith('[authorization_code]', { DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT: 'true' });
    try {
      assert.ok(((await discoveredGrants(idport)) as string[]).includes('client_credentials'));
      const tokens = await tokenRequest(idport.origin, MACHINE, { grant_type: 'client_credentials' });
      assert.equal(tokens.status, 200);
      // An explicit list wins over the flag, as in Dex.
      assert.deepEqual(await discoveredGrants(listed), ['authorization_code']);
    } finally {
      await Promise.all([idport.close(), listed.close()]);
    }
  });
});

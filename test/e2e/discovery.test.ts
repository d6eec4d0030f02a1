/** Discovery (OpenID Connect Discovery 1.0 §3) lists exactly what is enabled; /keys; the issuer under a path and at the root. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { Browser, loginThroughPages } from '../support/browser.js';
import { confidentialClient, startIdport, type TestIdport } from '../support/idport.js';
import { assertErrorRedirect, authorizeError, codeRequest, REDIRECT } from './helpers.js';

const getJson = async (url: string): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> => {
  const response = await fetch(url);
  const body: unknown = await response.json();
  assert.ok(typeof body === 'object' && body !== null);
  return { status: response.status, headers: response.headers, body: { ...body } };
};

describe('discovery', () => {
  let full: TestIdport;
  let codeOnly: TestIdport;
  before(async () => {
    full = await startIdport({ clients: [confidentialClient('web', [REDIRECT])], signingAlgorithm: 'RS256' });
    codeOnly = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      settings: { responseTypes: ['code'], codeChallengeMethods: ['S256'] },
    });
  });
  after(async () => {
    await full.close();
    await codeOnly.close();
  });

  it('publishes every enabled response type, the implicit grant they imply, and no request objects', async () => {
    const { status, headers, body } = await getJson(`${full.issuer}/.well-known/openid-configuration`);
    assert.equal(status, 200);
    assert.match(headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(headers.get('cache-control'), null); // Dex sends none; the ETag lets caches revalidate
    const at = (path: string): string => `${full.issuer}${path}`;
    assert.deepEqual(body, {
      issuer: full.issuer,
      authorization_endpoint: at('/auth'),
      token_endpoint: at('/token'),
      jwks_uri: at('/keys'),
      userinfo_endpoint: at('/userinfo'),
      introspection_endpoint: at('/token/introspect'),
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint: at('/token/revoke'),
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      device_authorization_endpoint: at('/device/code'),
      end_session_endpoint: at('/logout'),
      response_types_supported: [
        'code',
        'id_token',
        'id_token token',
        'code id_token',
        'code token',
        'code id_token token',
      ],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      grant_types_supported: [
        'authorization_code',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code',
        'implicit',
      ],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256', 'plain'],
      scopes_supported: ['openid', 'email', 'profile', 'groups', 'offline_access', 'federated:id'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      claims_supported: [
        'iss',
        'sub',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'nonce',
        'azp',
        'at_hash',
        'c_hash',
        'email',
        'email_verified',
        'locale',
        'name',
        'preferred_username',
        'groups',
        'federated_claims',
        'sid',
      ],
      claims_parameter_supported: false,
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
      authorization_response_iss_parameter_supported: true,
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    });
  });

  it('lists only code, no implicit grant and only S256 when that is all that is enabled, and refuses the rest', async () => {
    const { body } = await getJson(`${codeOnly.issuer}/.well-known/openid-configuration`);
    assert.deepEqual(body.response_types_supported, ['code']);
    assert.deepEqual(body.grant_types_supported, [
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
    ]);
    assert.deepEqual(body.code_challenge_methods_supported, ['S256']);
    const location = await authorizeError(
      codeOnly,
      codeRequest('web', { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }),
    );
    assertErrorRedirect(location, {
      error: 'invalid_request',
      description: "unsupported code_challenge_method 'plain'",
      state: 'the-state',
      issuer: codeOnly.issuer,
    });
  });

  it("serves the JWKS with public keys only, distinct kids, and Dex's cache lifetime", async () => {
    const { status, headers, body } = await getJson(`${full.issuer}/keys`);
    assert.equal(status, 200);
    assert.equal(headers.get('cache-control'), 'max-age=600, must-revalidate');
    const keys = body.keys;
    assert.ok(Array.isArray(keys) && keys.length >= 1);
    const kids = new Set<unknown>();
    for (const key of keys) {
      assert.ok(typeof key === 'object' && key !== null);
      const jwk: Record<string, unknown> = { ...key };
      assert.equal(typeof jwk.kid, 'string');
      kids.add(jwk.kid);
      assert.equal(jwk.use, 'sig');
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
        assert.equal(jwk[secret], undefined, `no private member ${secret}`);
    }
    assert.equal(kids.size, keys.length);
  });

  it('answers unknown paths under the issuer with a JSON 404 that says where discovery is', async () => {
    const response = await fetch(`${full.issuer}/nope`);
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), {
      error: 'not_found',
      error_description: `nothing is served at this path; OpenID Connect discovery is at ${full.issuer}/.well-known/openid-configuration`,
    });
  });
});

describe('an issuer at the root of its host', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({ clients: [confidentialClient('web', [REDIRECT])], basePath: '' });
  });
  after(async () => idport.close());

  it('serves discovery and every endpoint at the root, and completes a code flow with openid-client', async () => {
    assert.equal(new URL(idport.issuer).pathname, '/');
    const config = await oidc.discovery(new URL(idport.issuer), 'web', 'web-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, idport.issuer);
    assert.equal(metadata.authorization_endpoint, `${idport.issuer}/auth`);

    const browser = new Browser();
    const state = oidc.randomState();
    const location = await loginThroughPages(
      browser,
      oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', state }),
      REDIRECT,
    );
    const tokens = await oidc.authorizationCodeGrant(config, new URL(location), { expectedState: state });
    const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
      issuer: idport.issuer,
      audience: 'web',
    });
    assert.equal(typeof payload.sub, 'string');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, payload.sub ?? '');
    assert.equal(info.sub, payload.sub);
  });

  it('scopes the browser cookie to the whole host', async () => {
    const response = await fetch(`${idport.issuer}/auth?${new URLSearchParams(codeRequest('web')).toString()}`, {
      redirect: 'manual',
    });
    assert.match(response.headers.getSetCookie().join('\n'), /idport_browser=[^;]+;.*Path=\/(;|$)/);
  });
});

describe('an issuer under a path', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({ clients: [confidentialClient('web', [REDIRECT])], basePath: '/dex' });
  });
  after(async () => idport.close());

  it('scopes the browser cookie to the issuer path and serves nothing of its own outside it', async () => {
    const response = await fetch(`${idport.issuer}/auth?${new URLSearchParams(codeRequest('web')).toString()}`, {
      redirect: 'manual',
    });
    assert.match(response.headers.getSetCookie().join('\n'), /idport_browser=[^;]+;.*Path=\/dex(;|$)/);
    assert.match(response.headers.getSetCookie().join('\n'), /HttpOnly/);
    assert.match(response.headers.getSetCookie().join('\n'), /SameSite=Lax/);
    assert.equal((await fetch(`${idport.origin}/.well-known/openid-configuration`)).status, 404);
    assert.equal((await fetch(`${idport.origin}/auth`)).status, 404);
  });
});

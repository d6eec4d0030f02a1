/**
 * The resource owner password credentials grant (RFC 6749 §4.3) as Dex serves it: on only with oauth2.passwordConnector
 * and `password` in oauth2.grantTypes; invalid_grant for wrong credentials (§5.2); the password page's per-IP limit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { ConnectorError, type CallbackConnector, type PasswordConnector } from '../../connectors/connector.js';
import {
  confidentialClient,
  DEMO_PASSWORD,
  demoUser,
  publicClient,
  startIdport,
  type TestIdport,
} from '../support/idport.js';
import { DEFAULT_BRUTE_FORCE } from '../support/settings.js';
import {
  assertJsonError,
  assertTokenResponse,
  callUserinfo,
  credentialsOf,
  postToken,
  REDIRECT,
  refreshWith,
  str,
  type JsonResponse,
} from './helpers.js';

/** A small per-IP failure budget for the test that spends it. */
const FAILURES_PER_IP = 6;

const PASSWORD_GRANT_SETTINGS = {
  grantTypes: ['authorization_code', 'refresh_token', 'password'],
  passwordConnector: 'local',
};

/** Dex's `sub` (ARCHITECTURE.md decision 2), computed independently: protobuf {1: user, 2: connector}, base64url. */
const dexSubject = (userId: string, connectorId: string): string =>
  Buffer.concat([
    Buffer.from([0x0a, userId.length]),
    Buffer.from(userId),
    Buffer.from([0x12, connectorId.length]),
    Buffer.from(connectorId),
  ]).toString('base64url');

/** A password grant request as the confidential client `web` (Basic), with the demo user's credentials unless overridden. */
const passwordGrant = async (
  idport: TestIdport,
  extra: Record<string, string> = {},
  clientId = 'web',
): Promise<JsonResponse> =>
  postToken(
    idport,
    { grant_type: 'password', username: demoUser.email, password: DEMO_PASSWORD, scope: 'openid', ...extra },
    credentialsOf(clientId),
  );

const advertisesPasswordGrant = async (idport: TestIdport): Promise<boolean> => {
  const response = await fetch(`${idport.issuer}/.well-known/openid-configuration`);
  const body = (await response.json()) as Record<string, unknown>;
  assert.ok(Array.isArray(body.grant_types_supported));
  return body.grant_types_supported.includes('password');
};

describe('password grant', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      clients: [confidentialClient('web', [REDIRECT]), publicClient('cli', [REDIRECT])],
      settings: PASSWORD_GRANT_SETTINGS,
    });
  });
  after(async () => idport.close());

  it('issues an ID token that verifies against /keys, an access token for /userinfo and a refresh token that refreshes', async () => {
    const startedAt = Math.floor(Date.now() / 1000);
    const response = await passwordGrant(idport, {
      scope: 'openid email groups offline_access',
      nonce: 'n-0S6_WzA2Mj',
    });
    assertTokenResponse(response);
    assert.equal(response.body.scope, 'openid email groups offline_access');
    const { payload } = await jwtVerify(
      str(response.body, 'id_token'),
      createRemoteJWKSet(new URL(`${idport.issuer}/keys`)),
      {
        issuer: idport.issuer,
        audience: 'web',
        typ: 'JWT',
      },
    );
    assert.equal(payload.sub, dexSubject(demoUser.userId, 'local'));
    assert.equal(payload.email, demoUser.email);
    assert.deepEqual(payload.groups, demoUser.groups);
    assert.equal(payload.nonce, 'n-0S6_WzA2Mj');
    assert.ok(
      typeof payload.auth_time === 'number' && payload.auth_time >= startedAt - 1,
      'auth_time is the moment of the grant',
    );

    const info = await callUserinfo(idport, str(response.body, 'access_token'));
    assert.equal(info.status, 200);
    assert.deepEqual(info.body, {
      sub: payload.sub,
      email: demoUser.email,
      email_verified: true,
      groups: demoUser.groups,
    });

    const refreshed = await refreshWith(idport, 'web', str(response.body, 'refresh_token'));
    assertTokenResponse(refreshed);
    assert.equal(decodeJwt(str(refreshed.body, 'id_token')).sub, payload.sub);
    assert.notEqual(str(refreshed.body, 'refresh_token'), str(response.body, 'refresh_token'));
  });

  it('issues no refresh token without offline_access, and accepts client_secret_post', async () => {
    const response = await postToken(idport, {
      grant_type: 'password',
      username: demoUser.email,
      password: DEMO_PASSWORD,
      scope: 'openid',
      client_id: 'web',
      client_secret: 'web-secret',
    });
    assertTokenResponse(response);
    assert.equal(response.body.refresh_token, undefined);
    assert.equal(decodeJwt(str(response.body, 'id_token')).aud, 'web');
  });

  it('refuses a wrong password and an unknown user with the same invalid_grant', async () => {
    assertJsonError(
      await passwordGrant(idport, { password: 'wrong' }),
      400,
      'invalid_grant',
      'invalid username or password',
    );
    assertJsonError(
      await passwordGrant(idport, { username: 'nobody@example.com' }),
      400,
      'invalid_grant',
      'invalid username or password',
    );
  });

  it('refuses a client with a wrong secret or no authentication with invalid_client', async () => {
    const form = { grant_type: 'password', username: demoUser.email, password: DEMO_PASSWORD, scope: 'openid' };
    const wrong = await postToken(idport, form, { id: 'web', secret: 'wrong' });
    assertJsonError(wrong, 401, 'invalid_client', 'invalid client credentials');
    assert.equal(wrong.headers.get('www-authenticate'), 'Basic realm="idport"');
    assertJsonError(await postToken(idport, form), 401, 'invalid_client', 'client authentication required');
  });

  it('refuses a public client, which cannot authenticate, with unauthorized_client', async () => {
    const response = await postToken(idport, {
      grant_type: 'password',
      username: demoUser.email,
      password: DEMO_PASSWORD,
      scope: 'openid',
      client_id: 'cli',
    });
    assertJsonError(response, 400, 'unauthorized_client', 'public clients may not use the password grant');
  });

  it('refuses scopes Dex does not know with invalid_request, as Dex does for this grant', async () => {
    assertJsonError(
      await passwordGrant(idport, { scope: 'openid email custom' }),
      400,
      'invalid_request',
      "Unrecognized scope(s) ['custom']",
    );
    const known = await passwordGrant(idport, { scope: 'openid email profile groups federated:id' });
    assert.equal(known.status, 200);
  });

  it('requires the openid scope, a username and a password', async () => {
    assertJsonError(
      await passwordGrant(idport, { scope: 'email' }),
      400,
      'invalid_request',
      'the openid scope is required',
    );
    assertJsonError(await passwordGrant(idport, { username: '' }), 400, 'invalid_request', 'username is required');
    const withoutPassword = { grant_type: 'password', username: demoUser.email, scope: 'openid' };
    assertJsonError(
      await postToken(idport, withoutPassword, credentialsOf('web')),
      400,
      'invalid_request',
      'password is required',
    );
  });

  it('lists password in grant_types_supported', async () => {
    assert.equal(await advertisesPasswordGrant(idport), true);
  });
});

describe('password grant when it is not enabled', () => {
  let withoutConnector: TestIdport;
  let withoutGrantType: TestIdport;
  before(async () => {
    withoutConnector = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      settings: { grantTypes: PASSWORD_GRANT_SETTINGS.grantTypes },
    });
    withoutGrantType = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      settings: { passwordConnector: 'local' },
    });
  });
  after(async () => {
    await withoutConnector.close();
    await withoutGrantType.close();
  });

  it('refuses the grant with unsupported_grant_type and does not advertise it without oauth2.passwordConnector', async () => {
    assertJsonError(
      await passwordGrant(withoutConnector),
      400,
      'unsupported_grant_type',
      "grant_type 'password' is not supported",
    );
    assert.equal(await advertisesPasswordGrant(withoutConnector), false);
  });

  it('refuses the grant with unsupported_grant_type and does not advertise it when grantTypes leaves password out', async () => {
    assertJsonError(
      await passwordGrant(withoutGrantType),
      400,
      'unsupported_grant_type',
      "grant_type 'password' is not supported",
    );
    assert.equal(await advertisesPasswordGrant(withoutGrantType), false);
  });
});

describe('password grant through a connector that is not a password connector or is down', () => {
  const down: PasswordConnector = {
    kind: 'password',
    prompt: () => 'Username',
    login: async () => {
      throw new ConnectorError('ldap: connect ECONNREFUSED', 'The login service is unavailable.', { temporary: true });
    },
  };
  const callback: CallbackConnector = {
    kind: 'callback',
    loginUrl: async () => ({ url: 'https://upstream.example/' }),
    handleCallback: async () => ({ userId: 'u', username: 'u', emailVerified: false, groups: [] }),
  };
  let notPassword: TestIdport;
  let unavailable: TestIdport;
  before(async () => {
    const clients = [confidentialClient('web', [REDIRECT])];
    notPassword = await startIdport({
      clients,
      settings: { ...PASSWORD_GRANT_SETTINGS, passwordConnector: 'github' },
      connectors: [{ id: 'github', type: 'mockCallback', name: 'GitHub', connector: callback }],
    });
    unavailable = await startIdport({
      clients,
      settings: { ...PASSWORD_GRANT_SETTINGS, passwordConnector: 'ldap' },
      connectors: [{ id: 'ldap', type: 'ldap', name: 'LDAP', connector: down }],
    });
  });
  after(async () => {
    await notPassword.close();
    await unavailable.close();
  });

  it('refuses the grant with unsupported_grant_type when oauth2.passwordConnector names a connector that takes no password', async () => {
    assertJsonError(
      await passwordGrant(notPassword),
      400,
      'unsupported_grant_type',
      "grant_type 'password' is not supported",
    );
  });

  it('answers temporarily_unavailable, not invalid_grant, when the connector backend is down', async () => {
    assertJsonError(
      await passwordGrant(unavailable),
      503,
      'temporarily_unavailable',
      'the login service is unavailable; try again later',
    );
  });
});

describe('password grant rate limit', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      settings: {
        ...PASSWORD_GRANT_SETTINGS,
        bruteForce: { ...DEFAULT_BRUTE_FORCE, maxFailures: 0, maxFailuresPerIP: FAILURES_PER_IP },
      },
    });
  });
  after(async () => idport.close());

  it('limits password-grant requests per client IP as the password page does, without counting other grants', async () => {
    for (let i = 0; i < FAILURES_PER_IP + 5; i++) {
      const other = await refreshWith(idport, 'web', `not-a-handle-${i}.secret`);
      assertJsonError(other, 400, 'invalid_grant', 'invalid refresh token');
    }
    for (let i = 0; i < FAILURES_PER_IP; i++) {
      const attempt = await passwordGrant(idport, { password: `wrong-${i}` });
      assertJsonError(attempt, 400, 'invalid_grant', 'invalid username or password');
    }
    const limited = await passwordGrant(idport);
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    assert.equal(limited.body.error, 'temporarily_unavailable');
    assert.match(
      String(limited.body.error_description),
      /^Too many failed attempts\. Try again in \d+ (seconds|minutes)\.$/,
    );
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal(limited.headers.get('cache-control'), 'no-store');
    assert.equal(
      limited.body.access_token,
      undefined,
      'no tokens for a rate-limited attempt, even with the right password',
    );

    assertJsonError(
      await refreshWith(idport, 'web', 'not-a-handle.secret'),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
  });
});

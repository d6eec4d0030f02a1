/**
 * The refresh_token grant (RFC 6749 §6, ARCHITECTURE.md decision 4): rotation, the reuse interval, family revocation,
 * idle and absolute lifetimes on an injected clock, scope narrowing, and the connector re-checking the user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { ConnectorError, type PasswordConnector } from '../../connectors/connector.js';
import { ManualClock } from '../../src/deps.js';
import { confidentialClient, demoUser, startIdport, type TestIdport } from '../support/idport.js';
import {
  assertJsonError,
  assertTokenResponse,
  authorize,
  callUserinfo,
  codeRequest,
  redeemCode,
  REDIRECT,
  refreshWith,
  str,
  type JsonResponse,
} from './helpers.js';

const HOUR = 3600_000;

/** Logs in with offline_access and redeems the code: the first token response of a new family. */
const login = async (
  idport: TestIdport,
  clientId = 'web',
  scope = 'openid email groups offline_access',
  connectorId?: string,
): Promise<JsonResponse> => {
  const params = await authorize(
    idport,
    codeRequest(clientId, { scope, ...(connectorId === undefined ? {} : { connector_id: connectorId }) }),
  );
  const tokens = await redeemCode(idport, clientId, params.get('code') ?? '');
  assertTokenResponse(tokens);
  return tokens;
};

const refreshToken = (response: JsonResponse): string => str(response.body, 'refresh_token');

describe('refresh token rotation', () => {
  let idport: TestIdport;
  let clock: ManualClock;
  before(async () => {
    clock = new ManualClock(new Date());
    idport = await startIdport({
      clients: [confidentialClient('web', [REDIRECT]), confidentialClient('other', [REDIRECT])],
      clock,
      settings: { refresh: { disableRotation: false, reuseIntervalMs: 3_000 } },
    });
  });
  after(async () => idport.close());

  it('rotates the refresh token on every use and keeps sub, aud and auth_time (OIDC Core §12.2)', async () => {
    const first = await login(idport);
    clock.advance(60_000);
    const second = await refreshWith(idport, 'web', refreshToken(first));
    assertTokenResponse(second);
    assert.notEqual(refreshToken(second), refreshToken(first));
    assert.notEqual(str(second.body, 'access_token'), str(first.body, 'access_token'));
    const before = decodeJwt(str(first.body, 'id_token'));
    const after = decodeJwt(str(second.body, 'id_token'));
    for (const claim of ['iss', 'sub', 'aud', 'azp', 'auth_time'] as const)
      assert.deepEqual(after[claim], before[claim], claim);
    assert.ok((after.iat ?? 0) > (before.iat ?? 0));
    assert.equal(second.body.scope, 'openid email groups offline_access');
    assertTokenResponse(await refreshWith(idport, 'web', refreshToken(second)));
  });

  it('answers a retry of the just-rotated token within the reuse interval with the same new token', async () => {
    const first = await login(idport);
    const second = await refreshWith(idport, 'web', refreshToken(first));
    clock.advance(2_000);
    const retry = await refreshWith(idport, 'web', refreshToken(first));
    assertTokenResponse(retry);
    assert.equal(refreshToken(retry), refreshToken(second));
    assertTokenResponse(await refreshWith(idport, 'web', refreshToken(retry)));
  });

  it('answers parallel refreshes with the same token (kubectl) with one new token for all of them', async () => {
    const first = await login(idport);
    const results = await Promise.all([1, 2, 3, 4].map(async () => refreshWith(idport, 'web', refreshToken(first))));
    for (const result of results) assertTokenResponse(result);
    assert.equal(new Set(results.map(refreshToken)).size, 1);
    assertTokenResponse(await refreshWith(idport, 'web', refreshToken(results[0] ?? first)));
  });

  it('revokes the family when a rotated token is reused after the interval: the newest token and its access tokens fail too', async () => {
    const first = await login(idport);
    const second = await refreshWith(idport, 'web', refreshToken(first));
    clock.advance(4_000);
    assertJsonError(
      await refreshWith(idport, 'web', refreshToken(first)),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
    assertJsonError(
      await refreshWith(idport, 'web', refreshToken(second)),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
    const info = await callUserinfo(idport, str(second.body, 'access_token'));
    assert.deepEqual(info.body, { error: 'invalid_token', error_description: 'the access token was revoked' });
  });

  it('revokes the family when a token two rotations old is presented (OAuth 2.0 Security BCP §4.14.2)', async () => {
    const first = await login(idport);
    const second = await refreshWith(idport, 'web', refreshToken(first));
    const third = await refreshWith(idport, 'web', refreshToken(second));
    assertTokenResponse(third);
    assertJsonError(
      await refreshWith(idport, 'web', refreshToken(first)),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
    assertJsonError(
      await refreshWith(idport, 'web', refreshToken(third)),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
  });

  it('keeps one login’s family apart from another login of the same user', async () => {
    const laptop = await login(idport);
    const phone = await login(idport);
    const rotated = await refreshWith(idport, 'web', refreshToken(laptop));
    clock.advance(4_000);
    await refreshWith(idport, 'web', refreshToken(laptop)); // reuse: revokes the laptop's family only
    assertJsonError(
      await refreshWith(idport, 'web', refreshToken(rotated)),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
    assertTokenResponse(await refreshWith(idport, 'web', refreshToken(phone)));
  });

  it('refuses a wider scope than the original grant with invalid_scope', async () => {
    const first = await login(idport, 'web', 'openid email offline_access');
    const response = await refreshWith(idport, 'web', refreshToken(first), { scope: 'openid email groups' });
    assertJsonError(response, 400, 'invalid_scope', "scope 'groups' was not granted originally");
    assertTokenResponse(await refreshWith(idport, 'web', refreshToken(first)));
  });

  it('narrows the scope on request, dropping the claims of the left-out scopes, and keeps the family scope', async () => {
    const first = await login(idport, 'web', 'openid email groups offline_access');
    assert.equal(decodeJwt(str(first.body, 'id_token')).email, demoUser.email);
    const narrowed = await refreshWith(idport, 'web', refreshToken(first), { scope: 'openid groups' });
    assertTokenResponse(narrowed);
    assert.equal(narrowed.body.scope, 'openid groups');
    const idToken = decodeJwt(str(narrowed.body, 'id_token'));
    assert.equal(idToken.email, undefined);
    assert.deepEqual(idToken.groups, demoUser.groups);
    const info = await callUserinfo(idport, str(narrowed.body, 'access_token'));
    assert.equal(info.body.email, undefined);
    assert.equal(decodeJwt(str(narrowed.body, 'access_token')).scope, 'openid groups');

    // RFC 6749 §6: the new refresh token keeps the original scope.
    const full = await refreshWith(idport, 'web', refreshToken(narrowed));
    assert.equal(full.body.scope, 'openid email groups offline_access');
  });

  it("refuses another client's refresh token with invalid_grant, leaving it usable by its own client", async () => {
    const first = await login(idport);
    assertJsonError(
      await refreshWith(idport, 'other', refreshToken(first)),
      400,
      'invalid_grant',
      'invalid refresh token',
    );
    assertTokenResponse(await refreshWith(idport, 'web', refreshToken(first)));
  });

  it('refuses a missing refresh token with invalid_request and a malformed one with invalid_grant', async () => {
    const missing = await refreshWith(idport, 'web', '');
    assertJsonError(missing, 400, 'invalid_request', 'refresh_token is required');
    assertJsonError(await refreshWith(idport, 'web', 'no-dot-here'), 400, 'invalid_grant', 'invalid refresh token');
    assertJsonError(await refreshWith(idport, 'web', 'unknown.family'), 400, 'invalid_grant', 'invalid refresh token');
  });

  it('re-reads the user on refresh: changed groups show up, a deleted user ends the family', async () => {
    const first = await login(idport);
    await idport.storage.passwords.update(demoUser.email, (old) => ({ ...old, groups: ['auditors'] }));
    try {
      const refreshed = await refreshWith(idport, 'web', refreshToken(first));
      assert.deepEqual(decodeJwt(str(refreshed.body, 'id_token')).groups, ['auditors']);
      await idport.storage.passwords.delete(demoUser.email);
      const refused = await refreshWith(idport, 'web', refreshToken(refreshed));
      assertJsonError(refused, 400, 'invalid_grant', 'the user could not be re-authenticated');
    } finally {
      if ((await idport.storage.passwords.get(demoUser.email)) === undefined)
        await idport.storage.passwords.create(demoUser);
      else await idport.storage.passwords.update(demoUser.email, () => demoUser);
    }
  });
});

describe('refresh token policies', () => {
  let fixed: TestIdport;
  let expiring: TestIdport;
  let clock: ManualClock;
  before(async () => {
    clock = new ManualClock(new Date());
    fixed = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      settings: { refresh: { disableRotation: true, reuseIntervalMs: 3_000 } },
    });
    expiring = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      clock,
      settings: {
        refresh: {
          disableRotation: false,
          reuseIntervalMs: 3_000,
          validIfNotUsedForMs: HOUR,
          absoluteLifetimeMs: 3 * HOUR,
        },
      },
    });
  });
  after(async () => {
    await fixed.close();
    await expiring.close();
  });

  it('hands back the same refresh token every time with disableRotation', async () => {
    const first = await login(fixed);
    const second = await refreshWith(fixed, 'web', refreshToken(first));
    const third = await refreshWith(fixed, 'web', refreshToken(first));
    assertTokenResponse(third);
    assert.equal(refreshToken(second), refreshToken(first));
    assert.equal(refreshToken(third), refreshToken(first));
  });

  it('ends a family unused for longer than validIfNotUsedFor', async () => {
    const first = await login(expiring);
    clock.advance(HOUR - 60_000);
    const kept = await refreshWith(expiring, 'web', refreshToken(first)); // use resets the idle timer
    assertTokenResponse(kept);
    clock.advance(HOUR - 60_000);
    const stillKept = await refreshWith(expiring, 'web', refreshToken(kept));
    assertTokenResponse(stillKept);
    clock.advance(HOUR + 1_000);
    assertJsonError(
      await refreshWith(expiring, 'web', refreshToken(stillKept)),
      400,
      'invalid_grant',
      'refresh token expired',
    );
  });

  it('ends a family at absoluteLifetime even when it is used regularly', async () => {
    let current = await login(expiring);
    for (let i = 0; i < 5; i++) {
      clock.advance(HOUR / 2);
      current = await refreshWith(expiring, 'web', refreshToken(current));
      assertTokenResponse(current);
    }
    clock.advance(HOUR / 2 + 1_000); // 3 h and a second after the login
    assertJsonError(
      await refreshWith(expiring, 'web', refreshToken(current)),
      400,
      'invalid_grant',
      'refresh token expired',
    );
  });
});

describe('refresh and connector capabilities', () => {
  let idport: TestIdport;
  const user = { userId: 'u-1', username: 'jane', email: 'jane@example.com', emailVerified: true, groups: [] };
  const noRefresh: PasswordConnector = { kind: 'password', prompt: () => 'Email', login: async () => user };
  let refusing = false;
  const picky: PasswordConnector & { refresh: () => Promise<typeof user> } = {
    kind: 'password',
    prompt: () => 'Email',
    login: async () => user,
    refresh: async () => {
      if (refusing) throw new ConnectorError('account locked', 'Your account is locked.');
      return user;
    },
  };
  before(async () => {
    idport = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      withLocal: false,
      connectors: [
        { id: 'static', type: 'test', name: 'No refresh', connector: noRefresh },
        { id: 'picky', type: 'test', name: 'Picky', connector: picky },
      ],
    });
  });
  after(async () => idport.close());

  it('issues no refresh token for a connector that cannot refresh (ARCHITECTURE.md decision 8)', async () => {
    const tokens = await login(idport, 'web', 'openid offline_access', 'static');
    assert.equal(tokens.body.refresh_token, undefined);
  });

  it('refuses a refresh the connector refuses with invalid_grant', async () => {
    const tokens = await login(idport, 'web', 'openid offline_access', 'picky');
    const refreshed = await refreshWith(idport, 'web', refreshToken(tokens));
    assertTokenResponse(refreshed);
    refusing = true;
    assertJsonError(
      await refreshWith(idport, 'web', refreshToken(refreshed)),
      400,
      'invalid_grant',
      'the user could not be re-authenticated',
    );
  });
});

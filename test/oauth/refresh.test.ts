/** Refresh-token families as domain functions over memory storage and a ManualClock (ARCHITECTURE.md decision 4). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OAuthError } from '../../src/errors.js';
import { runGrant } from '../../src/oauth/grants/endpoint.js';
import type { TokenResponse } from '../../src/oauth/grants/grant.js';
import { refreshFamilyIdOf, startRefreshFamily } from '../../src/oauth/grants/refresh-family.js';
import { refreshTokenGrant } from '../../src/oauth/grants/refresh-token.js';
import { hashSecret } from '../../src/oauth/primitives/secrets.js';
import type { Identity } from '../../connectors/connector.js';
import { client, loginFacts, testConnector, testProvider, type TestProvider } from './provider.js';

const web = client('web');
const SCOPES = ['openid', 'email', 'offline_access'];

const start = async (provider: TestProvider, scopes: readonly string[] = SCOPES): Promise<string> => {
  const family = await startRefreshFamily(provider, loginFacts(provider, 'web', scopes), undefined);
  assert.ok(family);
  return family.token;
};

const refresh = async (provider: TestProvider, token: string, scope?: string): Promise<TokenResponse> =>
  runGrant(provider, refreshTokenGrant, web, {
    form: { grant_type: 'refresh_token', refresh_token: token, ...(scope === undefined ? {} : { scope }) },
  });

/** A provider whose test connector records the connector data each refresh hands it. */
const spied = async (): Promise<{ provider: TestProvider; seen: (Uint8Array | undefined)[] }> => {
  const base = await testProvider([web]);
  const seen: (Uint8Array | undefined)[] = [];
  const connector = {
    ...testConnector,
    refresh: async (_scopes: unknown, identity: Identity): Promise<Identity> => {
      seen.push(identity.connectorData);
      return identity;
    },
  };
  const connectors = new Map([['test', { id: 'test', type: 'test', name: 'Test', connector }]]);
  return { provider: { ...base, connectors }, seen };
};

const refused = async (promise: Promise<unknown>, code: string, description: string): Promise<void> => {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof OAuthError);
    assert.deepEqual({ code: err.code, description: err.description }, { code, description });
    return true;
  });
};

describe('refresh-token families', () => {
  it('starts no family without offline_access', async () => {
    const provider = await testProvider([web]);
    assert.equal(await startRefreshFamily(provider, loginFacts(provider, 'web', ['openid']), undefined), undefined);
  });

  it('starts no family when the refresh_token grant is disabled', async () => {
    const provider = await testProvider([web], { grantTypes: ['authorization_code'] });
    assert.equal(await startRefreshFamily(provider, loginFacts(provider, 'web', SCOPES), undefined), undefined);
  });

  it('keeps each login its own family: revoking one leaves the other (several devices per user)', async () => {
    const provider = await testProvider([web]);
    const laptop = await start(provider);
    const phone = await start(provider);
    const rotated = await refresh(provider, laptop);
    provider.clock.advance(3_001);
    await refused(refresh(provider, laptop), 'invalid_grant', 'invalid refresh token');
    await refused(refresh(provider, rotated.refresh_token ?? ''), 'invalid_grant', 'invalid refresh token');
    assert.equal(await provider.storage.refreshTokens.get(refreshFamilyIdOf(laptop)), undefined);
    assert.ok((await refresh(provider, phone)).refresh_token);
  });

  it('serves a retry exactly at the end of the reuse interval, and revokes one millisecond later', async () => {
    const provider = await testProvider([web]);
    const token = await start(provider);
    const next = (await refresh(provider, token)).refresh_token;
    provider.clock.advance(3_000);
    assert.equal((await refresh(provider, token)).refresh_token, next);
    provider.clock.advance(1);
    await refused(refresh(provider, token), 'invalid_grant', 'invalid refresh token');
    await refused(refresh(provider, next ?? ''), 'invalid_grant', 'invalid refresh token');
  });

  it('lets exactly one rotation win when the same token races, and hands every racer the same new token', async () => {
    const provider = await testProvider([web]);
    const token = await start(provider);
    const results = await Promise.all(Array.from({ length: 8 }, async () => refresh(provider, token)));
    assert.equal(new Set(results.map((r) => r.refresh_token)).size, 1);
    // One rotation: the stored family moved from the presented secret to the new one, not past it.
    const family = await provider.storage.refreshTokens.get(refreshFamilyIdOf(token));
    const secretOf = (wire: string | undefined): string => hashSecret(wire?.split('.')[1] ?? '');
    assert.equal(family?.previousHash, secretOf(token));
    assert.equal(family?.currentHash, secretOf(results[0]?.refresh_token));
  });

  it("refreshes a family carried over from Dex with the connector data Dex kept in the user's offline session", async () => {
    const { provider, seen } = await spied();
    const token = await start(provider);
    const dexData = new Uint8Array([1, 2, 3]);
    await provider.storage.offlineSessions.create({
      userId: 'u-1',
      connectorId: 'test',
      refresh: {},
      connectorData: dexData,
    });
    await refresh(provider, token);
    assert.deepEqual(seen, [dexData]);
    assert.deepEqual((await provider.storage.refreshTokens.get(refreshFamilyIdOf(token)))?.connectorData, dexData);
  });

  it("prefers a family's own connector data to the offline session's", async () => {
    const { provider, seen } = await spied();
    const own = new Uint8Array([9]);
    const family = await startRefreshFamily(provider, loginFacts(provider, 'web', SCOPES), own);
    assert.ok(family);
    await provider.storage.offlineSessions.create({
      userId: 'u-1',
      connectorId: 'test',
      refresh: {},
      connectorData: new Uint8Array([1, 2, 3]),
    });
    await refresh(provider, family.token);
    assert.deepEqual(seen, [own]);
  });

  it('refuses a presented token with a wrong secret for a live family and revokes the family', async () => {
    const provider = await testProvider([web]);
    const token = await start(provider);
    const [familyId] = token.split('.');
    await refused(refresh(provider, `${familyId}.${'A'.repeat(43)}`), 'invalid_grant', 'invalid refresh token');
    await refused(refresh(provider, token), 'invalid_grant', 'invalid refresh token');
  });

  it('does not resolve a stored family id used as the handle, so reading an access token gid cannot revoke the family', async () => {
    const provider = await testProvider([web]);
    const token = await start(provider);
    await refused(
      refresh(provider, `${refreshFamilyIdOf(token)}.${'A'.repeat(43)}`),
      'invalid_grant',
      'invalid refresh token',
    );
    assert.ok((await refresh(provider, token)).refresh_token);
  });

  it('still rotates a family stored under its handle before handles were hashed', async () => {
    const provider = await testProvider([web]);
    const stored = await provider.storage.refreshTokens.get(refreshFamilyIdOf(await start(provider)));
    assert.ok(stored);
    const legacyId = 'L'.repeat(22);
    await provider.storage.refreshTokens.create({ ...stored, id: legacyId, currentHash: hashSecret('legacy-secret') });
    const rotated = await refresh(provider, `${legacyId}.legacy-secret`);
    assert.match(rotated.refresh_token ?? '', new RegExp(`^${legacyId}\\.`));
    assert.ok((await refresh(provider, rotated.refresh_token ?? '')).refresh_token);
  });

  it("refuses another client's family without revoking it", async () => {
    const provider = await testProvider([web, client('other')]);
    const token = await start(provider);
    await refused(
      runGrant(provider, refreshTokenGrant, client('other'), { form: { refresh_token: token } }),
      'invalid_grant',
      'invalid refresh token',
    );
    assert.ok((await refresh(provider, token)).refresh_token);
  });

  it('narrows the scope for one response and keeps the family scope (RFC 6749 §6)', async () => {
    const provider = await testProvider([web]);
    const narrowed = await refresh(provider, await start(provider), 'openid');
    assert.equal(narrowed.scope, 'openid');
    const again = await refresh(provider, narrowed.refresh_token ?? '');
    assert.equal(again.scope, SCOPES.join(' '));
  });

  it('refuses any scope outside the original grant with invalid_scope', async () => {
    const provider = await testProvider([web]);
    await refused(
      refresh(provider, await start(provider), 'openid groups'),
      'invalid_scope',
      'scope "groups" was not granted originally',
    );
  });
});

/**
 * A Dex installation on Kubernetes moves to idport with its data: objects shaped exactly as Dex's Go code
 * writes them (storage/kubernetes/types.go) are planted in the API server stand-in, and idport, on the
 * kubernetes storage, logs users in with Dex's password, signs with Dex's key (and rotates on Dex's
 * schedule), verifies what Dex signed, and refreshes Dex's refresh token with the same `sub`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { openKubernetes } from '../../storage/kubernetes/kubernetes.js';
import { idToName, offlineTokenName } from '../../storage/kubernetes/names.js';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { createSigner } from '../../src/signer/signer.js';
import {
  dexChartRules,
  idportChartRules,
  startKubeApiServer,
  type KubeApiServer,
  type PolicyRule,
} from '../support/kube-apiserver.js';
import { DEMO_HASH, demoUser, ManualClock, startIdport, type TestIdport } from '../support/idport.js';
import { authorize, codeRequest, redeemCode, REDIRECT, refreshWith, str } from './helpers.js';

const NS = 'dex';
const GROUP = 'dex.coreos.com';
const DEX_KID = 'd1b6f1a2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8';
/** A Dex refresh id: storage.NewID, 26 characters of lower-case base32. */
const REFRESH_ID = 'n5rwqzltmvzhgzlbnfxgg43fmu';
const REFRESH_SECRET = 'vj6gsh2kzqy3lrvazofxd7cvm';
const OTHER_REFRESH_ID = 'mfzgc2lomvzxi2lpnzqwy5dpnu';
/** Go's RFC 3339 with nanoseconds, as Dex's objects carry them. */
const goTime = (date: Date): string => date.toISOString().replace(/Z$/, '123456Z');

/** Dex's refresh token on the wire: base64url of protobuf `RefreshToken { refresh_id = 1; token = 2 }`. */
const dexWireToken = (id: string, token: string): string =>
  Buffer.concat([
    Buffer.from([0x0a, id.length]),
    Buffer.from(id),
    Buffer.from([0x12, token.length]),
    Buffer.from(token),
  ]).toString('base64url');

const meta = (kind: string, name: string): Record<string, unknown> => ({
  apiVersion: `${GROUP}/v1`,
  kind,
  metadata: { name, namespace: NS },
});

/**
 * The takeover, with the RBAC of idport's chart and with only that of Dex's chart (Dex's image swapped for idport's
 * under Dex's chart): Dex's objects are in Dex's group either way.
 */
const takeover = (rbac: string, rules: readonly PolicyRule[]): Promise<void> =>
  describe(`a Dex installation on Kubernetes, taken over by idport (${rbac})`, () => {
    let server: KubeApiServer;
    let idport: TestIdport;
    let clock: ManualClock;
    let dexPrivate: JWK;
    let nextRotation: Date;

    before(async () => {
      server = await startKubeApiServer({ users: { 'sa-token': rules } });
      const kubeConfigFile = server.kubeconfig('sa-token', NS);
      const quiet = { warn: () => undefined, info: () => undefined };
      // Dex created the CRDs when it first started; so does idport here, then Dex's objects are planted.
      await (await openKubernetes({ kubeConfigFile }, quiet)).close();
      clock = new ManualClock(new Date());
      nextRotation = new Date(clock.now().getTime() + 3600_000);
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      dexPrivate = { ...(await exportJWK(privateKey)), kid: DEX_KID, alg: 'RS256', use: 'sig' };
      const dexPublic = { ...(await exportJWK(publicKey)), kid: DEX_KID, alg: 'RS256', use: 'sig' };
      const plant = (plural: string, object: Record<string, unknown>): void =>
        void server.plant(GROUP, plural, NS, object);
      plant('oauth2clients', {
        ...meta('OAuth2Client', idToName('example-app')),
        id: 'example-app',
        secret: 'example-app-secret',
        redirectURIs: [REDIRECT],
        public: false,
        name: 'Example App',
      });
      plant('passwords', {
        ...meta('Password', idToName(demoUser.email)),
        email: demoUser.email,
        hash: Buffer.from(DEMO_HASH).toString('base64'),
        username: demoUser.username,
        userID: demoUser.userId,
      });
      plant('signingkeies', {
        ...meta('SigningKey', 'openid-connect-keys'),
        signingKey: dexPrivate,
        signingKeyPub: dexPublic,
        verificationKeys: [
          {
            publicKey: { ...dexPublic, kid: 'retired-by-dex' },
            expiry: goTime(new Date(clock.now().getTime() + 600_000)),
          },
        ],
        nextRotation: goTime(nextRotation),
      });
      const created = goTime(new Date(clock.now().getTime() - 86_400_000));
      for (const id of [REFRESH_ID, OTHER_REFRESH_ID])
        plant('refreshtokens', {
          ...meta('RefreshToken', id),
          CreatedAt: created,
          LastUsed: created,
          clientID: 'example-app',
          scopes: ['openid', 'email', 'offline_access'],
          token: REFRESH_SECRET,
          claims: {
            userID: demoUser.userId,
            username: demoUser.username,
            preferredUsername: '',
            email: demoUser.email,
            emailVerified: true,
          },
          connectorID: 'local',
        });
      plant('offlinesessionses', {
        ...meta('OfflineSessions', offlineTokenName(demoUser.userId, 'local')),
        userID: demoUser.userId,
        connID: 'local',
        refresh: { 'example-app': { ID: REFRESH_ID, ClientID: 'example-app', CreatedAt: created, LastUsed: created } },
      });
      idport = await startIdport({
        clients: [],
        passwords: [],
        clock,
        storage: await openKubernetes({ kubeConfigFile }, quiet),
        // Dex's keys are RS256: idport keeps signing with them only when it signs RS256 too.
        signingAlgorithm: 'RS256',
      });
    });
    after(async () => {
      await idport.close();
      await server.close();
    });

    it("logs the user in with Dex's password object and signs with Dex's key, with Dex's sub", async () => {
      const params = await authorize(idport, codeRequest('example-app', { scope: 'openid email' }));
      const tokens = await redeemCode(idport, 'example-app', params.get('code') ?? '');
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const idToken = str(tokens.body, 'id_token');
      assert.equal(decodeProtectedHeader(idToken).kid, DEX_KID);
      assert.equal(decodeJwt(idToken).sub, encodeSubject(demoUser.userId, 'local'));
    });

    it('verifies a token Dex signed, and publishes the keys Dex published', async () => {
      const dexToken = await new SignJWT({ sub: encodeSubject(demoUser.userId, 'local') })
        .setProtectedHeader({ alg: 'RS256', kid: DEX_KID })
        .setIssuer(idport.issuer)
        .setAudience('example-app')
        .setIssuedAt(Math.floor(clock.now().getTime() / 1000))
        .setExpirationTime(Math.floor(clock.now().getTime() / 1000) + 600)
        .sign(await importJWK(dexPrivate, 'RS256'));
      const claims = await idport.provider.signer.verify(dexToken, { audience: 'example-app' });
      assert.equal(claims.sub, encodeSubject(demoUser.userId, 'local'));
      const jwks = (await (await fetch(`${idport.issuer}/keys`)).json()) as { keys: JWK[] };
      assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [DEX_KID, 'retired-by-dex'].sort());
    });

    it("refreshes Dex's refresh token with the same sub, then idport's rotated one, and drops Dex's clear secret", async () => {
      const first = await refreshWith(idport, 'example-app', dexWireToken(REFRESH_ID, REFRESH_SECRET));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(decodeJwt(str(first.body, 'id_token')).sub, encodeSubject(demoUser.userId, 'local'));
      const rotated = str(first.body, 'refresh_token');
      assert.ok(rotated.startsWith(`${REFRESH_ID}.`), rotated);

      const second = await refreshWith(idport, 'example-app', rotated);
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.equal(decodeJwt(str(second.body, 'id_token')).sub, encodeSubject(demoUser.userId, 'local'));

      const stored = server.objects.get(`${GROUP}/refreshtokens/${NS}/${REFRESH_ID}`);
      assert.ok(stored);
      assert.equal(stored['token'], undefined);
      assert.equal(stored['clientID'], 'example-app');
      assert.equal(typeof stored['CreatedAt'], 'string');
    });

    it("refuses Dex's refresh token with a wrong secret, or an id nobody issued, with invalid_grant", async () => {
      for (const wire of [
        dexWireToken(OTHER_REFRESH_ID, 'not-the-secret'),
        dexWireToken('a'.repeat(26), REFRESH_SECRET),
      ]) {
        const refused = await refreshWith(idport, 'example-app', wire);
        assert.equal(refused.status, 400);
        assert.equal(refused.body['error'], 'invalid_grant');
      }
    });

    it("rotates the signing key when Dex's nextRotation comes, keeping Dex's key published", async () => {
      // The rotation timer's signer, as a second replica would run it.
      const rotator = createSigner({
        storage: idport.storage,
        clock,
        issuer: idport.issuer,
        algorithm: 'RS256',
        rotationPeriodMs: 6 * 3600_000,
        idTokenTtlMs: 3600_000,
      });
      assert.equal(await rotator.rotateIfDue(), false);
      clock.set(new Date(nextRotation.getTime() + 1000));
      assert.equal(await rotator.rotateIfDue(), true);
      const stored = server.objects.get(`${GROUP}/signingkeies/${NS}/openid-connect-keys`);
      const signingKey = stored?.['signingKeyPub'] as JWK | undefined;
      assert.notEqual(signingKey?.kid, DEX_KID);
      const retired = (stored?.['verificationKeys'] as { publicKey: JWK; expiry: string }[]).map(
        (k) => k.publicKey.kid,
      );
      assert.ok(retired.includes(DEX_KID), retired.join(', '));
      assert.ok(new Date(String(stored?.['nextRotation'])).getTime() > nextRotation.getTime());
    });
  });

void takeover("idport's chart RBAC", idportChartRules);
void takeover("Dex's chart RBAC", dexChartRules);

/**
 * The storage conformance suite (Dex's storage/conformance): every backend adopts it in a few lines and
 * so proves the same behaviour the rest of idport relies on. Each test opens a fresh storage.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AlreadyExistsError, type Keys, type OfflineSession, type Storage } from '../../storage/storage.js';
import { assertRejectsWith, describeEntity } from './conformance-table.js';
import * as fx from './fixtures.js';

export { assertRejectsWith } from './conformance-table.js';

/** Options for `runStorageConformance`. */
export interface ConformanceOptions {
  /** A reason to skip the whole suite (e.g. no database configured), or false to run it. */
  readonly skip?: string | false;
}

const byId = (value: { id: string }): string => value.id;
const idSuffix = <T extends { id: string }>(value: T): T => ({ ...value, id: `${value.id}-moved` });

/**
 * Registers the suite under `name`. `open` must return an empty storage on every call (a fresh
 * `:memory:` database, a new temp file, or a truncated PostgreSQL schema); each test closes it.
 */
export function runStorageConformance(
  name: string,
  open: () => Promise<Storage> | Storage,
  options: ConformanceOptions = {},
): void {
  describe(name, { skip: options.skip ?? false }, () => {
    let opened: Storage | undefined;
    const storage = (): Storage => {
      assert.ok(opened, 'storage is opened by beforeEach');
      return opened;
    };
    beforeEach(async () => {
      opened = await open();
    });
    afterEach(async () => {
      await opened?.close();
      opened = undefined;
    });

    describeEntity(storage, {
      what: 'password failures',
      table: (s) => s.passwordFailures,
      make: (n) => fx.passwordFailures(n),
      keyOf: byId,
      change: (v) => ({ ...v, failures: v.failures + 1, pending: 0, lockedUntil: fx.at(5), expiry: fx.at(6) }),
      rekey: idSuffix,
      order: byId,
    });
    describeEntity(storage, {
      what: 'revoked token',
      table: (s) => s.revokedTokens,
      make: (n) => fx.revokedToken(n),
      keyOf: byId,
      change: (v) => ({ ...v, expiry: fx.at(99) }),
      rekey: idSuffix,
      order: byId,
    });
    describeEntity(storage, {
      what: 'auth request',
      table: (s) => s.authRequests,
      make: (n) => fx.authRequest(n),
      keyOf: byId,
      change: (v) => ({
        ...v,
        loggedIn: false,
        scopes: ['openid'],
        expiry: fx.at(1),
        connectorData: new Uint8Array([7]),
      }),
      rekey: idSuffix,
      order: byId,
    });
    describeEntity(storage, {
      what: 'auth code',
      table: (s) => s.authCodes,
      make: (n) => fx.authCode(n),
      keyOf: byId,
      change: (v) => ({ ...v, redeemedAt: fx.at(99), revokedAt: fx.at(100) }),
      rekey: idSuffix,
      order: byId,
    });
    describeEntity(storage, {
      what: 'refresh token',
      table: (s) => s.refreshTokens,
      make: (n) => fx.refreshToken(n),
      keyOf: byId,
      change: (v) => ({
        ...v,
        rotationNonce: 'next-nonce',
        previousHash: v.currentHash,
        currentHash: 'next',
        lastUsed: fx.at(42),
      }),
      rekey: idSuffix,
      order: byId,
    });
    describeEntity(storage, {
      what: 'offline session',
      table: (s) => s.offlineSessions,
      make: (n) => fx.offlineSession(n),
      keyOf: (v) => ({ userId: v.userId, connectorId: v.connectorId }),
      change: (v) => ({
        ...v,
        refresh: { solo: { id: 'refresh-token-solo', clientId: 'solo', createdAt: fx.at(1), lastUsed: fx.at(2) } },
      }),
      rekey: (v) => ({ ...v, connectorId: `${v.connectorId}-moved` }),
      order: (v) => `${v.userId}\u0000${v.connectorId}`,
    });
    describeEntity(storage, {
      what: 'client',
      table: (s) => s.clients,
      make: fx.client,
      keyOf: byId,
      change: (v) => ({ ...v, redirectURIs: ['https://changed.example.com/cb'], public: true, secret: '' }),
      rekey: idSuffix,
      order: byId,
    });
    describeEntity(storage, {
      what: 'password',
      table: (s) => s.passwords,
      make: (n) => fx.password(n),
      keyOf: (v) => v.email,
      change: (v) => ({ ...v, hash: '$2a$10$changed', groups: [] }),
      rekey: (v) => ({ ...v, email: `moved-${v.email}` }),
      order: (v) => v.email,
    });
    describeEntity(storage, {
      what: 'connector',
      table: (s) => s.connectors,
      make: fx.connector,
      keyOf: byId,
      change: (v) => ({ ...v, resourceVersion: `${v.resourceVersion}.1`, config: { host: 'changed.example.com' } }),
      rekey: idSuffix,
      order: byId,
    });
    describeEntity(storage, {
      what: 'device request',
      table: (s) => s.deviceRequests,
      make: (n) => fx.deviceRequest(n),
      keyOf: (v) => v.userCode,
      change: (v) => ({ ...v, scopes: ['openid'], expiry: fx.at(7) }),
      rekey: (v) => ({ ...v, userCode: `${v.userCode}-MOVED` }),
      order: (v) => v.userCode,
    });
    describeEntity(storage, {
      what: 'device token',
      table: (s) => s.deviceTokens,
      make: (n) => fx.deviceToken(n),
      keyOf: (v) => v.deviceCode,
      change: (v) => ({ ...v, status: 'complete' as const, token: '{"access_token":"x"}', lastRequestTime: fx.at(12) }),
      rekey: (v) => ({ ...v, deviceCode: `${v.deviceCode}-moved` }),
      order: (v) => v.deviceCode,
    });
    describeEntity(storage, {
      what: 'session',
      table: (s) => s.sessions,
      make: (n) => fx.session(n),
      keyOf: byId,
      change: (v) => ({
        ...v,
        lastUsed: fx.at(99),
        consents: { ...v.consents, other: ['openid', 'groups'] },
        clients: [...v.clients, 'other'],
      }),
      rekey: idSuffix,
      order: byId,
    });

    describe('field types', () => {
      it('returns Date fields as Dates equal to the millisecond, including nested ones', async () => {
        await storage().authRequests.create(fx.authRequest(1));
        await storage().offlineSessions.create(fx.offlineSession(1));
        await storage().updateKeys(() => fx.keys('current', ['retired']));

        const request = await storage().authRequests.get('auth-request-1');
        assert.ok(request?.expiry instanceof Date && request.authTime instanceof Date);
        assert.equal(request.expiry.getTime(), fx.baseTime + 600_000);
        assert.equal(request.authTime.getTime(), fx.baseTime - 1);
        const session = await storage().offlineSessions.get({ userId: 'user-1', connectorId: 'github' });
        const ref = session?.refresh['kubectl'];
        assert.ok(ref?.createdAt instanceof Date);
        assert.equal(ref.createdAt.getTime(), fx.baseTime - 9);
        const keys = await storage().getKeys();
        const retired = keys?.verificationKeys[0];
        assert.ok(retired?.expiry instanceof Date && keys?.nextRotation instanceof Date);
        assert.equal(retired.expiry.getTime(), fx.baseTime + 1001);
        assert.equal(keys.nextRotation.getTime(), fx.baseTime + 21_600_000);
      });

      it('returns connectorData as a Uint8Array with exactly the bytes stored, including an empty one', async () => {
        await storage().authRequests.create({ ...fx.authRequest(1), connectorState: new Uint8Array(0) });
        const got = await storage().authRequests.get('auth-request-1');
        assert.ok(got?.connectorData instanceof Uint8Array && got.connectorState instanceof Uint8Array);
        assert.deepEqual(
          [...got.connectorData],
          Array.from({ length: 256 }, (_, i) => (i + 1) % 256),
        );
        assert.equal(got.connectorState.length, 0);
      });

      it('reads back optional fields that were left out as absent', async () => {
        const {
          claims: _c,
          connectorData: _d,
          connectorState: _s,
          authTime: _t,
          sessionId: _i,
          maxAge: _m,
          ...minimal
        } = fx.authRequest(1);
        await storage().authRequests.create(minimal);
        const got = await storage().authRequests.get('auth-request-1');
        assert.deepEqual(got, minimal);
        assert.equal(got?.connectorData, undefined);
        assert.equal(got?.authTime, undefined);
      });

      it('stores strings with quotes, backslashes, newlines, NUL and non-ASCII characters unchanged', async () => {
        const state = '"quoted" \\ back\u0000slash\n🙂 ü $date';
        await storage().authRequests.create({ ...fx.authRequest(1), state });
        assert.equal((await storage().authRequests.get('auth-request-1'))?.state, state);
      });

      it('round-trips free-form connector config, including keys that look like codec tags', async () => {
        await storage().connectors.create(fx.connector(1));
        assert.deepEqual((await storage().connectors.get('connector-1'))?.config, fx.connector(1).config);
      });

      it('returns copies, so changing a value read back does not change what is stored', async () => {
        await storage().authRequests.create(fx.authRequest(1));
        const got = await storage().authRequests.get('auth-request-1');
        assert.ok(got);
        (got.scopes as string[]).push('tampered');
        got.connectorData?.fill(0);
        assert.deepEqual(await storage().authRequests.get('auth-request-1'), fx.authRequest(1));
      });
    });

    describe('offline session keys', () => {
      it('keeps offline sessions of the same user on different connectors apart', async () => {
        await storage().offlineSessions.create(fx.offlineSession(1, 'github'));
        await storage().offlineSessions.create(fx.offlineSession(1, 'ldap'));
        assert.deepEqual(
          await storage().offlineSessions.get({ userId: 'user-1', connectorId: 'ldap' }),
          fx.offlineSession(1, 'ldap'),
        );
        assert.equal(await storage().offlineSessions.delete({ userId: 'user-1', connectorId: 'github' }), true);
        assert.deepEqual(await storage().offlineSessions.list(), [fx.offlineSession(1, 'ldap')]);
      });

      it('does not confuse keys whose user and connector ids concatenate to the same string', async () => {
        const first: OfflineSession = { userId: 'a:b', connectorId: 'c', refresh: {} };
        const second: OfflineSession = { userId: 'a', connectorId: 'b:c', refresh: {} };
        await storage().offlineSessions.create(first);
        await storage().offlineSessions.create(second);
        assert.deepEqual(await storage().offlineSessions.get({ userId: 'a:b', connectorId: 'c' }), first);
        assert.deepEqual(await storage().offlineSessions.get({ userId: 'a', connectorId: 'b:c' }), second);
        assert.equal(await storage().offlineSessions.get({ userId: 'a', connectorId: 'c' }), undefined);
      });
    });

    describe('password emails', () => {
      it('finds a password by email regardless of case and returns the email as created', async () => {
        await storage().passwords.create(fx.password(1, 'Foo@Example.com'));
        assert.deepEqual(await storage().passwords.get('foo@example.COM'), fx.password(1, 'Foo@Example.com'));
      });

      it('rejects a password whose email differs only in case with AlreadyExistsError', async () => {
        await storage().passwords.create(fx.password(1, 'Foo@Example.com'));
        await assertRejectsWith(
          storage().passwords.create(fx.password(2, 'foo@example.com')),
          AlreadyExistsError,
          'password already exists',
        );
        assert.deepEqual(await storage().passwords.list(), [fx.password(1, 'Foo@Example.com')]);
      });

      it('updates and deletes a password by email regardless of case', async () => {
        await storage().passwords.create(fx.password(1, 'Foo@Example.com'));
        const updated = await storage().passwords.update('FOO@EXAMPLE.COM', (old) => ({ ...old, hash: 'new-hash' }));
        assert.deepEqual(updated, { ...fx.password(1, 'Foo@Example.com'), hash: 'new-hash' });
        assert.equal(await storage().passwords.delete('foo@example.com'), true);
        assert.equal(await storage().passwords.get('Foo@Example.com'), undefined);
      });
    });

    describe('concurrent updates', () => {
      it('applies 100 parallel updates of one refresh token without losing any', async () => {
        await storage().refreshTokens.create(fx.refreshToken(1));
        const results = await Promise.all(
          Array.from({ length: 100 }, () => storage().refreshTokens.update('refresh-token-1', fx.useOnce)),
        );
        // Each update saw the previous one's result, so every count was handed out exactly once.
        assert.deepEqual(
          results.map((r) => fx.usesOf(r) ?? 0).sort((a, b) => a - b),
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        assert.equal(fx.usesOf(await storage().refreshTokens.get('refresh-token-1')), 100);
      });

      it('applies 100 parallel updateKeys without losing any', async () => {
        const retire = (old: Keys | undefined, kid: string): Keys =>
          fx.keys('current', [...(old?.verificationKeys ?? []).map((k) => String(k.publicKey.kid)), kid]);
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) => storage().updateKeys((old) => retire(old, `kid-${i}`))),
        );
        assert.deepEqual(
          results.map((r) => r.verificationKeys.length).sort((a, b) => a - b),
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        const kids = (await storage().getKeys())?.verificationKeys.map((k) => String(k.publicKey.kid)) ?? [];
        assert.deepEqual([...kids].sort(), Array.from({ length: 100 }, (_, i) => `kid-${i}`).sort());
      });
    });

    describe('keys', () => {
      it('returns undefined keys before any were stored', async () => {
        assert.equal(await storage().getKeys(), undefined);
      });

      it('creates keys on the first updateKeys, passing undefined to the function', async () => {
        const seen: (Keys | undefined)[] = [];
        const result = await storage().updateKeys((old) => {
          seen.push(old);
          return fx.keys('first', ['old-1', 'old-2']);
        });
        assert.deepEqual(seen, [undefined]);
        assert.deepEqual(result, fx.keys('first', ['old-1', 'old-2']));
        assert.deepEqual(await storage().getKeys(), fx.keys('first', ['old-1', 'old-2']));
      });

      it('replaces keys on updateKeys, passing the stored set to the function', async () => {
        await storage().updateKeys(() => fx.keys('first'));
        const seen: (Keys | undefined)[] = [];
        await storage().updateKeys((old) => {
          seen.push(old);
          return fx.keys('second', ['first']);
        });
        assert.deepEqual(seen.at(-1), fx.keys('first'));
        assert.deepEqual(await storage().getKeys(), fx.keys('second', ['first']));
      });

      it('leaves keys unchanged and rethrows the same error when the updateKeys function throws', async () => {
        const failure = new Error('rotation refused');
        const refuse = (): Keys => {
          throw failure;
        };
        await assert.rejects(storage().updateKeys(refuse), (err: unknown) => err === failure);
        assert.equal(await storage().getKeys(), undefined);
        await storage().updateKeys(() => fx.keys('first'));
        await assert.rejects(storage().updateKeys(refuse), (err: unknown) => err === failure);
        assert.deepEqual(await storage().getKeys(), fx.keys('first'));
      });
    });

    describe('garbage collection', () => {
      it('deletes exactly the rows whose expiry is before now and reports how many per table', async () => {
        const now = fx.at(0);
        const s = storage();
        // For each expiring table: one row expired 1 ms ago (n=1), one expiring exactly now (n=2), one later (n=3).
        const expiries = [fx.at(-1), fx.at(0), fx.at(1)];
        for (const [i, expiry] of expiries.entries()) {
          await s.authRequests.create(fx.authRequest(i + 1, expiry));
          await s.authCodes.create(fx.authCode(i + 1, expiry));
          await s.refreshTokens.create(fx.refreshToken(i + 1, expiry));
          await s.deviceRequests.create(fx.deviceRequest(i + 1, expiry));
          await s.deviceTokens.create(fx.deviceToken(i + 1, expiry));
          await s.sessions.create(fx.session(i + 1, expiry));
          await s.passwordFailures.create(fx.passwordFailures(i + 1, expiry));
          await s.revokedTokens.create(fx.revokedToken(i + 1, expiry));
        }
        await s.refreshTokens.create(fx.refreshToken(4, null));
        // Rows of tables without expiry stay, even when their dates are long past.
        await s.clients.create(fx.client(1));
        await s.passwords.create(fx.password(1));
        await s.connectors.create(fx.connector(1));
        await s.offlineSessions.create(fx.offlineSession(1));
        await s.updateKeys(() => fx.keys('current', ['retired']));

        assert.deepEqual(await s.garbageCollect(now), {
          authRequests: 1,
          authCodes: 1,
          refreshTokens: 1,
          deviceRequests: 1,
          deviceTokens: 1,
          sessions: 1,
          passwordFailures: 1,
          revokedTokens: 1,
        });

        const ids = async <T>(rows: Promise<T[]>, keyOf: (v: T) => string): Promise<string[]> =>
          (await rows).map(keyOf).sort();
        assert.deepEqual(await ids(s.authRequests.list(), byId), ['auth-request-2', 'auth-request-3']);
        assert.deepEqual(await ids(s.authCodes.list(), byId), ['auth-code-2', 'auth-code-3']);
        assert.deepEqual(await ids(s.refreshTokens.list(), byId), [
          'refresh-token-2',
          'refresh-token-3',
          'refresh-token-4',
        ]);
        assert.deepEqual(await ids(s.deviceRequests.list(), (d) => d.userCode), ['USER-2', 'USER-3']);
        assert.deepEqual(await ids(s.deviceTokens.list(), (d) => d.deviceCode), ['device-code-2', 'device-code-3']);
        assert.deepEqual(await ids(s.sessions.list(), byId), ['session-2', 'session-3']);
        assert.deepEqual(await ids(s.passwordFailures.list(), byId), ['failures-2', 'failures-3']);
        assert.deepEqual(await ids(s.revokedTokens.list(), byId), ['jti-2', 'jti-3']);
        assert.deepEqual(await s.clients.list(), [fx.client(1)]);
        assert.deepEqual(await s.passwords.list(), [fx.password(1)]);
        assert.deepEqual(await s.connectors.list(), [fx.connector(1)]);
        assert.deepEqual(await s.offlineSessions.list(), [fx.offlineSession(1)]);
        assert.deepEqual(await s.getKeys(), fx.keys('current', ['retired']));

        assert.deepEqual(await s.garbageCollect(now), {
          authRequests: 0,
          authCodes: 0,
          refreshTokens: 0,
          deviceRequests: 0,
          deviceTokens: 0,
          sessions: 0,
          passwordFailures: 0,
          revokedTokens: 0,
        });
      });

      it('garbage-collects a row whose expiry was moved into the past by an update', async () => {
        await storage().authRequests.create(fx.authRequest(1, fx.at(10)));
        await storage().authRequests.update('auth-request-1', (old) => ({ ...old, expiry: fx.at(-10) }));
        const result = await storage().garbageCollect(fx.at(0));
        assert.equal(result.authRequests, 1);
        assert.equal(await storage().authRequests.get('auth-request-1'), undefined);
      });
    });

    describe('health', () => {
      it('answers ping while open', async () => {
        assert.equal(await storage().ping(), undefined);
      });
    });
  });
}

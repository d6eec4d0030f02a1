/**
 * The upstream OpenID Connect connector against a real, independent OpenID provider (panva's
 * oidc-provider, started by test/support/upstream-op.ts): logins, the checks openid-client makes on
 * what the upstream sends, Dex's claim rules, refresh, and an upstream that is down at start.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { pino } from 'pino';

import {
  type CallbackConnector,
  type Connector,
  type ConnectorDeps,
  ConnectorError,
  type Identity,
  type Refreshable,
  type Scopes,
} from '../../connectors/connector.js';
import { upstreamFetch } from '../../connectors/oidc/http.js';
import { configSchema, open } from '../../connectors/oidc/oidc.js';
import {
  followLogin,
  freePort,
  generateSigningKey,
  type LoginChoice,
  startUpstreamOp,
  type UpstreamAccount,
  type UpstreamOp,
} from '../support/upstream-op.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const OFFLINE: Scopes = { offlineAccess: true, groups: true };
const ONLINE: Scopes = { offlineAccess: false, groups: true };
/**
 * Retries every 10–50 ms, and a login waits for the discovery attempt in flight until it settles (a loaded machine
 * can take seconds over TLS); the wait ends as soon as the attempt succeeds or fails, so this adds no delay.
 */
const PATIENT_RETRY = { retry: { initialDelayMs: 10, maxDelayMs: 50, maxWaitMs: 60_000 } };
/** As PATIENT_RETRY, but a login gives up after 200 ms: for the upstream that never answers. */
const FAST_RETRY = { retry: { initialDelayMs: 10, maxDelayMs: 50, maxWaitMs: 200 } };

const ALICE: UpstreamAccount = {
  sub: 'alice',
  name: 'Alice Liddell',
  preferred_username: 'alice',
  email: 'alice@example.org',
  email_verified: true,
  groups: ['admins', 'developers'],
};
const BOB: UpstreamAccount = {
  sub: 'bob',
  name: 'Bob Unverified',
  email: 'bob@example.org',
  email_verified: false,
  groups: ['developers'],
};
const CAROL: UpstreamAccount = {
  sub: 'carol',
  name: 'Carol',
  email: 'carol@example.org',
  email_verified: true,
  groups: ['sales'],
  claims: { nickname: 'caz', mail: 'carol@corp.example', roles: ['seller', { name: 'lead' }], employee_id: 'E-1042' },
  userinfoOnly: { name: 'Carol (from userinfo)', department: 'Sales' },
};
const DAVE: UpstreamAccount = { sub: 'dave', name: 'Dave NoClaim', email: 'dave@example.org', groups: [] }; // no email_verified at all

// Records what the connector logs, so tests can check what an operator would read.
function testDeps(fetchFn: typeof fetch = fetch): ConnectorDeps & { lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, fetch: fetchFn, now: () => new Date(), lines };
}

type OidcConnector = CallbackConnector & Refreshable & { close(): Promise<void> };

function asOidc(connector: Connector): OidcConnector {
  assert.equal(connector.kind, 'callback');
  assert.equal(typeof connector.refresh, 'function');
  assert.equal(typeof connector.close, 'function');
  return connector as OidcConnector;
}

async function openConnector(
  upstream: Pick<UpstreamOp, 'issuer' | 'clientId' | 'clientSecret'>,
  config: Record<string, unknown> = {},
  deps: ConnectorDeps = testDeps(),
  options: typeof PATIENT_RETRY = PATIENT_RETRY,
): Promise<OidcConnector> {
  const parsed = configSchema.parse({
    issuer: upstream.issuer,
    clientID: upstream.clientId,
    clientSecret: upstream.clientSecret,
    redirectURI: CALLBACK,
    scopes: ['profile', 'email', 'groups', 'offline_access'],
    insecureEnableGroups: true,
    ...config,
  });
  const connector = asOidc(await open('upstream', parsed, deps, options));
  after(() => connector.close());
  return connector;
}

/** Starts a login, lets the upstream log `account` in, and returns the callback query and connector state. */
interface LoginOptions {
  readonly account?: string;
  readonly deny?: boolean;
  readonly scopes?: Scopes;
  readonly state?: string;
  /** The user agent's fetch (one that trusts the test CA for https). */
  readonly fetch?: LoginChoice['fetch'];
}

async function upstreamLogin(connector: OidcConnector, upstream: UpstreamOp, options: LoginOptions = {}) {
  const state = options.state ?? 'idport-auth-request-1';
  const { url, connectorState } = await connector.loginUrl(options.scopes ?? OFFLINE, CALLBACK, state);
  const query = await upstream.followLogin(url, {
    callbackUrl: CALLBACK,
    account: options.account,
    deny: options.deny,
    fetch: options.fetch,
  });
  return { url: new URL(url), query, connectorState };
}

async function login(connector: OidcConnector, upstream: UpstreamOp, options: LoginOptions = {}): Promise<Identity> {
  const { query, connectorState } = await upstreamLogin(connector, upstream, options);
  return connector.handleCallback(options.scopes ?? OFFLINE, connectorState, query);
}

/** Asserts a ConnectorError with this user message and a log message matching `logged`. */
function refused(userMessage: string, logged: RegExp) {
  return (err: unknown): true => {
    assert.ok(err instanceof ConnectorError, `expected a ConnectorError, got ${String(err)}`);
    assert.equal(err.userMessage, userMessage);
    assert.match(err.message, logged);
    return true;
  };
}

const LOGIN_FAILED = 'Login failed.';

describe('oidc connector against oidc-provider', () => {
  let upstream: UpstreamOp;
  before(async () => {
    upstream = await startUpstreamOp({ redirectUris: [CALLBACK], accounts: [ALICE, BOB, CAROL, DAVE] });
  });
  after(() => upstream.close());

  test('logs a user in with the upstream claims and groups, sending PKCE, state and nonce', async () => {
    const connector = await openConnector(upstream);
    const { url, query, connectorState } = await upstreamLogin(connector, upstream, { account: 'alice' });
    assert.equal(url.origin, upstream.issuer);
    assert.equal(url.searchParams.get('client_id'), upstream.clientId);
    assert.equal(url.searchParams.get('redirect_uri'), CALLBACK);
    assert.equal(url.searchParams.get('scope'), 'openid profile email groups offline_access');
    assert.equal(url.searchParams.get('state'), 'idport-auth-request-1');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.ok((url.searchParams.get('nonce') ?? '').length >= 32);
    assert.equal(url.searchParams.get('prompt'), 'consent'); // Dex's default promptType with offline access

    const identity = await connector.handleCallback(OFFLINE, connectorState, query);
    assert.deepEqual(
      { ...identity, connectorData: undefined },
      {
        userId: 'alice',
        username: 'Alice Liddell',
        preferredUsername: 'alice',
        email: 'alice@example.org',
        emailVerified: true,
        groups: ['admins', 'developers'],
        connectorData: undefined,
      },
    );
    const data = JSON.parse(new TextDecoder().decode(identity.connectorData)) as {
      RefreshToken: string;
      Subject: string;
    };
    assert.ok(Buffer.from(data.RefreshToken, 'base64').length > 0, 'the upstream refresh token is kept for refresh');
    assert.equal(data.Subject, 'alice');
  });

  test('logs in the upstream default account when the browser carries no choice', async (t) => {
    const connector = await openConnector(upstream);
    upstream.setDefaultAccount('carol');
    t.after(() => upstream.setDefaultAccount('alice'));
    const { url, connectorState } = await connector.loginUrl(OFFLINE, CALLBACK, 'st');
    const query = await followLogin(url, { callbackUrl: CALLBACK }); // a plain browser: no harness rewrite
    assert.equal((await connector.handleCallback(OFFLINE, connectorState, query)).userId, 'carol');
  });

  test('sends no prompt without offline access, and acr_values when configured', async () => {
    const connector = await openConnector(upstream, { acrValues: ['urn:mace:incommon:iap:silver', 'phr'] });
    const { url } = await connector.loginUrl(ONLINE, CALLBACK, 'st');
    assert.equal(url.includes('prompt='), false);
    assert.equal(new URL(url).searchParams.get('acr_values'), 'urn:mace:incommon:iap:silver phr');
  });

  test('reports no groups unless insecureEnableGroups is set, as Dex', async () => {
    const connector = await openConnector(upstream, { insecureEnableGroups: false });
    const identity = await login(connector, upstream, { account: 'alice' });
    assert.deepEqual(identity.groups, []);
  });

  test('refuses a callback URL other than the configured redirectURI', async () => {
    const connector = await openConnector(upstream);
    await assert.rejects(
      connector.loginUrl(OFFLINE, 'http://evil.example/callback', 'st'),
      refused(LOGIN_FAILED, /does not match redirectURI/),
    );
  });

  test('refuses a login through a connector configured for token exchange only (no clientID), as Dex allows that config', async () => {
    const connector = await openConnector(upstream, { clientID: undefined, redirectURI: undefined });
    await assert.rejects(connector.loginUrl(OFFLINE, CALLBACK, 'st'), refused(LOGIN_FAILED, /token exchange only/));
  });

  test('refuses an ID token signed by another key with the same key id', async (t) => {
    const connector = await openConnector(upstream);
    const forger = await generateSigningKey(String(upstream.signingKey.kid));
    upstream.tamperIdTokens({ signWith: forger.privateKey });
    t.after(() => upstream.tamperIdTokens(undefined));
    const { query, connectorState } = await upstreamLogin(connector, upstream);
    await assert.rejects(
      connector.handleCallback(OFFLINE, connectorState, query),
      refused(LOGIN_FAILED, /^login: .*signature verification failed/),
    );
  });

  test('refuses an ID token issued to another client (wrong audience)', async (t) => {
    const connector = await openConnector(upstream);
    upstream.tamperIdTokens({ claims: (claims) => ({ ...claims, aud: 'another-client' }) });
    t.after(() => upstream.tamperIdTokens(undefined));
    const { query, connectorState } = await upstreamLogin(connector, upstream);
    await assert.rejects(
      connector.handleCallback(OFFLINE, connectorState, query),
      refused(LOGIN_FAILED, /"aud" \(audience\) claim value/),
    );
  });

  test('refuses an ID token whose nonce belongs to another login', async (t) => {
    const connector = await openConnector(upstream);
    upstream.tamperIdTokens({ claims: (claims) => ({ ...claims, nonce: 'nonce-of-another-login' }) });
    t.after(() => upstream.tamperIdTokens(undefined));
    const { query, connectorState } = await upstreamLogin(connector, upstream);
    await assert.rejects(
      connector.handleCallback(OFFLINE, connectorState, query),
      refused(LOGIN_FAILED, /"nonce" claim value/),
    );
  });

  test('refuses an expired ID token', async (t) => {
    const connector = await openConnector(upstream);
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    upstream.tamperIdTokens({ claims: (claims) => ({ ...claims, iat: hourAgo - 60, exp: hourAgo }) });
    t.after(() => upstream.tamperIdTokens(undefined));
    const { query, connectorState } = await upstreamLogin(connector, upstream);
    await assert.rejects(
      connector.handleCallback(OFFLINE, connectorState, query),
      refused(LOGIN_FAILED, /"exp" \(expiration time\) claim value, expiration is past current timestamp/),
    );
  });

  test('refuses a callback whose state is not the one this login sent', async () => {
    const connector = await openConnector(upstream);
    const { query, connectorState } = await upstreamLogin(connector, upstream);
    const forged = new URLSearchParams(query);
    forged.set('state', 'state-of-another-login');
    await assert.rejects(
      connector.handleCallback(OFFLINE, connectorState, forged),
      refused(LOGIN_FAILED, /unexpected "state" response parameter value/),
    );
    forged.delete('state');
    await assert.rejects(
      connector.handleCallback(OFFLINE, connectorState, forged),
      refused(LOGIN_FAILED, /response parameter "state" missing/),
    );
    await assert.rejects(
      connector.handleCallback(OFFLINE, undefined, query),
      refused(LOGIN_FAILED, /no connector state/),
    );
  });

  test('refuses a code presented with another login’s PKCE verifier', async () => {
    const connector = await openConnector(upstream);
    const first = await upstreamLogin(connector, upstream, { state: 'same-state' });
    const second = await connector.loginUrl(OFFLINE, CALLBACK, 'same-state'); // same state, fresh nonce and verifier
    await assert.rejects(
      connector.handleCallback(OFFLINE, second.connectorState, first.query),
      refused(LOGIN_FAILED, /invalid_grant/),
    );
  });

  test('turns an upstream access_denied into a safe message, with the upstream error for the log', async () => {
    const connector = await openConnector(upstream);
    const { query, connectorState } = await upstreamLogin(connector, upstream, { deny: true });
    assert.equal(query.get('error'), 'access_denied');
    await assert.rejects(
      connector.handleCallback(OFFLINE, connectorState, query),
      refused(
        'The identity provider denied the login.',
        /^upstream returned error=access_denied: The user declined\.$/,
      ),
    );
  });

  test('turns other upstream callback errors into a generic message', async () => {
    const connector = await openConnector(upstream);
    const { connectorState } = await connector.loginUrl(OFFLINE, CALLBACK, 'st');
    const query = new URLSearchParams({
      error: 'server_error',
      error_description: 'database on fire',
      state: 'st',
      iss: upstream.issuer,
    });
    await assert.rejects(
      connector.handleCallback(OFFLINE, connectorState, query),
      refused(
        'The identity provider could not complete the login.',
        /^upstream returned error=server_error: database on fire$/,
      ),
    );
  });

  test('reports a token endpoint failure (a wrong client secret) as a failed login', async () => {
    const connector = await openConnector({ ...upstream, clientSecret: 'not-the-secret' });
    const { query, connectorState } = await upstreamLogin(connector, upstream);
    await assert.rejects(
      connector.handleCallback(OFFLINE, connectorState, query),
      refused(LOGIN_FAILED, /^login: upstream answered HTTP 401 invalid_client/),
    );
  });

  test('refuses email_verified: false, and lets it in (still unverified) with insecureSkipEmailVerified', async () => {
    const strict = await openConnector(upstream);
    await assert.rejects(
      login(strict, upstream, { account: 'bob' }),
      refused('Your email address is not verified at the identity provider.', /email_verified: false/),
    );

    const lenient = await openConnector(upstream, { insecureSkipEmailVerified: true });
    const identity = await login(lenient, upstream, { account: 'bob' });
    assert.equal(identity.email, 'bob@example.org');
    assert.equal(identity.emailVerified, false);
  });

  test('refuses a missing email_verified when email is requested, and counts it verified with insecureSkipEmailVerified, as Dex', async () => {
    const strict = await openConnector(upstream);
    await assert.rejects(
      login(strict, upstream, { account: 'dave' }),
      refused('Your email address is not verified at the identity provider.', /no boolean "email_verified"/),
    );

    const lenient = await openConnector(upstream, { insecureSkipEmailVerified: true });
    const identity = await login(lenient, upstream, { account: 'dave' });
    assert.equal(identity.emailVerified, true);
  });

  test('keeps only allowedGroups and refuses a user in none of them', async () => {
    const connector = await openConnector(upstream, { allowedGroups: ['admins', 'auditors'] });
    const alice = await login(connector, upstream, { account: 'alice' });
    assert.deepEqual(alice.groups, ['admins']);
    await assert.rejects(
      login(connector, upstream, { account: 'carol' }),
      refused(
        'You are not a member of a group that is allowed to log in here.',
        /not a member of any of allowedGroups \(admins, auditors\)/,
      ),
    );
  });

  test('maps claims with claimMapping, overrideClaimMapping, userIDKey and userNameKey', async () => {
    const fallback = await openConnector(upstream, {
      claimMapping: { preferred_username: 'nickname', email: 'mail', groups: 'roles' },
    });
    const carol = await login(fallback, upstream, { account: 'carol' });
    // Without overrideClaimMapping the standard claims win where present (email, groups); the mapping fills the gap.
    assert.equal(carol.preferredUsername, 'caz');
    assert.equal(carol.email, 'carol@example.org');
    assert.deepEqual(carol.groups, ['sales']);

    const override = await openConnector(upstream, {
      claimMapping: { preferred_username: 'nickname', email: 'mail', groups: 'roles' },
      overrideClaimMapping: true,
      userIDKey: 'employee_id',
      userNameKey: 'nickname',
      claimModifications: {
        modifyGroupNames: { prefix: 'corp:' },
        newGroupFromClaims: [{ claims: ['employee_id', 'nickname'], delimiter: '/', prefix: 'person' }],
      },
    });
    const mapped = await login(override, upstream, { account: 'carol' });
    assert.deepEqual(
      { ...mapped, connectorData: undefined },
      {
        userId: 'E-1042',
        username: 'caz',
        preferredUsername: 'caz',
        email: 'carol@corp.example',
        emailVerified: true,
        groups: ['corp:seller', 'corp:lead', 'person/E-1042/caz'],
        connectorData: undefined,
      },
    );
  });

  test('merges userinfo over the ID token claims with getUserInfo', async () => {
    const thin = await openConnector(upstream, { userNameKey: 'department' });
    await assert.rejects(
      login(thin, upstream, { account: 'carol' }),
      refused(
        'The identity provider did not send the information needed to log you in.',
        /no string "department" \(userNameKey\)/,
      ),
    );

    const merged = await openConnector(upstream, { getUserInfo: true });
    const carol = await login(merged, upstream, { account: 'carol' });
    assert.equal(carol.username, 'Carol (from userinfo)'); // userinfo wins over the ID token, as in Dex
    const byDepartment = await openConnector(upstream, { getUserInfo: true, userNameKey: 'department' });
    assert.equal((await login(byDepartment, upstream, { account: 'carol' })).username, 'Sales');
  });

  test('refreshes through the upstream, sees claim changes, and fails once the upstream revoked the grant', async (t) => {
    const connector = await openConnector(upstream);
    const first = await login(connector, upstream, { account: 'alice' });

    upstream.setAccount({ ...ALICE, name: 'Alice Pleasance Liddell', groups: ['developers'] });
    t.after(() => upstream.setAccount(ALICE));
    const refreshed = await connector.refresh(OFFLINE, first);
    assert.equal(refreshed.username, 'Alice Pleasance Liddell');
    assert.deepEqual(refreshed.groups, ['developers']);
    assert.notDeepEqual(refreshed.connectorData, first.connectorData, 'the rotated upstream refresh token is kept');

    // The rotated-away token is dead upstream (oidc-provider revokes the grant on reuse), so use the current one.
    const again = await connector.refresh(OFFLINE, refreshed);
    assert.equal(again.userId, 'alice');

    assert.ok((await upstream.revokeGrants('alice')) > 0);
    await assert.rejects(
      connector.refresh(OFFLINE, again),
      refused(
        'Your session at the identity provider has ended. Please log in again.',
        /^refresh: upstream answered HTTP 400 invalid_grant/,
      ),
    );
  });

  test('re-reads the user from userinfo when a refresh brings no new ID token', async (t) => {
    const connector = await openConnector(upstream);
    const identity = await login(connector, upstream, { account: 'alice' });
    upstream.tamperIdTokens({ drop: true, grantType: 'refresh_token' });
    t.after(() => upstream.tamperIdTokens(undefined));
    // Only userinfo says this name, so it shows which source the refresh read.
    upstream.setAccount({ ...ALICE, groups: ['admins'], userinfoOnly: { name: 'Alice via userinfo' } });
    t.after(() => upstream.setAccount(ALICE));
    const refreshed = await connector.refresh(OFFLINE, identity);
    assert.equal(refreshed.username, 'Alice via userinfo');
    assert.deepEqual(refreshed.groups, ['admins']);
  });

  test('refuses a refresh when the user is no longer in allowedGroups', async (t) => {
    const connector = await openConnector(upstream, { allowedGroups: ['admins'] });
    const identity = await login(connector, upstream, { account: 'alice' });
    upstream.setAccount({ ...ALICE, groups: ['developers'] });
    t.after(() => upstream.setAccount(ALICE));
    await assert.rejects(
      connector.refresh(OFFLINE, identity),
      refused('You are not a member of a group that is allowed to log in here.', /allowedGroups/),
    );
  });

  test('refuses a refresh without an upstream refresh token', async () => {
    const connector = await openConnector(upstream, { scopes: ['profile', 'email'] }); // no offline_access upstream
    const deps = testDeps();
    const logged = await openConnector(upstream, { scopes: ['profile', 'email'] }, deps);
    const identity = await login(connector, upstream, { account: 'alice' });
    await assert.rejects(
      connector.refresh(OFFLINE, identity),
      refused('Your session at the identity provider has ended. Please log in again.', /issued no refresh token/),
    );
    await login(logged, upstream, { account: 'alice' });
    assert.ok(deps.lines.some((l) => String(l.msg).includes('add offline_access to the connector scopes')));
  });

  test('accepts ID tokens naming issuerAlias when the upstream calls itself by another name', async () => {
    const aliased = await startUpstreamOp({
      redirectUris: [CALLBACK],
      accounts: [ALICE],
      issuer: (port) => `http://localhost:${port}`,
    });
    after(() => aliased.close());
    // Reached at 127.0.0.1, the upstream's discovery document and tokens say localhost.
    const plain = await openConnector({ ...aliased, issuer: aliased.url });
    await assert.rejects(plain.loginUrl(OFFLINE, CALLBACK, 'st'), ConnectorError);
    const connector = await openConnector({ ...aliased, issuer: aliased.url }, { issuerAlias: aliased.issuer });
    const identity = await login(connector, aliased, { account: 'alice' });
    assert.equal(identity.userId, 'alice');
  });

  test('sends the client secret in the form body with basicAuthUnsupported, in a Basic header otherwise', async () => {
    const seen: Array<{ basic: string | null; secretInBody: boolean }> = [];
    const recording: typeof fetch = (input, init) => {
      if (String(input).endsWith('/token')) {
        const authorization = new Headers(init?.headers).get('authorization');
        // RFC 6749 §2.3.1: id and secret are form-encoded before Base64.
        const basic = authorization?.startsWith('Basic ')
          ? Buffer.from(authorization.slice(6), 'base64').toString().split(':').map(decodeURIComponent).join(':')
          : null;
        seen.push({ basic, secretInBody: new URLSearchParams(String(init?.body)).has('client_secret') });
      }
      return fetch(input, init);
    };
    const basic = await openConnector(upstream, {}, testDeps(recording));
    await login(basic, upstream, { account: 'alice' });
    const post = await openConnector(upstream, { basicAuthUnsupported: true }, testDeps(recording));
    await login(post, upstream, { account: 'alice' });
    assert.deepEqual(seen, [
      { basic: `${upstream.clientId}:${upstream.clientSecret}`, secretInBody: false },
      { basic: null, secretInBody: true },
    ]);
  });
});

describe('oidc connector when the upstream is down', () => {
  test('opens at once, fails logins with a clear message, and logs in once the upstream is up', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const deps = testDeps();
    const connector = await openConnector(
      { issuer, clientId: 'idport', clientSecret: 'upstream-client-secret' },
      {},
      deps,
    );
    const unreachable = `The identity provider 127.0.0.1:${port} is not reachable. Please try again later.`;
    await assert.rejects(connector.loginUrl(OFFLINE, CALLBACK, 'st'), refused(unreachable, /not been discovered yet/));
    await assert.rejects(connector.handleCallback(OFFLINE, new Uint8Array(), new URLSearchParams()), ConnectorError);
    assert.ok(deps.lines.some((l) => l.msg === 'upstream not reachable; retrying' && l.level === 40));

    const upstream = await startUpstreamOp({ port, redirectUris: [CALLBACK], accounts: [ALICE] });
    after(() => upstream.close());
    // The background retry (10–50 ms here) or the next login's own attempt finds the upstream.
    let url: string | undefined;
    for (let i = 0; url === undefined && i < 200; i += 1) {
      url = await connector.loginUrl(OFFLINE, CALLBACK, 'st').then(
        (r) => r.url,
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          return undefined;
        },
      );
    }
    assert.ok(url?.startsWith(`${issuer}/auth?`), 'logins work once the upstream answers');
    assert.equal((await login(connector, upstream, { account: 'alice' })).userId, 'alice');
  });

  test('does not hold a login longer than maxWaitMs for an upstream that never answers, and aborts it on close()', async () => {
    let aborted = false;
    const silent: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => {
          aborted = true;
          reject(init.signal?.reason);
        });
      });
    const connector = await openConnector(
      { issuer: 'http://upstream.invalid', clientId: 'c', clientSecret: 's' },
      {},
      testDeps(silent),
      FAST_RETRY,
    );
    const started = Date.now();
    await assert.rejects(
      connector.loginUrl(OFFLINE, CALLBACK, 'st'),
      refused(
        'The identity provider upstream.invalid is not reachable. Please try again later.',
        /not been discovered yet/,
      ),
    );
    const waited = Date.now() - started;
    assert.ok(waited >= 150 && waited < 2_000, `waited ${waited} ms for a 200 ms maxWaitMs`);
    assert.equal(aborted, false, 'the attempt carries on in the background');
    await connector.close();
    assert.equal(aborted, true, 'close() aborts the request in flight');
  });

  test('stops retrying after close()', async () => {
    const port = await freePort();
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls += 1;
      return fetch(input, init);
    };
    const connector = await openConnector(
      { issuer: `http://127.0.0.1:${port}`, clientId: 'c', clientSecret: 's' },
      {},
      testDeps(counting),
    );
    await assert.rejects(connector.loginUrl(OFFLINE, CALLBACK, 'st'), ConnectorError);
    assert.ok(calls >= 1, 'discovery goes through the injected fetch');
    await connector.close();
    const afterClose = calls;
    await new Promise((resolve) => setTimeout(resolve, 120)); // longer than the 50 ms retry cap
    assert.equal(calls, afterClose);
    await assert.rejects(connector.loginUrl(OFFLINE, CALLBACK, 'st'), ConnectorError);
  });
});

describe('oidc connector over https', () => {
  const run = promisify(execFile);
  let dir: string;
  let upstream: UpstreamOp;
  let caPem: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idport-oidc-tls-'));
    const [caKey, caCert, key, csr, cert, ext] = ['ca.key', 'ca.pem', 'op.key', 'op.csr', 'op.pem', 'op.ext'].map((f) =>
      join(dir, f),
    ) as [string, string, string, string, string, string];
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      caCert,
      '-days',
      '1',
      '-subj',
      '/CN=idport test CA',
    ]);
    await run('openssl', [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      '/CN=127.0.0.1',
    ]);
    await writeFile(ext, 'subjectAltName=IP:127.0.0.1\n');
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '1',
      '-extfile',
      ext,
    ]);
    caPem = await readFile(caCert, 'utf8');
    upstream = await startUpstreamOp({
      redirectUris: [CALLBACK],
      accounts: [ALICE],
      tls: { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') },
    });
  });
  after(async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });
  // The test's "browser" trusts the test CA, as a user's browser trusts the upstream's real one.
  const browser = () => upstreamFetch(fetch, { ca: [caPem], rejectUnauthorized: true }, new AbortController().signal);

  test('trusts the upstream through rootCAs (PEM, base64 or a file) and not otherwise', async () => {
    const untrusted = await openConnector(upstream);
    await assert.rejects(untrusted.loginUrl(OFFLINE, CALLBACK, 'st'), /not been discovered yet/);
    for (const ca of [caPem, Buffer.from(caPem).toString('base64'), join(dir, 'ca.pem')]) {
      const connector = await openConnector(upstream, { rootCAs: [ca] });
      assert.equal((await login(connector, upstream, { account: 'alice', fetch: browser() })).userId, 'alice');
    }
  });

  test('skips certificate checks with insecureSkipVerify', async () => {
    const connector = await openConnector(upstream, { insecureSkipVerify: true });
    assert.equal((await login(connector, upstream, { account: 'alice', fetch: browser() })).userId, 'alice');
  });
});

describe('oidc connector config', () => {
  const base = {
    issuer: 'https://accounts.example.com',
    clientID: 'idport',
    clientSecret: 's',
    redirectURI: 'https://idport.example.com/dex/callback',
  };

  test('accepts a Dex oidc config unchanged and fills in Dex’s defaults', () => {
    const config = configSchema.parse({
      ...base,
      issuerAlias: '',
      providerDiscoveryOverrides: { tokenURL: 'https://accounts.example.com/oauth/token', authURL: '', jwksURL: '' },
      basicAuthUnsupported: true,
      scopes: ['profile', 'email', 'groups'],
      rootCAs: [],
      insecureSkipVerify: false,
      insecureSkipEmailVerified: false,
      insecureEnableGroups: true,
      allowedGroups: ['admins'],
      acrValues: ['phr'],
      getUserInfo: true,
      userIDKey: 'email',
      userNameKey: 'preferred_username',
      promptType: 'login',
      pkceChallenge: 'S256',
      overrideClaimMapping: true,
      claimMapping: { preferred_username: 'other_user_name', email: 'mail', groups: 'roles' },
      claimModifications: {
        newGroupFromClaims: [{ claims: ['org', 'team'], delimiter: ':', clearDelimiter: true, prefix: 'gh' }],
        filterGroupClaims: { groupsFilter: '^team-' },
        modifyGroupNames: { prefix: 'x-', suffix: '' },
      },
    });
    assert.equal(config.providerDiscoveryOverrides.tokenURL, 'https://accounts.example.com/oauth/token');
    const defaults = configSchema.parse(base);
    assert.deepEqual(
      {
        scopes: defaults.scopes,
        promptType: defaults.promptType,
        pkceChallenge: defaults.pkceChallenge,
        insecureEnableGroups: defaults.insecureEnableGroups,
        claimMapping: defaults.claimMapping,
        basicAuthUnsupported: defaults.basicAuthUnsupported,
      },
      {
        scopes: [],
        promptType: undefined,
        pkceChallenge: '',
        insecureEnableGroups: false,
        claimMapping: { preferred_username: '', email: '', groups: '' },
        basicAuthUnsupported: undefined,
      },
    );
  });

  test('rejects unknown keys, the removed hostedDomains, a bad groupsFilter, and allowedGroups that would be ignored', () => {
    const issues = (config: Record<string, unknown>): string[] => {
      const result = configSchema.safeParse({ ...base, ...config });
      assert.equal(result.success, false);
      return result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    };
    assert.match(issues({ clientSceret: 'typo' }).join('\n'), /clientSceret/);
    assert.deepEqual(issues({ hostedDomains: ['example.com'] }), [
      'hostedDomains: support for hostedDomains was removed from the oidc connector (as in Dex); use the google connector',
    ]);
    assert.match(
      issues({ claimModifications: { filterGroupClaims: { groupsFilter: '([' } } }).join('\n'),
      /^claimModifications\.filterGroupClaims\.groupsFilter: invalid regular expression/,
    );
    assert.deepEqual(issues({ allowedGroups: ['admins'] }), [
      'allowedGroups: allowedGroups needs insecureEnableGroups: true (without it Dex ignores allowedGroups and lets every user in)',
    ]);
  });
});

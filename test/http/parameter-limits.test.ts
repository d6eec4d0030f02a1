/**
 * Bounded anonymous storage (issue 10, item 1) through buildApp() + inject: every authorization and device parameter
 * has a length limit answered in the endpoint's own format, and a request nobody logged in to lives minutes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { PENDING_LOGIN_TTL_MS } from '../../src/oauth/authorize/flow.js';
import { DEVICE_CODE_GRANT } from '../../src/oauth/device/authorization.js';
import { MAX_SCOPES, PARAMETER_LIMITS } from '../../src/oauth/primitives/parameter-limits.js';
import { client, REDIRECT, testProvider, type TestProvider } from '../oauth/provider.js';

const branding = { issuerName: 'idport test', logoUrl: '', theme: 'light' };
const base = { client_id: 'web', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid' };
const auth = (params: Record<string, string>) => `/dex/auth?${new URLSearchParams({ ...base, ...params }).toString()}`;
const form = (values: Record<string, string>) => ({
  method: 'POST' as const,
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(values).toString(),
});

/** The error parameters of a redirect back to the client. */
const redirectedError = (location: string | undefined): Record<string, string> => {
  assert.ok(location?.startsWith(REDIRECT), `redirected to the client, not ${location}`);
  const { error, error_description, state } = Object.fromEntries(new URL(location ?? '').searchParams);
  return { error: error ?? '', error_description: error_description ?? '', state: state ?? '' };
};

describe('parameter limits at /auth', () => {
  let provider: TestProvider;
  let app: FastifyInstance;
  before(async () => {
    provider = await testProvider([client('web'), client('peer', { trustedPeers: ['web'] })]);
    app = await buildApp({ provider, branding });
  });
  after(() => app.close());

  it('stores a request with state, nonce and login_hint at their limits', async () => {
    const max = { state: 's'.repeat(1024), nonce: 'n'.repeat(1024), login_hint: 'h'.repeat(1024) };
    const response = await app.inject({ url: auth(max) });
    assert.equal(response.statusCode, 303);
    const id = new URL(String(response.headers.location), 'http://x').searchParams.get('req') ?? '';
    const stored = await provider.storage.authRequests.get(id);
    assert.deepEqual(
      { state: stored?.state, nonce: stored?.nonce, loginHint: stored?.loginHint },
      { state: max.state, nonce: max.nonce, loginHint: max.login_hint },
    );
  });

  it('answers a state, client_id or redirect_uri over its limit with an error page', async () => {
    for (const [name, value] of [
      ['state', 's'.repeat(1025)],
      ['client_id', 'c'.repeat(1025)],
      ['redirect_uri', `${REDIRECT}?${'x'.repeat(2048)}`],
    ] as const) {
      const response = await app.inject({ url: auth({ [name]: value }) });
      assert.equal(response.statusCode, 400, name);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      const limit = PARAMETER_LIMITS[name];
      assert.match(response.body, new RegExp(`the ${name} parameter is longer than ${limit} characters`));
    }
  });

  it('redirects invalid_request with the state for any other parameter over its limit', async () => {
    for (const [name, value] of [
      ['nonce', 'n'.repeat(1025)],
      ['login_hint', 'h'.repeat(1025)],
      ['prompt', 'login '.repeat(20)],
      ['scope', `openid ${'x'.repeat(2048)}`],
      ['id_token_hint', 'x'.repeat(16_385)],
      ['code_challenge', 'c'.repeat(129)],
    ] as const) {
      const response = await app.inject({ url: auth({ state: 'st', [name]: value }) });
      assert.equal(response.statusCode, 303, name);
      assert.deepEqual(redirectedError(response.headers.location), {
        error: 'invalid_request',
        error_description: `the ${name} parameter is longer than ${PARAMETER_LIMITS[name]} characters`,
        state: 'st',
      });
    }
  });

  it(`refuses more than ${MAX_SCOPES} scopes with invalid_scope`, async () => {
    const peers = (n: number) => Array.from({ length: n }, () => 'audience:server:client_id:peer');
    const many = ['openid', ...Array.from({ length: MAX_SCOPES }, (_, i) => `audience:server:client_id:p${i}`)];
    const response = await app.inject({ url: auth({ state: 'st', scope: many.join(' ') }) });
    assert.deepEqual(redirectedError(response.headers.location), {
      error: 'invalid_scope',
      error_description: `a request may name at most ${MAX_SCOPES} scopes`,
      state: 'st',
    });
    // Repeats collapse before counting, so a client naming a scope twice is not refused.
    const repeated = await app.inject({ url: auth({ scope: ['openid', ...peers(MAX_SCOPES)].join(' ') }) });
    assert.equal(repeated.statusCode, 303);
    assert.match(String(repeated.headers.location), /^\/dex\/auth\/test\?req=/);
  });
});

describe('pending authorization requests', () => {
  let provider: TestProvider;
  let app: FastifyInstance;
  before(async () => {
    // A 24 h expiry.authRequests, as Dex's default: the pending lifetime is still minutes.
    provider = await testProvider([client('web')], { authRequestTtlMs: 24 * 3600_000 });
    app = await buildApp({ provider, branding });
  });
  after(() => app.close());

  /** Starts a request in a fresh browser: its id and the browser cookie. */
  const start = async (): Promise<{ id: string; cookie: string }> => {
    const response = await app.inject({ url: auth({ state: 'st' }) });
    const id = new URL(String(response.headers.location), 'http://x').searchParams.get('req') ?? '';
    const cookie = String(response.headers['set-cookie']).split(';')[0] ?? '';
    return { id, cookie };
  };

  it('lives 10 minutes while nobody logs in, and is refused after', async () => {
    const { id, cookie } = await start();
    const stored = await provider.storage.authRequests.get(id);
    assert.equal(stored?.expiry.getTime(), provider.clock.now().getTime() + PENDING_LOGIN_TTL_MS);
    provider.clock.advance(PENDING_LOGIN_TTL_MS);
    const late = await app.inject({ url: `/dex/auth/test/login?state=${id}`, headers: { cookie } });
    assert.equal(late.statusCode, 400);
    assert.match(late.body, /This login request is invalid or has expired/);
    const removed = await provider.storage.garbageCollect(new Date(provider.clock.now().getTime() + 1));
    assert.ok(removed.authRequests >= 1, 'garbage collection removes it');
  });

  it('gives a user who logs in late in the pending lifetime time for the approval page', async () => {
    const { id, cookie } = await start();
    provider.clock.advance(PENDING_LOGIN_TTL_MS - 1000);
    const chosen = await app.inject({ url: `/dex/auth/test?req=${id}`, headers: { cookie } });
    assert.equal(chosen.statusCode, 303);
    const page = await app.inject({ url: `/dex/auth/test/login?state=${id}`, headers: { cookie } });
    assert.equal(page.statusCode, 200, page.body);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const login = await app.inject({
      url: `/dex/auth/test/login?state=${id}`,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      method: 'POST',
      payload: new URLSearchParams({ csrf, login: 'alice', password: 'pw' }).toString(),
    });
    assert.equal(login.statusCode, 303);
    const stored = await provider.storage.authRequests.get(id);
    assert.equal(stored?.expiry.getTime(), provider.clock.now().getTime() + PENDING_LOGIN_TTL_MS);
    provider.clock.advance(PENDING_LOGIN_TTL_MS - 1000);
    const approval = await app.inject({ url: `/dex/approval?req=${id}`, headers: { cookie } });
    assert.equal(approval.statusCode, 200);
  });
});

describe('parameter limits at /device/code', () => {
  let app: FastifyInstance;
  before(async () => {
    const provider = await testProvider([client('cli', { public: true, secret: '', redirectURIs: [] })], {
      grantTypes: ['authorization_code', DEVICE_CODE_GRANT],
    });
    app = await buildApp({ provider, branding });
  });
  after(() => app.close());

  it('answers a parameter over its limit with invalid_request JSON, and accepts one at its limit', async () => {
    const over = await app.inject({
      url: '/dex/device/code',
      ...form({ client_id: 'cli', scope: `openid ${'x'.repeat(2048)}` }),
    });
    assert.equal(over.statusCode, 400);
    assert.deepEqual(over.json(), {
      error: 'invalid_request',
      error_description: 'the scope parameter is longer than 2048 characters',
    });
    const challenge = 'c'.repeat(128);
    const ok = await app.inject({
      url: '/dex/device/code',
      ...form({ client_id: 'cli', scope: 'openid', code_challenge: challenge, code_challenge_method: 'plain' }),
    });
    assert.equal(ok.statusCode, 200);
    assert.match((ok.json() as { user_code: string }).user_code, /^[A-Z]{4}-[A-Z]{4}$/);
  });
});

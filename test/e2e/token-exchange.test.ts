/**
 * Token exchange (RFC 8693) end to end, as Dex serves it: idport started from a config without oauth2.grantTypes
 * (Dex's defaults), its `oidc` connectors in front of an independent OpenID provider (panva's oidc-provider). A CI
 * job logs in at the upstream as its own client and trades the upstream's tokens for idport's.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { startFromConfig, type ConfigServer } from '../support/config-server.js';
import { generateSigningKey, startUpstreamOp, type UpstreamOp } from '../support/upstream-op.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
/** The CI job's own client at the upstream: the tokens it trades were issued to it, not to idport. */
const CI = { id: 'ci-job', secret: 'ci-job-secret', redirect: 'http://127.0.0.1:9/ci-callback' };
/** Dex's `sub` for (alice-upstream-id, upstream) and (…, userinfo), worked out by hand from the protobuf. */
const SUB_UPSTREAM = 'ChFhbGljZS11cHN0cmVhbS1pZBIIdXBzdHJlYW0';
const SUB_USERINFO = 'ChFhbGljZS11cHN0cmVhbS1pZBIIdXNlcmluZm8';

const config = (upstream: string): string => `issuer: http://127.0.0.1:{{PORT}}/dex
storage: { type: memory }
web: { http: '127.0.0.1:{{PORT}}' }
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['http://127.0.0.1:5555/callback']
- id: cli
  name: CLI
  public: true
  redirectURIs: ['http://127.0.0.1:5555/callback']
connectors:
- type: oidc
  id: upstream
  name: Upstream (ID tokens)
  config: { issuer: '${upstream}', scopes: [profile, email, groups], insecureEnableGroups: true }
- type: oidc
  id: userinfo
  name: Upstream (access tokens too)
  config: { issuer: '${upstream}', scopes: [profile, email], getUserInfo: true }
`;

interface Exchanged {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

/** One POST to idport's /token as `app` (or the credentials given), with client_secret_basic. */
const exchange = async (
  idport: ConfigServer,
  form: Record<string, string>,
  credentials = { id: 'app', secret: 'app-secret' },
): Promise<Exchanged> => {
  const response = await fetch(`${idport.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${credentials.id}:${credentials.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: GRANT, ...form }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
};

const assertDenied = (response: Exchanged): void =>
  assert.deepEqual(
    { status: response.status, body: response.body },
    { status: 401, body: { error: 'access_denied', error_description: 'the subject token was not accepted' } },
  );

/**
 * The CI job's login at the upstream (code flow with PKCE, the interaction answered by the harness), with the token
 * response read raw: the job's own client library would refuse an ID token the tests have the upstream tamper with.
 */
const upstreamTokens = async (upstream: UpstreamOp): Promise<{ id_token: string; access_token: string }> => {
  const verifier = 'v'.repeat(43);
  const auth = new URL('/auth', upstream.url);
  auth.search = new URLSearchParams({
    client_id: CI.id,
    response_type: 'code',
    redirect_uri: CI.redirect,
    scope: 'openid profile email groups',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'ci-state',
    nonce: 'ci-nonce',
  }).toString();
  const query = await upstream.followLogin(auth, { callbackUrl: CI.redirect, account: 'alice-upstream-id' });
  const response = await fetch(new URL('/token', upstream.url), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CI.id}:${CI.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: query.get('code') ?? '',
      redirect_uri: CI.redirect,
      code_verifier: verifier,
    }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.ok(typeof body.id_token === 'string' && typeof body.access_token === 'string');
  return { id_token: body.id_token, access_token: body.access_token };
};

describe('token exchange with an upstream OpenID provider', () => {
  let upstream: UpstreamOp;
  let idport: ConfigServer;
  let tokens: { id_token: string; access_token: string };
  let verify: (token: string) => ReturnType<typeof jwtVerify>;

  before(async () => {
    upstream = await startUpstreamOp({
      accounts: [
        {
          sub: 'alice-upstream-id',
          name: 'Alice Liddell',
          preferred_username: 'alice',
          email: 'alice@example.net',
          email_verified: true,
          groups: ['wonderland', 'ci'],
        },
      ],
      clients: [{ clientId: CI.id, clientSecret: CI.secret, redirectUris: [CI.redirect] }],
    });
    idport = await startFromConfig(config(upstream.issuer));
    tokens = await upstreamTokens(upstream);
    const keys = createRemoteJWKSet(new URL(`${idport.issuer}/keys`));
    verify = (token) => jwtVerify(token, keys, { issuer: idport.issuer, audience: 'app' });
  });
  after(async () => {
    await idport?.close();
    await upstream?.close();
  });

  it("is advertised in discovery under Dex's default grant types", async () => {
    const discovery = (await (await fetch(`${idport.issuer}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[];
    };
    assert.ok(discovery.grant_types_supported.includes(GRANT), JSON.stringify(discovery.grant_types_supported));
  });

  it("exchanges an upstream ID token issued to another client for an idport ID token, Dex's sub included", async () => {
    assert.equal(decodeJwt(tokens.id_token).aud, CI.id, 'the upstream issued it to the CI job, not to idport');
    const response = await exchange(idport, {
      connector_id: 'upstream',
      subject_token: tokens.id_token,
      subject_token_type: ID_TOKEN,
      requested_token_type: ID_TOKEN,
      scope: 'openid email groups profile',
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.issued_token_type, ID_TOKEN);
    assert.equal(response.body.token_type, 'Bearer');
    assert.equal(response.body.refresh_token, undefined);
    const token = String(response.body.access_token);
    const { payload, protectedHeader } = await verify(token);
    assert.equal(protectedHeader.typ, 'JWT');
    assert.equal(payload.sub, SUB_UPSTREAM);
    assert.equal(payload.sub, encodeSubject('alice-upstream-id', 'upstream'));
    assert.equal(payload.email, 'alice@example.net');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.name, 'Alice Liddell');
    assert.equal(payload.preferred_username, 'alice');
    assert.deepEqual(payload.groups, ['wonderland', 'ci']);
  });

  it('exchanges an upstream ID token for an idport access token by default', async () => {
    const response = await exchange(idport, {
      connector_id: 'upstream',
      subject_token: tokens.id_token,
      subject_token_type: ID_TOKEN,
      scope: 'openid groups',
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.issued_token_type, ACCESS_TOKEN);
    const { payload, protectedHeader } = await verify(String(response.body.access_token));
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.sub, SUB_UPSTREAM);
    assert.equal(payload.client_id, 'app');
    assert.deepEqual(payload.groups, ['wonderland', 'ci']);
  });

  it('exchanges an upstream access token through userinfo when the connector sets getUserInfo', async () => {
    const response = await exchange(idport, {
      connector_id: 'userinfo',
      subject_token: tokens.access_token,
      subject_token_type: ACCESS_TOKEN,
      scope: 'openid email',
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const { payload } = await verify(String(response.body.access_token));
    assert.equal(payload.sub, SUB_USERINFO);
    assert.equal(payload.email, 'alice@example.net');
  });

  it('refuses an upstream access token at a connector without getUserInfo, and a made-up one with it', async () => {
    const form = { subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN };
    assertDenied(await exchange(idport, { ...form, connector_id: 'upstream' }));
    assertDenied(await exchange(idport, { ...form, connector_id: 'userinfo', subject_token: 'made-up-token' }));
  });

  it('never sends an ID token to userinfo: with getUserInfo its verified claims are the user', async () => {
    // The upstream would refuse the ID token as a bearer token, so sending it there (Dex does) fails the exchange.
    const asBearer = await fetch(new URL('/me', upstream.url), {
      headers: { authorization: `Bearer ${tokens.id_token}` },
    });
    assert.equal(asBearer.status, 401);
    await asBearer.body?.cancel();
    const response = await exchange(idport, {
      connector_id: 'userinfo',
      subject_token: tokens.id_token,
      subject_token_type: ID_TOKEN,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal((await verify(String(response.body.access_token))).payload.sub, SUB_USERINFO);
  });

  it('refuses an ID token signed by another key, even under the upstream key id', async () => {
    const claims = decodeJwt(tokens.id_token);
    const forger = await generateSigningKey(String(decodeProtectedHeader(tokens.id_token).kid));
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: String(decodeProtectedHeader(tokens.id_token).kid) })
      .sign(forger.privateKey);
    assertDenied(
      await exchange(idport, { connector_id: 'upstream', subject_token: forged, subject_token_type: ID_TOKEN }),
    );
  });

  it('refuses an unsigned ID token (alg none)', async () => {
    const unsigned = new UnsecuredJWT(decodeJwt(tokens.id_token)).encode();
    assert.equal(decodeProtectedHeader(unsigned).alg, 'none');
    assertDenied(
      await exchange(idport, { connector_id: 'upstream', subject_token: unsigned, subject_token_type: ID_TOKEN }),
    );
  });

  /** An ID token the upstream really signed, with `change` applied to its claims. */
  const upstreamSigned = async (change: Record<string, unknown>): Promise<string> => {
    upstream.tamperIdTokens({ claims: (claims) => ({ ...claims, ...change }) });
    try {
      const signed = (await upstreamTokens(upstream)).id_token;
      assert.equal(decodeProtectedHeader(signed).kid, decodeProtectedHeader(tokens.id_token).kid);
      return signed;
    } finally {
      upstream.tamperIdTokens(undefined);
    }
  };
  const exchangeIdToken = (token: string): Promise<Exchanged> =>
    exchange(idport, { connector_id: 'upstream', subject_token: token, subject_token_type: ID_TOKEN });

  it('refuses an expired ID token and one naming another issuer, though the upstream signed both', async () => {
    const now = Math.floor(Date.now() / 1000);
    // An hour ago, and a minute ago: go-oidc allows no leeway on exp, so neither does idport.
    assertDenied(await exchangeIdToken(await upstreamSigned({ iat: now - 7200, exp: now - 3600 })));
    assertDenied(await exchangeIdToken(await upstreamSigned({ exp: now - 60 })));
    assertDenied(await exchangeIdToken(await upstreamSigned({ iss: 'https://elsewhere.example' })));
  });

  it("allows go-oidc's five minutes of clock skew on nbf, and not more", async () => {
    const now = Math.floor(Date.now() / 1000);
    const skewed = await exchangeIdToken(await upstreamSigned({ nbf: now + 120 }));
    assert.equal(skewed.status, 200, JSON.stringify(skewed.body));
    assertDenied(await exchangeIdToken(await upstreamSigned({ nbf: now + 900 })));
  });

  it('refuses a public client and a wrong client secret before looking at the subject token', async () => {
    const form = { connector_id: 'upstream', subject_token: tokens.id_token, subject_token_type: ID_TOKEN };
    const publicClient = await fetch(`${idport.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: GRANT, client_id: 'cli', ...form }),
    });
    assert.equal(publicClient.status, 400);
    assert.deepEqual(await publicClient.json(), {
      error: 'unauthorized_client',
      error_description: 'Public clients cannot use token exchange.',
    });
    const wrong = await exchange(idport, form, { id: 'app', secret: 'wrong' });
    assert.deepEqual(
      { status: wrong.status, body: wrong.body },
      { status: 401, body: { error: 'invalid_client', error_description: 'invalid client credentials' } },
    );
  });
});

/**
 * Token exchange (RFC 8693) at /token as Dex v2.45.1 serves it, through inject(): client authentication, Dex's order
 * of checks with its exact error codes, the one issued token (ID or access) and its claims, discovery and the
 * grant-type gate. The real upstream (an oidc connector in front of oidc-provider) is in test/e2e/token-exchange.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { pino } from 'pino';
import {
  ConnectorError,
  type CallbackConnector,
  type ConnectorDeps,
  type TokenExchanging,
} from '../../connectors/connector.js';
import { MOCK_USER_ID, mockCallback, mockPassword } from '../../connectors/mock/mock.js';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { callUserinfo, credentialsOf, postToken, str, type JsonResponse } from '../e2e/helpers.js';
import { confidentialClient, publicClient, startIdport, type TestIdport } from '../support/idport.js';
import { countSignatures } from '../support/signatures.js';
import { testFetch } from '../support/in-process.js';
import { testSettings } from '../support/settings.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const APP = credentialsOf('app');
/** Dex's `sub` for the mock user on connector `mock`, worked out by hand from the protobuf {1: user, 2: connector}. */
const MOCK_SUB = 'Cg0wLTM4NS0yODA4OS0wEgRtb2Nr';

const deps: ConnectorDeps = { log: pino({ level: 'silent' }), fetch, now: () => new Date() };

/** A connector whose upstream accepts exactly the token `good`, and is down for the token `down`. */
const strictConnector: CallbackConnector & TokenExchanging = {
  kind: 'callback',
  loginUrl: async () => ({ url: 'http://upstream.invalid/auth' }),
  handleCallback: async () => {
    throw new ConnectorError('no logins here');
  },
  tokenIdentity: async (tokenType, token) => {
    if (token === 'down') throw new ConnectorError('upstream unreachable', 'Try later.', { temporary: true });
    if (token !== 'good' || tokenType !== 'id_token') throw new ConnectorError('signature invalid');
    return { userId: 'ci-job', username: 'CI job', emailVerified: false, groups: ['ci'] };
  },
};

const exchange = (extra: Record<string, string> = {}): Record<string, string> => ({
  grant_type: GRANT,
  connector_id: 'mock',
  subject_token: 'any token: the mock accepts every one, as in Dex',
  subject_token_type: ID_TOKEN,
  ...extra,
});

const assertExchangeError = (response: JsonResponse, status: number, error: string, description: string): void => {
  assert.deepEqual(
    { status: response.status, body: response.body },
    { status, body: { error, error_description: description } },
  );
  assert.equal(response.headers.get('cache-control'), 'no-store');
};

const exchangeGrantTypes = testSettings('http://idport.test/dex', { yaml: 'oauth2: {}\n' }).grantTypes;

describe('token exchange at /token', () => {
  let idport: TestIdport;
  let verify: (token: string, typ: string) => Promise<JWTPayload>;
  before(async () => {
    idport = await startIdport({
      inProcess: true,
      clients: [
        confidentialClient('app', []),
        confidentialClient('api', [], { trustedPeers: ['app'] }),
        confidentialClient('other', []),
        publicClient('cli', ['http://127.0.0.1/callback']),
      ],
      connectors: [
        { id: 'mock', type: 'mockCallback', name: 'Mock', connector: await mockCallback.open('mock', {}, deps) },
        {
          id: 'pw',
          type: 'mockPassword',
          name: 'Password',
          connector: await mockPassword.open('pw', { username: 'u', password: 'p' }, deps),
        },
        { id: 'strict', type: 'oidc', name: 'Strict', connector: strictConnector },
      ],
      // Dex's default list, as a config without oauth2.grantTypes gets it.
      settings: { grantTypes: exchangeGrantTypes },
    });
    const jwks = (await (await testFetch(`${idport.issuer}/keys`)).json()) as JSONWebKeySet;
    const keys = createLocalJWKSet(jwks);
    verify = async (token, typ) => {
      assert.equal(decodeProtectedHeader(token).typ, typ);
      return (await jwtVerify(token, keys, { issuer: idport.issuer })).payload;
    };
  });
  after(async () => idport.close());

  it("is in Dex's default grant types and advertised in discovery", async () => {
    assert.ok(exchangeGrantTypes.includes(GRANT), JSON.stringify(exchangeGrantTypes));
    const discovery = (await (await testFetch(`${idport.issuer}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[];
    };
    assert.ok(discovery.grant_types_supported.includes(GRANT), JSON.stringify(discovery.grant_types_supported));
  });

  it('issues an access token by default: one token in access_token, its type, no refresh or ID token', async () => {
    const signatures = countSignatures(idport.provider);
    const response = await postToken(idport, exchange({ scope: 'openid email groups' }), APP).finally(signatures.stop);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(signatures.byType(), { 'at+jwt': 1 }, 'only the token handed out is signed');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(response.body).sort(), [
      'access_token',
      'expires_in',
      'issued_token_type',
      'token_type',
    ]);
    assert.equal(response.body.issued_token_type, ACCESS_TOKEN);
    assert.equal(response.body.token_type, 'Bearer');
    assert.equal(response.body.expires_in, 24 * 3600);
    const claims = await verify(str(response.body, 'access_token'), 'at+jwt');
    assert.equal(claims.sub, MOCK_SUB);
    assert.equal(claims.sub, encodeSubject(MOCK_USER_ID, 'mock'));
    assert.equal(claims.aud, 'app');
    assert.equal(claims.client_id, 'app');
    assert.equal(claims.scope, 'openid email groups');
    assert.equal(claims.email, 'kilgore@kilgore.trout');
    assert.deepEqual(claims.groups, ['authors']);
    assert.equal(claims.gid, undefined, 'no grant to revoke: the token lives out its lifetime');
    const userinfo = await callUserinfo(idport, str(response.body, 'access_token'));
    assert.equal(userinfo.status, 200);
    assert.equal(userinfo.body.sub, MOCK_SUB);
    assert.equal(userinfo.body.email, 'kilgore@kilgore.trout');
  });

  it('issues an ID token when asked, with the claims its scopes release, no at_hash and no nonce', async () => {
    const signatures = countSignatures(idport.provider);
    const response = await postToken(
      idport,
      exchange({ requested_token_type: ID_TOKEN, scope: 'openid profile federated:id', nonce: 'n-1' }),
      APP,
    ).finally(signatures.stop);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(signatures.byType(), { JWT: 1 }, 'only the token handed out is signed');
    assert.equal(response.body.issued_token_type, ID_TOKEN);
    assert.equal(response.body.id_token, undefined);
    const claims = await verify(str(response.body, 'access_token'), 'JWT');
    assert.equal(claims.sub, MOCK_SUB);
    assert.equal(claims.aud, 'app');
    assert.equal(claims.name, 'Kilgore Trout');
    assert.deepEqual(claims.federated_claims, { connector_id: 'mock', user_id: MOCK_USER_ID });
    assert.equal(claims.email, undefined, 'no email scope, no email');
    assert.equal(claims.groups, undefined, 'no groups scope, no groups');
    assert.equal(claims.at_hash, undefined);
    assert.equal(claims.nonce, undefined);
  });

  it('drops scopes it does not know, as Dex ignores them, and needs no openid scope', async () => {
    const response = await postToken(idport, exchange({ scope: 'groups repo:write' }), APP);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const claims = await verify(str(response.body, 'access_token'), 'at+jwt');
    assert.equal(claims.scope, 'groups');
    assert.deepEqual(claims.groups, ['authors']);
  });

  it('adds a trusting peer to the audience, and refuses an audience scope for a peer that does not trust the client', async () => {
    const trusted = await postToken(
      idport,
      exchange({ requested_token_type: ID_TOKEN, scope: 'openid audience:server:client_id:api' }),
      APP,
    );
    assert.equal(trusted.status, 200, JSON.stringify(trusted.body));
    const claims = await verify(str(trusted.body, 'access_token'), 'JWT');
    assert.deepEqual(claims.aud, ['api', 'app']);
    assert.equal(claims.azp, 'app');
    assertExchangeError(
      await postToken(idport, exchange({ scope: 'openid audience:server:client_id:other' }), APP),
      400,
      'invalid_scope',
      "Client can't request scope(s) ['audience:server:client_id:other']",
    );
  });

  it('requires client authentication: a wrong secret, no secret, and a public client are refused first', async () => {
    const bad = exchange({ subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' });
    const wrong = await postToken(idport, bad, { id: 'app', secret: 'wrong' });
    assertExchangeError(wrong, 401, 'invalid_client', 'invalid client credentials');
    assertExchangeError(
      await postToken(idport, { ...bad, client_id: 'app' }),
      401,
      'invalid_client',
      'invalid client credentials',
    );
    assertExchangeError(
      await postToken(idport, { ...exchange(), client_id: 'cli' }),
      400,
      'unauthorized_client',
      'Public clients cannot use token exchange.',
    );
  });

  it('checks the subject token type first: missing or jwt is request_not_supported, whatever else is wrong', async () => {
    for (const type of [
      undefined,
      'urn:ietf:params:oauth:token-type:jwt',
      'urn:ietf:params:oauth:token-type:refresh_token',
    ]) {
      const form = exchange({ subject_token: '', connector_id: 'nope', requested_token_type: 'refresh' });
      if (type === undefined) delete form.subject_token_type;
      else form.subject_token_type = type;
      assertExchangeError(
        await postToken(idport, form, APP),
        400,
        'request_not_supported',
        'Invalid subject_token_type.',
      );
    }
  });

  it('then a missing subject token: invalid_request, before the connector is looked at', async () => {
    const form = exchange({ connector_id: 'nope', subject_token_type: ACCESS_TOKEN });
    delete form.subject_token;
    assertExchangeError(await postToken(idport, form, APP), 400, 'invalid_request', 'Missing subject_token');
  });

  it('then the connector: unknown, missing, or one that cannot exchange is invalid_request', async () => {
    const forms = [
      exchange({ connector_id: 'nope' }),
      exchange({ connector_id: 'pw' }),
      exchange({ connector_id: 'local' }),
    ];
    const missing = exchange();
    delete missing.connector_id;
    for (const form of [...forms, missing]) {
      form.requested_token_type = 'urn:ietf:params:oauth:token-type:refresh_token';
      assertExchangeError(
        await postToken(idport, form, APP),
        400,
        'invalid_request',
        'Requested connector does not exist.',
      );
    }
  });

  it('then the subject token itself: one the connector refuses is 401 access_denied, without a Basic challenge', async () => {
    const refused = await postToken(
      idport,
      exchange({ connector_id: 'strict', subject_token: 'forged', requested_token_type: 'refresh' }),
      APP,
    );
    assertExchangeError(refused, 401, 'access_denied', 'the subject token was not accepted');
    assert.equal(refused.headers.get('www-authenticate'), null);
    const wrongType = await postToken(
      idport,
      exchange({ connector_id: 'strict', subject_token: 'good', subject_token_type: ACCESS_TOKEN }),
      APP,
    );
    assertExchangeError(wrongType, 401, 'access_denied', 'the subject token was not accepted');
    const good = await postToken(
      idport,
      exchange({ connector_id: 'strict', subject_token: 'good', scope: 'groups' }),
      APP,
    );
    assert.equal(good.status, 200, JSON.stringify(good.body));
    const claims = await verify(str(good.body, 'access_token'), 'at+jwt');
    assert.equal(claims.sub, encodeSubject('ci-job', 'strict'));
    assert.deepEqual(claims.groups, ['ci']);
  });

  it('answers temporarily_unavailable when the upstream cannot be asked, so the client may retry', async () => {
    assertExchangeError(
      await postToken(idport, exchange({ connector_id: 'strict', subject_token: 'down' }), APP),
      503,
      'temporarily_unavailable',
      'the login service is unavailable; try again later',
    );
  });

  it('last the requested token type: refresh_token or any other but id_token and access_token is request_not_supported', async () => {
    for (const requested of [
      'urn:ietf:params:oauth:token-type:refresh_token',
      'urn:ietf:params:oauth:token-type:jwt',
    ]) {
      assertExchangeError(
        await postToken(idport, exchange({ requested_token_type: requested }), APP),
        400,
        'request_not_supported',
        'Invalid requested_token_type.',
      );
    }
  });
});

describe('token exchange left out of oauth2.grantTypes', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      inProcess: true,
      clients: [confidentialClient('app', [])],
      connectors: [
        { id: 'mock', type: 'mockCallback', name: 'Mock', connector: await mockCallback.open('mock', {}, deps) },
      ],
      settings: {
        grantTypes: testSettings('http://idport.test/dex', {
          yaml: 'oauth2:\n  grantTypes: [authorization_code, refresh_token]\n',
        }).grantTypes,
      },
    });
  });
  after(async () => idport.close());

  it('is neither advertised nor served', async () => {
    const discovery = (await (await testFetch(`${idport.issuer}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[];
    };
    // `implicit` comes with the test settings' response types.
    assert.deepEqual(discovery.grant_types_supported, ['authorization_code', 'refresh_token', 'implicit']);
    assertExchangeError(
      await postToken(idport, exchange(), APP),
      400,
      'unsupported_grant_type',
      `grant_type '${GRANT}' is not supported`,
    );
  });
});

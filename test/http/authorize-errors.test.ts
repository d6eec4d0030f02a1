/**
 * The authorization endpoint's refusals: an error page while the client or redirect URI is unverified,
 * a redirect to the client (RFC 6749 §4.1.2.1, with state and iss) once they are.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { confidentialClient, publicClient, startIdport, type TestIdport } from '../support/idport.js';
import { testFetch } from '../support/in-process.js';
import {
  assertErrorPage,
  assertErrorRedirect,
  authorizeError,
  authUrl,
  CHALLENGE,
  codeRequest,
  REDIRECT,
} from '../e2e/helpers.js';

const get = async (url: string): Promise<{ status: number; headers: Headers; body: string }> => {
  const response = await testFetch(url, { redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: await response.text() };
};

/** A request that reached the login step: idport sends the browser on to the password page. */
const assertLoginStarted = (response: { status: number; headers: Headers; body: string }, issuer: string): void => {
  assert.equal(response.status, 303, response.body.slice(0, 300));
  assert.match(response.headers.get('location') ?? '', new RegExp(`^${new URL(issuer).pathname}/auth/local\\?req=`));
};

describe('authorization request errors shown as a page', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      inProcess: true,
      clients: [
        confidentialClient('web', [REDIRECT]),
        confidentialClient('two', [REDIRECT, 'http://127.0.0.1:5555/other']),
        confidentialClient('with-query', ['http://127.0.0.1:5555/cb?tenant=a']),
        publicClient('cli', ['http://localhost:8000/callback']),
        publicClient('any-loopback', []),
      ],
    });
  });
  after(async () => idport.close());

  it('refuses an unregistered redirect_uri with a 400 page and no redirect', async () => {
    const page = await get(authUrl(idport, codeRequest('web', { redirect_uri: 'http://evil.example/callback' })));
    assertErrorPage(page, 400, 'The redirect_uri is not registered for this client.');
  });

  it('refuses an unknown client with a page', async () => {
    const page = await get(authUrl(idport, codeRequest('nope')));
    assertErrorPage(page, 400, 'Unknown client "nope".');
  });

  it('refuses a request without client_id with a page', async () => {
    const page = await get(authUrl(idport, { redirect_uri: REDIRECT, response_type: 'code', scope: 'openid' }));
    assertErrorPage(page, 400, 'The request has no client_id.');
  });

  it('refuses a request without redirect_uri from a client with two registered with a page', async () => {
    const { redirect_uri: _omitted, ...params } = codeRequest('two');
    const page = await get(authUrl(idport, params));
    assertErrorPage(page, 400, 'The request has no redirect_uri and the client has more than one registered.');
  });

  it('uses the only registered redirect_uri when the request has none', async () => {
    const { redirect_uri: _omitted, ...params } = codeRequest('web');
    assertLoginStarted(await get(authUrl(idport, params)), idport.issuer);
  });

  it('refuses a repeated redirect_uri with a page', async () => {
    const page = await get(`${authUrl(idport, codeRequest('web'))}&redirect_uri=${encodeURIComponent(REDIRECT)}`);
    assertErrorPage(page, 400, 'The request repeated client_id or redirect_uri.');
  });

  it('matches a registered redirect URI with a query exactly, and refuses a different or added query with a page', async () => {
    assertLoginStarted(
      await get(authUrl(idport, codeRequest('with-query', { redirect_uri: 'http://127.0.0.1:5555/cb?tenant=a' }))),
      idport.issuer,
    );
    const changed = await get(
      authUrl(idport, codeRequest('with-query', { redirect_uri: 'http://127.0.0.1:5555/cb?tenant=b' })),
    );
    assertErrorPage(changed, 400, 'The redirect_uri is not registered for this client.');
    const added = await get(authUrl(idport, codeRequest('web', { redirect_uri: `${REDIRECT}?x=1` })));
    assertErrorPage(added, 400, 'The redirect_uri is not registered for this client.');
  });

  it('lets a public client use its loopback redirect URI on any port (RFC 8252 §7.3) but not another host or path', async () => {
    const pkce = { code_challenge: CHALLENGE, code_challenge_method: 'S256' };
    assertLoginStarted(
      await get(authUrl(idport, codeRequest('cli', { redirect_uri: 'http://localhost:53123/callback', ...pkce }))),
      idport.issuer,
    );
    const otherHost = await get(
      authUrl(idport, codeRequest('cli', { redirect_uri: 'http://example.com:8000/callback', ...pkce })),
    );
    assertErrorPage(otherHost, 400, 'The redirect_uri is not registered for this client.');
    const otherPath = await get(
      authUrl(idport, codeRequest('cli', { redirect_uri: 'http://localhost:53123/elsewhere', ...pkce })),
    );
    assertErrorPage(otherPath, 400, 'The redirect_uri is not registered for this client.');
  });

  it('lets a public client with no registered redirect URI use any loopback address, and no other host', async () => {
    const pkce = { code_challenge: CHALLENGE, code_challenge_method: 'S256' };
    for (const uri of ['http://127.0.0.1:40000/cb', 'http://[::1]:40001/cb', 'http://localhost/cb']) {
      assertLoginStarted(
        await get(authUrl(idport, codeRequest('any-loopback', { redirect_uri: uri, ...pkce }))),
        idport.issuer,
      );
    }
    const page = await get(
      authUrl(idport, codeRequest('any-loopback', { redirect_uri: 'https://127.0.0.1.example.com/cb', ...pkce })),
    );
    assertErrorPage(page, 400, 'The redirect_uri is not registered for this client.');
  });

  it('never lets a confidential client use an unregistered loopback port', async () => {
    const page = await get(authUrl(idport, codeRequest('web', { redirect_uri: 'http://127.0.0.1:5556/callback' })));
    assertErrorPage(page, 400, 'The redirect_uri is not registered for this client.');
  });
});

describe('authorization request errors redirected to the client', () => {
  let idport: TestIdport;
  let enforcing: TestIdport;
  before(async () => {
    idport = await startIdport({
      inProcess: true,
      clients: [
        confidentialClient('web', [REDIRECT]),
        confidentialClient('untrusting', [REDIRECT]),
        publicClient('cli', [REDIRECT]),
      ],
      settings: { responseTypes: ['code', 'id_token', 'code id_token'] },
    });
    enforcing = await startIdport({
      inProcess: true,
      clients: [confidentialClient('web', [REDIRECT])],
      settings: { pkceEnforce: true },
    });
  });
  after(async () => {
    await idport.close();
    await enforcing.close();
  });

  const refused = async (
    params: Record<string, string>,
    error: string,
    description: string,
    mode: 'query' | 'fragment' = 'query',
  ): Promise<void> => {
    assertErrorRedirect(await authorizeError(idport, params), {
      error,
      description,
      state: params.state,
      issuer: idport.issuer,
      mode,
    });
  };

  it('answers prompt=none without a session with login_required, state and iss (OIDC Core §3.1.2.6)', async () => {
    await refused(codeRequest('web', { prompt: 'none' }), 'login_required', 'the user is not logged in');
  });

  it('refuses a request without the openid scope with invalid_scope', async () => {
    await refused(codeRequest('web', { scope: 'email profile' }), 'invalid_scope', 'the openid scope is required');
  });

  it('refuses scopes Dex does not know with invalid_scope, as Dex words it, and accepts the ones it does', async () => {
    await refused(
      codeRequest('web', { scope: 'openid address phone email custom:thing' }),
      'invalid_scope',
      "Unrecognized scope(s) ['address' 'phone' 'custom:thing']",
    );
    const known = 'openid email profile groups offline_access federated:id audience:server:client_id:web';
    assertLoginStarted(await get(authUrl(idport, codeRequest('web', { scope: known }))), idport.issuer);
  });

  it('refuses a response type that is not enabled with unsupported_response_type', async () => {
    await refused(
      codeRequest('web', { response_type: 'code token' }),
      'unsupported_response_type',
      "response_type 'code token' is not enabled",
      'fragment',
    );
    await refused(
      codeRequest('web', { response_type: 'something' }),
      'unsupported_response_type',
      "response_type 'something' is not enabled",
    );
  });

  it('refuses a request without response_type with invalid_request in the query', async () => {
    const { response_type: _omitted, ...params } = codeRequest('web');
    await refused(params, 'invalid_request', 'response_type is required');
  });

  it('refuses a request object with request_not_supported (OIDC Core §6)', async () => {
    await refused(
      codeRequest('web', { request: 'eyJhbGciOiJub25lIn0.e30.' }),
      'request_not_supported',
      'request objects are not supported',
    );
  });

  it('refuses request_uri with request_uri_not_supported', async () => {
    await refused(
      codeRequest('web', { request_uri: 'https://client.example/request.jwt' }),
      'request_uri_not_supported',
      'request_uri is not supported',
    );
  });

  it('refuses a repeated parameter with invalid_request (RFC 6749 §3.1)', async () => {
    const response = await testFetch(`${authUrl(idport, codeRequest('web'))}&scope=email`, { redirect: 'manual' });
    assertErrorRedirect(response.headers.get('location') ?? '', {
      error: 'invalid_request',
      description: 'the scope parameter was sent more than once',
      state: 'the-state',
      issuer: idport.issuer,
    });
  });

  it('refuses an unknown response_mode with invalid_request', async () => {
    await refused(codeRequest('web', { response_mode: 'jwt' }), 'invalid_request', "unsupported response_mode 'jwt'");
  });

  it('refuses response_mode=query for a response type that returns tokens (Multiple Response Types §3)', async () => {
    await refused(
      { ...codeRequest('web', { response_type: 'id_token', response_mode: 'query', nonce: 'n' }) },
      'invalid_request',
      'response_mode query is not allowed for this response_type',
    );
  });

  it('refuses a public client without PKCE with invalid_request', async () => {
    await refused(codeRequest('cli'), 'invalid_request', 'PKCE code_challenge is required');
  });

  it('refuses a confidential client without PKCE when oauth2.pkce.enforce is set', async () => {
    const location = await authorizeError(enforcing, codeRequest('web'));
    assertErrorRedirect(location, {
      error: 'invalid_request',
      description: 'PKCE code_challenge is required',
      state: 'the-state',
      issuer: enforcing.issuer,
    });
  });

  it('refuses code_challenge_method without code_challenge', async () => {
    await refused(
      codeRequest('web', { code_challenge_method: 'S256' }),
      'invalid_request',
      'code_challenge_method sent without code_challenge',
    );
  });

  it('refuses an unknown code_challenge_method', async () => {
    await refused(
      codeRequest('web', { code_challenge: CHALLENGE, code_challenge_method: 'S512' }),
      'invalid_request',
      "unsupported code_challenge_method 'S512'",
    );
  });

  it('refuses a malformed code_challenge', async () => {
    await refused(
      codeRequest('web', { code_challenge: 'short', code_challenge_method: 'S256' }),
      'invalid_request',
      'code_challenge is malformed',
    );
  });

  it('refuses an audience scope for a client that does not trust the requester with invalid_scope', async () => {
    await refused(
      codeRequest('web', { scope: 'openid audience:server:client_id:untrusting' }),
      'invalid_scope',
      'client web is not a trusted peer of untrusting',
    );
  });

  it('refuses an unknown connector_id with invalid_request', async () => {
    await refused(codeRequest('web', { connector_id: 'github' }), 'invalid_request', "unknown connector_id 'github'");
  });

  it('refuses an unknown prompt value and prompt=none combined with another value', async () => {
    await refused(
      codeRequest('web', { prompt: 'sometimes' }),
      'invalid_request',
      "unsupported prompt value 'sometimes'",
    );
    await refused(
      codeRequest('web', { prompt: 'none login' }),
      'invalid_request',
      'prompt=none cannot be combined with other values',
    );
  });

  it('refuses a malformed max_age', async () => {
    await refused(codeRequest('web', { max_age: '-1' }), 'invalid_request', 'max_age must be a non-negative integer');
  });

  it('sends the error for a form_post request as a POST form', async () => {
    const response = await testFetch(
      authUrl(idport, codeRequest('web', { response_mode: 'form_post', scope: 'email' })),
      {
        redirect: 'manual',
      },
    );
    assert.equal(response.status, 200);
    const body = await response.text();
    assert.match(body, new RegExp(`<form method="post" action="${REDIRECT}"`));
    assert.match(body, /<input type="hidden" name="error" value="invalid_scope">/);
    assert.match(body, /<input type="hidden" name="error_description" value="the openid scope is required">/);
    assert.match(body, /<input type="hidden" name="state" value="the-state">/);
  });
});

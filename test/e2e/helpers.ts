/** Shared steps of the end-to-end tests: authorization URLs, logins, token and userinfo requests, header checks. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { escapeHtml } from '../../web/html.js';
import { Browser, loginThroughPages } from '../support/browser.js';
import type { TestIdport } from '../support/idport.js';
import { testFetch } from '../support/in-process.js';

/** The redirect URI every test client registers (nothing listens there: the browser stops at it). */
export const REDIRECT = 'http://127.0.0.1:5555/callback';

/** A PKCE verifier (RFC 7636 Appendix B) and its S256 challenge, computed independently of idport. */
export const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
export const s256 = (verifier: string): string => createHash('sha256').update(verifier, 'ascii').digest('base64url');
export const CHALLENGE = s256(VERIFIER);

/** OIDC Core §3.1.3.6 at_hash / §3.3.2.11 c_hash for RS256, computed independently of idport. */
export const leftHalfSha256 = (value: string): string =>
  createHash('sha256').update(value, 'ascii').digest().subarray(0, 16).toString('base64url');

export const authUrl = (idport: TestIdport, params: Record<string, string>): string =>
  `${idport.issuer}/auth?${new URLSearchParams(params).toString()}`;

/** Code-flow parameters for a client, overridable field by field. */
export const codeRequest = (clientId: string, extra: Record<string, string> = {}): Record<string, string> => ({
  client_id: clientId,
  redirect_uri: REDIRECT,
  response_type: 'code',
  scope: 'openid',
  state: 'the-state',
  ...extra,
});

/** The authorization response parameters: from the fragment when there is one, else from the query. */
export const responseOf = (location: string): URLSearchParams => {
  const url = new URL(location);
  return url.hash !== '' ? new URLSearchParams(url.hash.slice(1)) : url.searchParams;
};

/** Logs the demo user in through the pages and returns the authorization response parameters. */
export const authorize = async (
  idport: TestIdport,
  params: Record<string, string>,
  browser = new Browser(),
): Promise<URLSearchParams> =>
  responseOf(await loginThroughPages(browser, authUrl(idport, params), params.redirect_uri ?? REDIRECT));

/** Follows /auth without logging in, for requests refused before the login page: the redirect location. */
export const authorizeError = async (idport: TestIdport, params: Record<string, string>): Promise<string> => {
  const response = await testFetch(authUrl(idport, params), { redirect: 'manual' });
  assert.equal(
    response.status,
    303,
    `expected a redirect, got ${response.status}: ${(await response.text()).slice(0, 300)}`,
  );
  const location = response.headers.get('location');
  assert.ok(location);
  return location;
};

/** An RFC 6749 §4.1.2.1 error redirect: error, description, state and iss exactly, nothing else. */
export const assertErrorRedirect = (
  location: string,
  expected: { error: string; description: string; state?: string; issuer: string; mode?: 'query' | 'fragment' },
): void => {
  const url = new URL(location);
  assert.equal(`${url.origin}${url.pathname}`, REDIRECT);
  const mode = expected.mode ?? 'query';
  assert.equal(url.hash === '', mode === 'query', `error expected in the ${mode}: ${location}`);
  const params = Object.fromEntries(responseOf(location));
  assert.deepEqual(params, {
    error: expected.error,
    error_description: expected.description,
    ...(expected.state !== undefined ? { state: expected.state } : {}),
    iss: expected.issuer,
  });
};

export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

const jsonOf = async (response: Response): Promise<JsonResponse> => {
  const body: unknown = await response.json();
  assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body), 'a JSON object');
  return { status: response.status, headers: response.headers, body: { ...body } };
};

export interface ClientCredentials {
  readonly id: string;
  readonly secret: string;
}

/** The secret `confidentialClient(id)` registers. */
export const credentialsOf = (id: string): ClientCredentials => ({ id, secret: `${id}-secret` });

/** RFC 6749 §2.3.1 Basic credentials (form-urlencoded before base64). */
export const basicAuth = ({ id, secret }: ClientCredentials): string =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** POSTs a form to /token, with Basic client authentication when credentials are given. */
export const postToken = async (
  idport: TestIdport,
  form: Record<string, string> | URLSearchParams,
  credentials?: ClientCredentials,
  headers: Record<string, string> = {},
): Promise<JsonResponse> => {
  const all: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...headers };
  if (credentials !== undefined) all.authorization = basicAuth(credentials);
  return jsonOf(
    await testFetch(`${idport.issuer}/token`, {
      method: 'POST',
      headers: all,
      body: new URLSearchParams(form).toString(),
    }),
  );
};

/** Redeems a code as a confidential client authenticating with Basic. */
export const redeemCode = async (
  idport: TestIdport,
  clientId: string,
  code: string,
  extra: Record<string, string> = {},
): Promise<JsonResponse> =>
  postToken(
    idport,
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, ...extra },
    credentialsOf(clientId),
  );

/** Uses a refresh token as a confidential client authenticating with Basic. */
export const refreshWith = async (
  idport: TestIdport,
  clientId: string,
  refreshToken: string,
  extra: Record<string, string> = {},
): Promise<JsonResponse> =>
  postToken(idport, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, credentialsOf(clientId));

/** A string member of a JSON body, failing the test when it is missing. */
export const str = (body: Record<string, unknown>, key: string): string => {
  const value = body[key];
  assert.equal(typeof value, 'string', `${key} in ${JSON.stringify(body)}`);
  return String(value);
};

/** A JSON error response (RFC 6749 §5.2): status, exact body, and never cached. */
export const assertJsonError = (response: JsonResponse, status: number, error: string, description: string): void => {
  assert.deepEqual(
    { status: response.status, body: response.body },
    { status, body: { error, error_description: description } },
  );
  assert.equal(response.headers.get('cache-control'), 'no-store');
};

/** A successful token response (RFC 6749 §5.1): Bearer, positive expires_in, never cached. */
export const assertTokenResponse = (response: JsonResponse): void => {
  assert.equal(response.status, 200, JSON.stringify(response.body));
  assert.equal(response.headers.get('cache-control'), 'no-store');
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(response.body.token_type, 'Bearer');
  assert.ok(typeof response.body.expires_in === 'number' && response.body.expires_in > 0, 'positive expires_in');
  str(response.body, 'access_token');
};

export type UserinfoMethod = 'GET header' | 'POST header' | 'POST body';

/** Calls /userinfo with a bearer token the way a client may send it (RFC 6750 §2.1, §2.2). */
export const callUserinfo = async (
  idport: TestIdport,
  accessToken: string,
  method: UserinfoMethod = 'GET header',
): Promise<JsonResponse> => {
  const url = `${idport.issuer}/userinfo`;
  if (method === 'GET header')
    return jsonOf(await testFetch(url, { headers: { authorization: `Bearer ${accessToken}` } }));
  if (method === 'POST header')
    return jsonOf(await testFetch(url, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } }));
  return jsonOf(
    await testFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: accessToken }).toString(),
    }),
  );
};

/** The headers every HTML page carries: a strict CSP, no framing, no sniffing, no referrer, no caching. */
export const assertSecurityHeaders = (headers: Headers): void => {
  const csp = headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(headers.get('x-frame-options'), 'DENY');
  assert.equal(headers.get('x-content-type-options'), 'nosniff');
  assert.equal(headers.get('referrer-policy'), 'no-referrer');
  assert.equal(headers.get('cache-control'), 'no-store');
  assert.match(headers.get('content-type') ?? '', /^text\/html/);
};

/** An HTML error page: status, security headers, the message shown, and no redirect. */
export const assertErrorPage = (
  page: { status: number; headers: Headers; body: string },
  status: number,
  message: string,
): void => {
  assert.equal(page.status, status, page.body.slice(0, 500));
  assert.equal(page.headers.get('location'), null);
  assertSecurityHeaders(page.headers);
  assert.ok(
    page.body.includes(`<p class="alert" role="alert">${escapeHtml(message)}</p>`),
    `expected "${message}" in ${page.body}`,
  );
};

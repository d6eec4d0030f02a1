/**
 * The plain OAuth 2.0 client steps that Dex's oauth, openshift and linkedin connectors take through
 * Go's golang.org/x/oauth2: the authorization URL, the code exchange and the refresh grant at a token
 * endpoint (RFC 6749 §4.1, §6), and bearer-token GETs of JSON resources. Every request goes through
 * the fetch it is given with a timeout, and failures come back as UpstreamError saying whether they
 * were the upstream's fault (down, 5xx) or a verdict (401, invalid_grant).
 */
import type { CustomFetch } from 'openid-client';
import { z } from 'zod';

/** How a connector reaches its upstream: the fetch (with TLS settings applied), a timeout, and its close signal. */
export interface UpstreamHttp {
  readonly fetch: CustomFetch;
  readonly timeoutMs: number;
  readonly closing: AbortSignal;
}

/** A request to the upstream that failed; `temporary` when the upstream (or the way to it) is down rather than refusing. */
export class UpstreamError extends Error {
  /** The HTTP status, or undefined when no answer came. */
  readonly status: number | undefined;
  readonly temporary: boolean;
  constructor(message: string, status: number | undefined, temporary: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
    this.status = status;
    this.temporary = temporary;
  }
}

/** An OAuth 2.0 client registered at the upstream. */
export interface OAuth2Client {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authorizationUrl: string;
  readonly tokenUrl: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
}

/** A token endpoint's grant, with `expires_in` turned into a time. */
export interface OAuth2Token {
  readonly accessToken: string;
  readonly tokenType: string;
  readonly refreshToken: string | undefined;
  readonly expiry: Date | undefined;
  /** The whole response, for connectors that read more of it. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** The authorization request URL (RFC 6749 §4.1.1), as Go's oauth2.Config.AuthCodeURL builds it. */
export function authCodeUrl(client: OAuth2Client, state: string): string {
  const url = new URL(client.authorizationUrl);
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', client.redirectUri);
  url.searchParams.set('response_type', 'code');
  if (client.scopes.length > 0) url.searchParams.set('scope', client.scopes.join(' '));
  url.searchParams.set('state', state);
  return url.href;
}

const tokenSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  refresh_token: z.string().optional(),
  // Some providers (PayPal, old Facebook) send expires_in as a string; Go's oauth2 accepts both.
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
});
const tokenErrorSchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });

/** Redeems an authorization code (RFC 6749 §4.1.3). */
export function exchangeCode(http: UpstreamHttp, client: OAuth2Client, code: string, now: Date): Promise<OAuth2Token> {
  const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirectUri });
  return tokenRequest(http, client, form, now);
}

/** Uses a refresh token (RFC 6749 §6). */
export function refreshGrant(
  http: UpstreamHttp,
  client: OAuth2Client,
  refreshToken: string,
  now: Date,
): Promise<OAuth2Token> {
  return tokenRequest(
    http,
    client,
    new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    now,
  );
}

/**
 * Go's oauth2 auto-detects the client authentication: HTTP Basic first (RFC 6749 §2.3.1), then the
 * credentials in the form. Here the second try is made only when the first was refused as a client
 * authentication failure (401 or invalid_client), so other errors (invalid_grant) are reported as given.
 */
async function tokenRequest(
  http: UpstreamHttp,
  client: OAuth2Client,
  form: URLSearchParams,
  now: Date,
): Promise<OAuth2Token> {
  const what = `POST ${new URL(client.tokenUrl).pathname}`;
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`;
  const headers = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
  let response = await send(http, client.tokenUrl, {
    method: 'POST',
    headers: { ...headers, authorization: basic },
    body: form.toString(),
  });
  let body = await readTokenBody(what, response);
  let failed = tokenErrorSchema.safeParse(body);
  if (response.status === 401 || (failed.success && failed.data.error === 'invalid_client')) {
    const inBody = new URLSearchParams(form);
    inBody.set('client_id', client.clientId);
    inBody.set('client_secret', client.clientSecret);
    response = await send(http, client.tokenUrl, { method: 'POST', headers, body: inBody.toString() });
    body = await readTokenBody(what, response);
    failed = tokenErrorSchema.safeParse(body);
  }
  if (response.status !== 200 || failed.success) {
    const detail = failed.success
      ? `${failed.data.error}${failed.data.error_description === undefined ? '' : `: ${failed.data.error_description}`}`
      : `HTTP ${response.status}`;
    throw new UpstreamError(`${what}: ${detail}`, response.status, response.status >= 500 || response.status === 429);
  }
  const token = tokenSchema.safeParse(body);
  if (!token.success)
    throw new UpstreamError(`${what}: unexpected response: ${token.error.message}`, 200, false, { cause: token.error });
  const expiresIn = token.data.expires_in;
  return {
    accessToken: token.data.access_token,
    tokenType: token.data.token_type ?? 'Bearer',
    refreshToken: token.data.refresh_token,
    expiry: expiresIn === undefined || expiresIn === 0 ? undefined : new Date(now.getTime() + expiresIn * 1000),
    raw: body,
  };
}

// Token endpoints answer JSON; a few (GitHub-like) answer form-encoded, which Go's oauth2 also reads.
async function readTokenBody(what: string, response: Response): Promise<Record<string, unknown>> {
  const text = await readText(what, response);
  if ((response.headers.get('content-type') ?? '').includes('application/x-www-form-urlencoded'))
    return Object.fromEntries(new URLSearchParams(text));
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return { ...parsed };
  } catch {
    // Reported below with the status.
  }
  throw new UpstreamError(
    `${what}: HTTP ${response.status}, not a JSON object: ${text.slice(0, 200)}`,
    response.status,
    response.status >= 500,
  );
}

/** GET a JSON resource with the access token; any status but 200 is an UpstreamError (5xx and 429 temporary). */
export async function getJson(
  http: UpstreamHttp,
  url: string,
  accessToken: string,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const response = await send(http, url, {
    method: 'GET',
    headers: { accept: 'application/json', authorization: `Bearer ${accessToken}`, ...headers },
  });
  return readJson(`GET ${new URL(url).pathname}`, response);
}

/** The JSON body of a 200 answer; other statuses become an UpstreamError with the start of the body. */
export async function readJson(what: string, response: Response, ok: readonly number[] = [200]): Promise<unknown> {
  const text = await readText(what, response);
  if (!ok.includes(response.status)) {
    throw new UpstreamError(
      `${what}: HTTP ${response.status} ${text.slice(0, 200)}`.trim(),
      response.status,
      response.status >= 500 || response.status === 429,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err: unknown) {
    throw new UpstreamError(`${what}: response is not JSON`, response.status, false, { cause: err });
  }
}

async function readText(what: string, response: Response): Promise<string> {
  try {
    return await response.text();
  } catch (err: unknown) {
    // A body cut off mid-way is the network's fault.
    throw new UpstreamError(`${what}: reading the response failed`, response.status, true, { cause: err });
  }
}

/** Sends one request with the timeout and the connector's close signal; no answer is a temporary UpstreamError. */
export async function send(
  http: UpstreamHttp,
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
): Promise<Response> {
  const signal = AbortSignal.any([AbortSignal.timeout(http.timeoutMs), http.closing]);
  try {
    return await http.fetch(url, { ...init, body: init.body, redirect: 'manual', signal });
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new UpstreamError(`${init.method} ${new URL(url).pathname}: ${reason}`, undefined, true, { cause: err });
  }
}

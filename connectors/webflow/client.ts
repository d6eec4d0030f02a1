/**
 * The OAuth 2.0 web-flow client shared by the connectors of providers that are not OpenID providers
 * (Microsoft Graph, GitLab, Gitea, Bitbucket Cloud): the authorization URL, the code and refresh-token
 * grants (RFC 6749 §4.1, §6) and JSON API calls with a bearer token. Every request goes through the
 * fetch it is given (the injected one, or node:https for a custom CA) with a timeout, and failures come
 * back as UpstreamRequestError saying whether the provider (or the way to it) was down or said no.
 */
import type { CustomFetch } from 'openid-client';
import { z } from 'zod';

/** A provider request that failed; `temporary` when the provider is down rather than refusing. */
export class UpstreamRequestError extends Error {
  /** The HTTP status, or undefined when no answer came. */
  readonly status: number | undefined;
  readonly temporary: boolean;
  constructor(message: string, status: number | undefined, temporary: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamRequestError';
    this.status = status;
    this.temporary = temporary;
  }
}

/** What a token endpoint granted. */
export interface OAuthToken {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  /** When the access token expires, or undefined when the provider did not say. */
  readonly expiry: Date | undefined;
  /** The OpenID Connect ID token, when the provider sent one. */
  readonly idToken: string | undefined;
}

/**
 * How the client authenticates at the token endpoint: HTTP Basic (RFC 6749 §2.3.1), the credentials
 * in the form body, or extra form parameters computed per request (Microsoft's client assertion).
 */
export type ClientAuth =
  | { readonly style: 'basic'; readonly id: string; readonly secret: string }
  | { readonly style: 'post'; readonly id: string; readonly secret: string }
  | { readonly style: 'params'; readonly id: string; readonly params: () => Promise<Record<string, string>> };

/** How to reach a provider's API. */
export interface HttpSettings {
  readonly fetch: CustomFetch;
  readonly timeoutMs: number;
  /** Aborts every request when the connector closes. */
  readonly closing: AbortSignal;
}

/** The fixed parts of one provider's web flow. */
export interface WebFlowSettings extends HttpSettings {
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  readonly client: ClientAuth;
}

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().optional(),
  // RFC 6749 says a number; some providers have sent a string.
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  id_token: z.string().optional(),
});
const oauthErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() });

/** JSON calls to a provider's API with a bearer token. */
export class ApiClient {
  constructor(readonly settings: HttpSettings) {}

  /** A JSON API call with the bearer token; answers other than 200 become UpstreamRequestError. */
  async api<T extends z.ZodType>(
    request: { url: string; token: string; method?: 'GET' | 'POST'; json?: unknown; accept?: string },
    schema: T,
  ): Promise<{ value: z.infer<T>; headers: Headers }> {
    const method = request.method ?? 'GET';
    const what = `${method} ${new URL(request.url).pathname}`;
    const headers: Record<string, string> = {
      accept: request.accept ?? 'application/json',
      authorization: `Bearer ${request.token}`,
    };
    if (request.json !== undefined) headers['content-type'] = 'application/json';
    const response = await this.send(request.url, {
      method,
      headers,
      body: request.json === undefined ? undefined : JSON.stringify(request.json),
    });
    if (response.status !== 200) throw await statusError(what, response);
    const parsed = schema.safeParse(await readJson(what, response));
    if (!parsed.success)
      throw new UpstreamRequestError(`${what}: unexpected response: ${parsed.error.message}`, 200, false, {
        cause: parsed.error,
      });
    return { value: parsed.data, headers: response.headers };
  }

  /** The status of a GET (for membership checks answered by 200 or 404), with its JSON body when 200. */
  async probe(url: string, token: string): Promise<{ status: number; body: unknown }> {
    const what = `GET ${new URL(url).pathname}`;
    const response = await this.send(url, {
      method: 'GET',
      headers: { accept: 'application/json', authorization: `Bearer ${token}` },
    });
    if (response.status === 200) return { status: 200, body: await readJson(what, response) };
    if (isTemporary(response)) throw await statusError(what, response);
    await response.body?.cancel();
    return { status: response.status, body: undefined };
  }

  /** A URL to follow for the next page, checked to be on the API's own origin (the token goes with it). */
  sameOrigin(what: string, next: string, base: string): string {
    let url: URL;
    try {
      url = new URL(next, base);
    } catch (err: unknown) {
      throw new UpstreamRequestError(`${what}: unreadable next-page link`, 200, false, { cause: err });
    }
    if (url.origin !== new URL(base).origin)
      throw new UpstreamRequestError(`${what}: next page ${url.origin} is not on the API host`, 200, false);
    return url.href;
  }

  /** POSTs a grant to a token endpoint and reads the RFC 6749 §5.1 answer (or §5.2 error). */
  async tokenRequest(
    url: string,
    form: URLSearchParams,
    headers: Record<string, string>,
    now: Date,
  ): Promise<OAuthToken> {
    const what = `POST ${new URL(url).pathname}`;
    const response = await this.send(url, { method: 'POST', headers, body: form.toString() });
    const body = await readJson(what, response);
    if (response.status !== 200) {
      const error = oauthErrorSchema.safeParse(body);
      const detail = error.success
        ? `${error.data.error}${error.data.error_description === undefined ? '' : `: ${error.data.error_description}`}`
        : describeBody(body);
      throw new UpstreamRequestError(
        `${what}: HTTP ${response.status} ${detail}`,
        response.status,
        isTemporary(response),
      );
    }
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success)
      throw new UpstreamRequestError(`${what}: unexpected token response`, 200, false, { cause: parsed.error });
    const { access_token, refresh_token, expires_in, id_token } = parsed.data;
    return {
      accessToken: access_token,
      refreshToken: refresh_token === '' ? undefined : refresh_token,
      expiry: expires_in === undefined || expires_in <= 0 ? undefined : new Date(now.getTime() + expires_in * 1000),
      idToken: id_token,
    };
  }

  protected async send(
    url: string,
    init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string | undefined },
  ): Promise<Response> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), this.settings.closing]);
    try {
      return await this.settings.fetch(url, {
        method: init.method,
        headers: { 'user-agent': 'idport', ...init.headers },
        body: init.body,
        redirect: 'manual',
        signal,
      });
    } catch (err: unknown) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new UpstreamRequestError(`${init.method} ${new URL(url).pathname}: ${reason}`, undefined, true, {
        cause: err,
      });
    }
  }
}

/** A web-flow client: the authorization URL and the token endpoint, plus the API calls. */
export class WebFlowClient extends ApiClient {
  constructor(override readonly settings: WebFlowSettings) {
    super(settings);
  }

  /** The authorization URL with `client_id`, `response_type=code` and the given parameters. */
  authorizationUrl(params: Record<string, string | undefined>): string {
    const url = new URL(this.settings.authorizeUrl);
    url.searchParams.set('client_id', this.settings.client.id);
    url.searchParams.set('response_type', 'code');
    for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
    return url.href;
  }

  /** Exchanges an authorization code, or a refresh token, at the token endpoint. */
  async token(
    grant: { code: string; redirectUri?: string | undefined } | { refreshToken: string },
    now: Date,
  ): Promise<OAuthToken> {
    const form = new URLSearchParams();
    if ('code' in grant) {
      form.set('grant_type', 'authorization_code');
      form.set('code', grant.code);
      if (grant.redirectUri !== undefined) form.set('redirect_uri', grant.redirectUri);
    } else {
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', grant.refreshToken);
    }
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    };
    const client = this.settings.client;
    if (client.style === 'basic') {
      // RFC 6749 §2.3.1: both parts form-encoded before base64, as Go's oauth2 package does.
      const pair = `${formEncode(client.id)}:${formEncode(client.secret)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    } else if (client.style === 'post') {
      form.set('client_id', client.id);
      form.set('client_secret', client.secret);
    } else {
      form.set('client_id', client.id);
      for (const [name, value] of Object.entries(await client.params())) form.set(name, value);
    }
    return this.tokenRequest(this.settings.tokenUrl, form, headers, now);
  }
}

// application/x-www-form-urlencoded as Go's url.QueryEscape writes it (space as +).
const formEncode = (value: string): string => new URLSearchParams({ v: value }).toString().slice(2);

const isTemporary = (response: Response): boolean => response.status >= 500 || response.status === 429;

async function readJson(what: string, response: Response): Promise<unknown> {
  const text = await response.text().catch((err: unknown) => {
    throw new UpstreamRequestError(`${what}: response cut off`, response.status, true, { cause: err });
  });
  try {
    return JSON.parse(text);
  } catch (err: unknown) {
    // A proxy's HTML error page: its start describes it best.
    if (response.status !== 200) return text.slice(0, 200);
    throw new UpstreamRequestError(`${what}: response is not JSON`, response.status, false, { cause: err });
  }
}

// The error shapes of the providers: {message} (GitLab, Gitea), {error: {code, message}} (Microsoft
// Graph, Google, Bitbucket), {error, error_description} (OAuth), or text.
function describeBody(body: unknown): string {
  if (typeof body === 'string') return body;
  if (typeof body !== 'object' || body === null) return '';
  const record = body as Record<string, unknown>;
  if (typeof record.message === 'string') return record.message;
  const error = record.error;
  if (typeof error === 'object' && error !== null) {
    const inner = error as Record<string, unknown>;
    return [inner.code, inner.message].filter((part) => typeof part === 'string').join(': ');
  }
  if (typeof error === 'string')
    return typeof record.error_description === 'string' ? `${error}: ${record.error_description}` : error;
  return '';
}

async function statusError(what: string, response: Response): Promise<UpstreamRequestError> {
  const body = await readJson(what, response).catch(() => '');
  return new UpstreamRequestError(
    `${what}: HTTP ${response.status} ${describeBody(body)}`.trim(),
    response.status,
    isTemporary(response),
  );
}

/**
 * The few GitHub calls the connector makes: the OAuth web flow's code exchange and the REST API
 * reads (user, emails, orgs, teams, org membership), with GitHub's `Link` pagination. Every request
 * goes through the fetch it is given (the injected one, or node:https for a custom rootCA) with a
 * timeout, and failures come back as GithubRequestError saying whether they were GitHub's fault.
 */
import type { CustomFetch } from 'openid-client';
import { z } from 'zod';

import { LOOPBACK_HTTP_HOST } from './config.js';

/** Where the OAuth web flow and the REST API live. */
export interface GithubEndpoints {
  /** Origin of the web flow (`/login/oauth/authorize`, `/login/oauth/access_token`). */
  readonly web: string;
  /** Base of the REST API, without a trailing slash. */
  readonly api: string;
}

/** github.com, or the GitHub Enterprise host of Dex's `hostName` (https, except an explicit loopback http URL). */
export function endpointsFor(hostName: string): GithubEndpoints {
  if (hostName === '') return { web: 'https://github.com', api: 'https://api.github.com' };
  const web = LOOPBACK_HTTP_HOST.test(hostName) ? hostName : `https://${hostName}`;
  return { web, api: `${web}/api/v3` };
}

/** A GitHub request that failed; `temporary` when GitHub (or the way to it) is down rather than refusing. */
export class GithubRequestError extends Error {
  /** The HTTP status, or undefined when no answer came. */
  readonly status: number | undefined;
  readonly temporary: boolean;
  constructor(message: string, status: number | undefined, temporary: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GithubRequestError';
    this.status = status;
    this.temporary = temporary;
  }
}

/** What GitHub's token endpoint grants (OAuth apps: a token that never expires; GitHub Apps may add a refresh token). */
export interface GithubToken {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  /** When the access token expires, or undefined when it does not. */
  readonly expiry: Date | undefined;
}

// GitHub answers token-endpoint errors with HTTP 200 and an `error` member, so both shapes are read.
const tokenResponseSchema = z.union([
  z.object({ error: z.string(), error_description: z.string().optional() }),
  z.object({
    access_token: z.string().min(1),
    refresh_token: z.string().optional(),
    expires_in: z.number().optional(),
  }),
]);

/** `GET /user`: the fields the connector uses. */
export const userSchema = z.object({
  id: z.number().int(),
  login: z.string().min(1),
  name: z.string().nullable().optional(),
  email: z.string().nullable().optional(),
});
/** One entry of `GET /user/emails`. */
export const emailSchema = z.object({ email: z.string(), primary: z.boolean(), verified: z.boolean() });
/** One entry of `GET /user/orgs`. */
export const orgSchema = z.object({ login: z.string() });
/** One entry of `GET /user/teams`. */
export const teamSchema = z.object({
  name: z.string(),
  slug: z.string(),
  organization: z.object({ login: z.string() }),
});

/** A GitHub user as `GET /user` describes them. */
export type GithubUser = z.infer<typeof userSchema>;
/** A team of the user, with its org. */
export type GithubTeam = z.infer<typeof teamSchema>;

// The REST API version Dex pins; GitHub answers unversioned requests with its oldest behaviour.
const API_VERSION = '2022-11-28';
// A bound on pages followed, so a Link header pointing back at itself cannot loop forever (10,000 entries at 100 a page).
const MAX_PAGES = 100;

/** A GitHub client for one connector. */
export class GithubApi {
  constructor(
    private readonly fetchFn: CustomFetch,
    readonly endpoints: GithubEndpoints,
    private readonly timeoutMs: number,
    private readonly closing: AbortSignal,
  ) {}

  /** Exchanges an authorization code (or a refresh token) at `/login/oauth/access_token`. */
  async token(
    client: { id: string; secret: string },
    grant: { code: string; redirectUri: string } | { refreshToken: string },
    now: Date,
  ): Promise<GithubToken> {
    const form = new URLSearchParams({ client_id: client.id, client_secret: client.secret });
    if ('code' in grant) {
      form.set('grant_type', 'authorization_code');
      form.set('code', grant.code);
      form.set('redirect_uri', grant.redirectUri);
    } else {
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', grant.refreshToken);
    }
    const url = `${this.endpoints.web}/login/oauth/access_token`;
    const response = await this.send(
      url,
      'POST',
      { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      form.toString(),
    );
    if (response.status !== 200) throw await statusError('POST /login/oauth/access_token', response);
    const body = tokenResponseSchema.safeParse(await readJson('POST /login/oauth/access_token', response));
    if (!body.success)
      throw new GithubRequestError('POST /login/oauth/access_token: unexpected response', 200, false, {
        cause: body.error,
      });
    if ('error' in body.data) {
      const detail =
        body.data.error_description === undefined
          ? body.data.error
          : `${body.data.error}: ${body.data.error_description}`;
      throw new GithubRequestError(`POST /login/oauth/access_token: ${detail}`, 200, false);
    }
    const { access_token: accessToken, refresh_token: refreshToken, expires_in: expiresIn } = body.data;
    return {
      accessToken,
      refreshToken,
      expiry: expiresIn === undefined ? undefined : new Date(now.getTime() + expiresIn * 1000),
    };
  }

  /** GET one API resource (`path` under the API base). */
  async get<T extends z.ZodType>(path: string, token: string, schema: T): Promise<z.infer<T>> {
    return (await this.getPage(`${this.endpoints.api}${path}`, token, schema)).value;
  }

  /** GET a list resource, following `Link: <…>; rel="next"` through every page. */
  async getAll<T extends z.ZodType>(path: string, token: string, item: T): Promise<Array<z.infer<T>>> {
    const items: Array<z.infer<T>> = [];
    let url: string | undefined = `${this.endpoints.api}${path}?per_page=100`;
    for (let page = 0; url !== undefined; page++) {
      if (page === MAX_PAGES) throw new GithubRequestError(`GET ${path}: more than ${MAX_PAGES} pages`, 200, false);
      const result: { value: Array<z.infer<T>>; next: string | undefined } = await this.getPage(
        url,
        token,
        z.array(item),
      );
      items.push(...result.value);
      url = result.next;
    }
    return items;
  }

  /**
   * Whether `login` is a member of `org` (GET /orgs/{org}/members/{login}): 204 yes; 404, or 302 when
   * the requester is not a member, no. Both also mean the org has not granted this OAuth app access.
   */
  async isOrgMember(org: string, login: string, token: string): Promise<boolean> {
    const path = `/orgs/${encodeURIComponent(org)}/members/${encodeURIComponent(login)}`;
    const response = await this.send(`${this.endpoints.api}${path}`, 'GET', apiHeaders(token));
    if (response.status === 204) return true;
    if (response.status === 302 || response.status === 404) return false;
    throw await statusError(`GET ${path}`, response);
  }

  private async getPage<T extends z.ZodType>(
    url: string,
    token: string,
    schema: T,
  ): Promise<{ value: z.infer<T>; next: string | undefined }> {
    const what = `GET ${new URL(url).pathname}`;
    const response = await this.send(url, 'GET', apiHeaders(token));
    if (response.status !== 200) throw await statusError(what, response);
    const parsed = schema.safeParse(await readJson(what, response));
    if (!parsed.success)
      throw new GithubRequestError(`${what}: unexpected response: ${parsed.error.message}`, 200, false, {
        cause: parsed.error,
      });
    return { value: parsed.data, next: this.nextPage(what, response.headers.get('link')) };
  }

  // The access token goes with every page, so a next link is followed only on the API's own origin.
  private nextPage(what: string, link: string | null): string | undefined {
    const next = link
      ?.split(',')
      .map((part) => /^\s*<([^>]+)>\s*;(?:.*;)?\s*rel="?next"?/.exec(part)?.[1])
      .find((url) => url !== undefined);
    if (next === undefined) return undefined;
    const api = new URL(this.endpoints.api);
    let url: URL;
    try {
      url = new URL(next, api);
    } catch (err: unknown) {
      throw new GithubRequestError(`${what}: unreadable Link header`, 200, false, { cause: err });
    }
    if (url.origin !== api.origin)
      throw new GithubRequestError(`${what}: next page ${url.origin} is not on the API host ${api.origin}`, 200, false);
    return url.href;
  }

  private async send(
    url: string,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body?: string,
  ): Promise<Response> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.closing]);
    try {
      // GitHub refuses API requests without a User-Agent.
      return await this.fetchFn(url, {
        method,
        headers: { 'user-agent': 'idport', ...headers },
        body,
        redirect: 'manual',
        signal,
      });
    } catch (err: unknown) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new GithubRequestError(`${method} ${new URL(url).pathname}: ${reason}`, undefined, true, { cause: err });
    }
  }
}

const apiHeaders = (token: string): Record<string, string> => ({
  accept: 'application/vnd.github+json',
  authorization: `Bearer ${token}`,
  'x-github-api-version': API_VERSION,
});

async function readJson(what: string, response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch (err: unknown) {
    // A body cut off mid-way is the network's fault; a complete body that is not JSON is GitHub's.
    throw new GithubRequestError(
      `${what}: response is not JSON`,
      response.status,
      err instanceof Error && err.name === 'AbortError',
      { cause: err },
    );
  }
}

// 5xx, 429 and an exhausted rate limit (403 with x-ratelimit-remaining: 0) pass; anything else is a verdict.
async function statusError(what: string, response: Response): Promise<GithubRequestError> {
  const text = await response.text().catch(() => '');
  let message = text.slice(0, 200);
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string')
      message = body.message;
  } catch {
    // Not JSON (an HTML error page from a proxy): the start of the text is the best description.
  }
  const rateLimited =
    response.status === 429 || (response.status === 403 && response.headers.get('x-ratelimit-remaining') === '0');
  return new GithubRequestError(
    `${what}: HTTP ${response.status} ${message}`.trim(),
    response.status,
    response.status >= 500 || rateLimited,
  );
}

/**
 * Multi-request flows of `npm run bench`, driven from this process with fetch (each step depends on the previous
 * answer's Location and cookies, which wrk's Lua cannot follow per connection): the browser flow that mints
 * authorization codes (/auth → /auth/mock → /callback → the client's redirect URI with a code), the login through
 * the password page (its form, its CSRF field, bcrypt), and the token request that completes a login.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { BASIC, CLIENT, PASSWORD, passwordUser } from './servers.js';
import type { Measured } from './wrk.js';

export const SCOPE = 'openid email profile offline_access';

type Jar = Map<string, string>;

const send = async (jar: Jar, url: string, init: RequestInit = {}): Promise<Response> => {
  const headers = new Headers(init.headers);
  if (jar.size > 0) headers.set('cookie', [...jar].map(([name, value]) => `${name}=${value}`).join('; '));
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const cookie of response.headers.getSetCookie()) {
    const [pair = ''] = cookie.split(';');
    const at = pair.indexOf('=');
    if (at > 0) jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  return response;
};

const fail = async (response: Response, where: string): Promise<never> => {
  throw new Error(`${where}: unexpected ${response.status} ${(await response.text()).slice(0, 300)}`);
};

/** Submits the password page's form (its action and CSRF field) with user `user`'s credentials. */
const submitPasswordForm = async (jar: Jar, url: string, page: string, user: number): Promise<Response> => {
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1]?.replaceAll('&amp;', '&');
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  if (action === undefined || csrf === undefined) throw new Error(`no password form at ${url}`);
  const body = new URLSearchParams({ csrf, login: passwordUser(user), password: PASSWORD });
  return send(jar, new URL(action, url).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  });
};

/**
 * One browser login from a cookie-less browser through `connector` (`mock`: mockCallback, `local`: the password
 * page, as password user `user`), following every redirect as a browser would; returns the code the client receives.
 */
export const browserLogin = async (issuer: string, connector: 'mock' | 'local', user = 0): Promise<string> => {
  const jar: Jar = new Map();
  const query = new URLSearchParams({
    client_id: CLIENT.id,
    response_type: 'code',
    scope: SCOPE,
    redirect_uri: CLIENT.redirectUri,
    state: randomBytes(12).toString('base64url'),
    connector_id: connector,
  });
  let url = `${issuer}/auth?${query.toString()}`;
  let response = await send(jar, url);
  for (let hop = 0; hop < 12; hop++) {
    if (response.status >= 300 && response.status < 400) {
      await response.arrayBuffer();
      const next = new URL(response.headers.get('location') ?? '', url);
      if (next.href.startsWith(CLIENT.redirectUri)) {
        const code = next.searchParams.get('code');
        if (code === null) throw new Error(`redirect without a code: ${next.href}`);
        return code;
      }
      url = next.href;
      response = await send(jar, url);
    } else if (response.status === 200 && connector === 'local') {
      response = await submitPasswordForm(jar, url, await response.text(), user);
    } else return fail(response, url);
  }
  throw new Error(`more than 12 redirects from ${issuer}/auth`);
};

export interface TokenAnswer {
  readonly access_token: string;
  readonly refresh_token?: string;
  readonly id_token?: string;
}

/** POSTs a form to the token endpoint as the bench client (client_secret_basic); anything but 200 throws. */
export const tokenRequest = async (issuer: string, form: Record<string, string>): Promise<TokenAnswer> => {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  if (response.status !== 200) return fail(response, `${issuer}/token`);
  return (await response.json()) as TokenAnswer;
};

export const redeemCode = (issuer: string, code: string): Promise<TokenAnswer> =>
  tokenRequest(issuer, { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirectUri });

/** A complete login: the browser flow through `connector`, then the client redeems the code. */
export const completeLogin = async (issuer: string, connector: 'mock' | 'local', user = 0): Promise<TokenAnswer> =>
  redeemCode(issuer, await browserLogin(issuer, connector, user));

/** Runs `task` `n` times with `concurrency` in flight; returns the results in completion order. */
export const repeat = async <T>(n: number, concurrency: number, task: () => Promise<T>): Promise<T[]> => {
  const results: T[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < n) {
      started++;
      results.push(await task());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return results;
};

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

/**
 * Keeps `concurrency` flows in flight for `seconds` (flows started before the end finish) and reports completed
 * flows per second and each flow's latency percentiles. A failing flow counts as a failure and is not timed.
 */
export const drive = async (
  seconds: number,
  concurrency: number,
  task: (worker: number) => Promise<unknown>,
): Promise<Measured> => {
  const latencies: number[] = [];
  let failures = 0;
  let firstError = '';
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async (index: number): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await task(index);
        latencies.push(performance.now() - t0);
      } catch (error) {
        failures++;
        firstError ||= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    requests: latencies.length,
    failures,
    note: failures > 0 ? `${failures} failed: ${firstError.slice(0, 200)}` : undefined,
  };
};

/**
 * `fetch` for tests, answering requests to an in-process idport through `app.inject()` instead of a socket. Route
 * rules (status, headers, body, cookies) do not need a real socket, and inject() is several times faster; requests
 * to any other origin (fake upstreams, a client's redirect URI) go to the real fetch.
 */
import type { FastifyInstance } from 'fastify';

/** In-process apps by origin (`http://idport-3.test`). */
const apps = new Map<string, FastifyInstance>();
let next = 0;

/** A fresh origin no socket answers (the issuer must be known before the app is built). */
export const reserveInProcessOrigin = (): string => `http://idport-${++next}.test`;

/** From now on, requests to `origin` through testFetch are injected into `app`. */
export const registerInProcess = (origin: string, app: FastifyInstance): void => {
  apps.set(origin, app);
};

export const unregisterInProcess = (origin: string): void => {
  apps.delete(origin);
};

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

const urlOf = (input: string | URL | Request): URL =>
  new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);

/** One request through inject(), as a WHATWG Response (no redirect following). */
const injectOnce = async (app: FastifyInstance, url: URL, init: RequestInit): Promise<Response> => {
  const headers = new Headers(init.headers);
  let payload: string | Buffer | undefined;
  const { body } = init;
  if (body instanceof URLSearchParams) {
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    payload = body.toString();
  } else if (typeof body === 'string') payload = body;
  else if (body instanceof Uint8Array) payload = Buffer.from(body);
  else if (body !== undefined && body !== null) throw new Error('in-process fetch: unsupported body type');
  headers.set('host', url.host);
  const injected = await app.inject({
    method: (init.method ?? 'GET').toUpperCase() as 'GET',
    url: `${url.pathname}${url.search}`,
    headers: Object.fromEntries(headers),
    ...(payload !== undefined ? { payload } : {}),
  });
  const responseHeaders = new Headers();
  for (const [name, value] of Object.entries(injected.headers)) {
    if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, String(v));
    else if (value !== undefined) responseHeaders.set(name, String(value));
  }
  const response = new Response(NULL_BODY_STATUSES.has(injected.statusCode) ? null : injected.rawPayload, {
    status: injected.statusCode,
    statusText: injected.statusMessage,
    headers: responseHeaders,
  });
  Object.defineProperty(response, 'url', { value: url.href });
  return response;
};

/** `fetch` that injects requests for registered origins (following redirects unless told not to). */
export const testFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
  let url = urlOf(input);
  if (!apps.has(url.origin)) return fetch(input, init);
  let request = init;
  for (let hops = 0; hops < 20; hops++) {
    const app = apps.get(url.origin);
    if (app === undefined) return fetch(url, request);
    const response = await injectOnce(app, url, request);
    const location = response.headers.get('location');
    if (init.redirect === 'manual' || response.status < 300 || response.status >= 400 || location === null)
      return response;
    if (init.redirect === 'error') throw new TypeError('fetch failed: redirect');
    url = new URL(location, url);
    // As fetch: 303 (and 301/302 after a POST) become a GET without a body.
    if (response.status === 303 || ((response.status === 301 || response.status === 302) && request.method === 'POST'))
      request = { ...request, method: 'GET', body: undefined };
  }
  throw new TypeError('fetch failed: too many redirects');
};

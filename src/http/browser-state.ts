/**
 * The one home of cookie and query-string handling for browser routes: the browser-binding cookie, the session
 * cookie's attributes, and reading the raw query. Route modules take these from here and never from each other.
 */
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomToken } from '../oauth/primitives/secrets.js';
import type { Provider } from '../oauth/provider.js';
import type { SessionCookie } from '../oauth/session/sessions.js';

/** The cookie that binds a login to the browser that started it (login CSRF across browsers). */
const BROWSER_COOKIE = 'idport_browser';

/** HttpOnly, SameSite=Lax (sent on top-level redirects from clients), Secure on https issuers, scoped to the issuer path. */
const cookieOptions = (provider: Provider) =>
  ({
    httpOnly: true,
    sameSite: 'lax',
    secure: provider.settings.issuer.startsWith('https:'),
    path: provider.settings.basePath === '' ? '/' : provider.settings.basePath,
  }) as const;

/** The browser-binding cookie as sent, without setting one. */
export const browserCookieOf = (request: FastifyRequest): string | undefined => request.cookies[BROWSER_COOKIE];

/** The browser-binding cookie (sent on the top-level redirect back from an upstream: SameSite=Lax), set when absent. */
export const browserIdOf = (provider: Provider, request: FastifyRequest, reply: FastifyReply): string => {
  const existing = request.cookies[BROWSER_COOKIE];
  if (existing !== undefined && existing.length >= 32) return existing;
  const created = randomToken(provider.deps.randomBytes);
  void reply.setCookie(BROWSER_COOKIE, created, cookieOptions(provider));
  return created;
};

/** The session cookie as sent. */
export const sessionCookieOf = (provider: Provider, request: FastifyRequest): string | undefined =>
  request.cookies[provider.settings.sessions.cookieName];

/** Sets the session cookie a login started or refreshed. */
export const setSessionCookie = (provider: Provider, reply: FastifyReply, cookie: SessionCookie): void => {
  void reply.setCookie(provider.settings.sessions.cookieName, cookie.value, {
    ...cookieOptions(provider),
    ...(cookie.maxAgeSeconds !== undefined ? { maxAge: cookie.maxAgeSeconds } : {}),
  });
};

/** Removes the session cookie (logout). */
export const clearSessionCookie = (provider: Provider, reply: FastifyReply): void => {
  void reply.clearCookie(provider.settings.sessions.cookieName, cookieOptions(provider));
};

/** The raw query string as URLSearchParams, repeated parameters kept (fastify's parsed query folds them). */
export const queryOf = (request: FastifyRequest): URLSearchParams => {
  const mark = request.url.indexOf('?');
  return new URLSearchParams(mark < 0 ? '' : request.url.slice(mark + 1));
};

/** One query parameter, when sent once as a string. */
export const queryParam = (request: FastifyRequest, name: string): string | undefined => {
  const value = (request.query as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
};

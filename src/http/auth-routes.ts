/** Browser routes of the authorization flow: /auth, connector logins, callbacks and the approval page. */
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  approvedResponse,
  checkCsrf,
  chooseConnector,
  connectorOf,
  deniedResponse,
  finishLogin,
  loadRequest,
  needsApproval,
  saveConnectorState,
  scopesOf,
  startAuthorization,
} from '../oauth/authorize/flow.js';
import { AuthorizePageError } from '../oauth/authorize/request.js';
import { deviceCallbackUrl, formatUserCode } from '../oauth/device/authorization.js';
import type { Provider } from '../oauth/provider.js';
import type { SessionCookie } from '../oauth/session/sessions.js';
import { randomToken } from '../oauth/primitives/secrets.js';
import { renderApproval, renderLogin, renderPassword } from '../../web/render.js';
import type { AuthRequest } from '../../storage/storage.js';
import type { CallbackConnector, CallbackHeaders, Identity } from '../../connectors/connector.js';
import { pageErrorHandler } from './errors.js';
import { passwordLoginRateLimit } from './rate-limit.js';
import { formOf } from './form.js';
import { redirect, sendAuthorizationResponse, sendPage, type PageContext } from './pages.js';
import { samlRoutes, sendSamlLogin } from './saml-routes.js';

/** The cookie that binds a login to the browser that started it (login CSRF across browsers). */
export const BROWSER_COOKIE = 'idport_browser';

export interface AuthRoutesOptions {
  readonly provider: Provider;
  readonly page: PageContext;
  /** Password attempts per client IP per minute (default PASSWORD_ATTEMPTS_PER_MINUTE). */
  readonly passwordAttemptsPerMinute?: number | undefined;
}

/** Reads the browser-binding cookie, setting a new one when absent. */
/** Attributes of idport's cookies. */
export const sessionCookieOptions = (provider: Provider) =>
  ({
    httpOnly: true,
    sameSite: 'lax',
    secure: provider.settings.issuer.startsWith('https:'),
    path: provider.settings.basePath === '' ? '/' : provider.settings.basePath,
  }) as const;

/** The browser-binding cookie (sent on the top-level redirect back from an upstream: SameSite=Lax), set when absent. */
export const browserIdOf = (provider: Provider, request: FastifyRequest, reply: FastifyReply): string => {
  const existing = request.cookies[BROWSER_COOKIE];
  if (existing !== undefined && existing.length >= 32) return existing;
  const created = randomToken(provider.deps.randomBytes);
  void reply.setCookie(BROWSER_COOKIE, created, sessionCookieOptions(provider));
  return created;
};

const param = (request: FastifyRequest, name: string): string | undefined => {
  const value = (request.query as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
};

export const authRoutes = async (app: FastifyInstance, options: AuthRoutesOptions): Promise<void> => {
  const { provider, page } = options;
  const base = provider.settings.basePath;
  const sessionCookie = provider.settings.sessions.cookieName;
  app.setErrorHandler(pageErrorHandler(provider, page));

  /** HttpOnly, SameSite=Lax (sent on top-level redirects from clients), Secure on https issuers, scoped to the issuer path. */
  const setSessionCookie = (reply: FastifyReply, cookie: SessionCookie): void => {
    void reply.setCookie(sessionCookie, cookie.value, {
      ...sessionCookieOptions(provider),
      ...(cookie.maxAgeSeconds !== undefined ? { maxAge: cookie.maxAgeSeconds } : {}),
    });
  };

  const connectorUrl = (connectorId: string, request: AuthRequest): string =>
    `${base}/auth/${encodeURIComponent(connectorId)}?req=${encodeURIComponent(request.id)}`;

  // OIDC Core §3.1.2.1: the authorization endpoint must support GET and POST.
  const authorize = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const params =
      request.method === 'POST'
        ? formOf(request)
        : new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1));
    if (!request.url.includes('?') && request.method === 'GET') params.delete(request.url);
    const start = await startAuthorization(
      provider,
      params,
      browserIdOf(provider, request, reply),
      request.cookies[sessionCookie],
    );
    if (start.kind === 'respond') return sendAuthorizationResponse(reply, page, start.response);
    if (start.kind === 'loggedIn') return afterLogin(start.request, reply);
    if (start.kind === 'connector') return redirect(reply, connectorUrl(start.connectorId, start.request));
    const connectors = [...provider.connectors.values()].map((c) => ({
      name: c.name,
      type: c.type,
      url: connectorUrl(c.id, start.request),
    }));
    sendPage(reply, page, renderLogin({ ...page.base, connectors }));
  };
  app.get('/auth', authorize);
  app.post('/auth', authorize);

  app.get<{ Params: { connector: string } }>('/auth/:connector', async (request, reply) => {
    const pending = await loadRequest(provider, param(request, 'req'), request.cookies[BROWSER_COOKIE]);
    const entry = connectorOf(provider, request.params.connector);
    const chosen = await chooseConnector(provider, pending, entry.id);
    const { connector } = entry;
    if (connector.kind === 'password')
      return redirect(
        reply,
        `${base}/auth/${encodeURIComponent(entry.id)}/login?state=${encodeURIComponent(chosen.id)}`,
      );
    if (connector.kind === 'callback') {
      const { url, connectorState } = await connector.loginUrl(
        scopesOf(chosen),
        `${provider.settings.issuer}/callback`,
        chosen.id,
      );
      await saveConnectorState(provider, chosen, connectorState);
      return redirect(reply, url);
    }
    return sendSamlLogin(provider, page, reply, chosen, connector);
  });

  const passwordPage = (
    pending: AuthRequest,
    connectorId: string,
    username: string,
    invalid: boolean,
    rememberMe = provider.settings.sessions.rememberMeDefault,
  ): string => {
    const entry = connectorOf(provider, connectorId);
    if (entry.connector.kind !== 'password') throw new AuthorizePageError('This connector does not take a password.');
    return renderPassword({
      ...page.base,
      postUrl: `${base}/auth/${encodeURIComponent(connectorId)}/login?state=${encodeURIComponent(pending.id)}`,
      username,
      usernamePrompt: entry.connector.prompt(),
      invalid,
      csrfToken: pending.csrfToken,
      rememberMe: { shown: true, checked: rememberMe },
      ...(provider.connectors.size > 1 ? { backUrl: backUrlOf(provider, pending) } : {}),
    });
  };

  app.get<{ Params: { connector: string } }>('/auth/:connector/login', async (request, reply) => {
    const pending = await loadRequest(provider, param(request, 'state'), request.cookies[BROWSER_COOKIE]);
    if (pending.connectorId !== request.params.connector)
      throw new AuthorizePageError('This login request belongs to another connector.');
    sendPage(reply, page, passwordPage(pending, pending.connectorId, pending.loginHint, false));
  });

  app.post<{ Params: { connector: string } }>(
    '/auth/:connector/login',
    { config: { rateLimit: passwordLoginRateLimit(options.passwordAttemptsPerMinute) } },
    async (request, reply) => {
      const pending = await loadRequest(provider, param(request, 'state'), request.cookies[BROWSER_COOKIE]);
      const form = formOf(request);
      checkCsrf(pending, form.get('csrf') ?? undefined);
      if (pending.connectorId !== request.params.connector)
        throw new AuthorizePageError('This login request belongs to another connector.');
      const entry = connectorOf(provider, pending.connectorId);
      if (entry.connector.kind !== 'password') throw new AuthorizePageError('This connector does not take a password.');
      const username = form.get('login') ?? '';
      const identity = await entry.connector.login(scopesOf(pending), username, form.get('password') ?? '');
      const rememberMe = form.get('remember_me') === 'on';
      if (identity === undefined)
        return sendPage(reply, page, passwordPage(pending, pending.connectorId, username, true, rememberMe), 401);
      const loggedIn = await finishLogin(provider, pending, identity, {
        rememberMe,
        sessionCookie: request.cookies[sessionCookie],
      });
      setSessionCookie(reply, loggedIn.cookie);
      return afterLogin(loggedIn.request, reply);
    },
  );

  /** An upstream login (callback or SAML) has no form to ask "remember me": the configured default decides. */
  const completeLogin = async (
    request: FastifyRequest,
    reply: FastifyReply,
    pending: AuthRequest,
    identity: Identity,
  ): Promise<void> => {
    const loggedIn = await finishLogin(provider, pending, identity, {
      rememberMe: provider.settings.sessions.rememberMeDefault,
      sessionCookie: request.cookies[sessionCookie],
    });
    setSessionCookie(reply, loggedIn.cookie);
    return afterLogin(loggedIn.request, reply);
  };

  const callback = async (
    request: FastifyRequest<{ Params: { connector?: string } }>,
    reply: FastifyReply,
  ): Promise<void> => {
    const pending = await loadRequest(provider, param(request, 'state'), request.cookies[BROWSER_COOKIE]);
    const connectorId = request.params.connector ?? pending.connectorId;
    if (connectorId !== pending.connectorId)
      throw new AuthorizePageError('This login request belongs to another connector.');
    const entry = connectorOf(provider, connectorId);
    if (entry.connector.kind !== 'callback') throw new AuthorizePageError('This connector does not use callbacks.');
    const query = new URLSearchParams(request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '');
    // Only the connector's own callback path carries its trusted headers (a proxy guards that path, as in Dex).
    const headers =
      request.params.connector === undefined ? new Map<string, string>() : trustedHeaders(entry.connector, request);
    const identity = await entry.connector.handleCallback(scopesOf(pending), pending.connectorState, query, headers);
    return completeLogin(request, reply, pending, identity);
  };
  app.get('/callback', callback);
  app.get('/callback/:connector', callback);
  // SAML's ACS: POST /callback and /callback/:connector (Dex's paths), continued same-site (see saml-routes.ts).
  samlRoutes(app, { provider, page, browserCookie: BROWSER_COOKIE, complete: completeLogin });

  const afterLogin = async (request: AuthRequest, reply: FastifyReply): Promise<void> => {
    if (!(await needsApproval(provider, request)))
      return sendAuthorizationResponse(reply, page, await approvedResponse(provider, request));
    return redirect(reply, `${base}/approval?req=${encodeURIComponent(request.id)}`);
  };

  app.get('/approval', async (request, reply) => {
    const pending = await loadRequest(provider, param(request, 'req'), request.cookies[BROWSER_COOKIE]);
    if (!pending.loggedIn) throw new AuthorizePageError('Log in before approving this request.');
    if (!(await needsApproval(provider, pending)))
      return sendAuthorizationResponse(reply, page, await approvedResponse(provider, pending));
    const client = await provider.storage.clients.get(pending.clientId);
    sendPage(
      reply,
      page,
      renderApproval({
        ...page.base,
        clientName: client?.name !== undefined && client.name !== '' ? client.name : pending.clientId,
        ...(client?.logoURL ? { clientLogoUrl: client.logoURL } : {}),
        scopes: pending.scopes,
        postUrl: `${base}/approval`,
        authReqId: pending.id,
        csrfToken: pending.csrfToken,
      }),
    );
  });

  app.post('/approval', async (request, reply) => {
    const form = formOf(request);
    const pending = await loadRequest(provider, form.get('req') ?? undefined, request.cookies[BROWSER_COOKIE]);
    checkCsrf(pending, form.get('csrf') ?? undefined);
    if (!pending.loggedIn) throw new AuthorizePageError('Log in before approving this request.');
    const response =
      form.get('approval') === 'approve'
        ? await approvedResponse(provider, pending)
        : await deniedResponse(provider, pending);
    sendAuthorizationResponse(reply, page, response);
  });
};

/** The headers a callback connector declared, first value of each (Go's Header.Get), by lower-case name. */
const trustedHeaders = (connector: CallbackConnector, request: FastifyRequest): CallbackHeaders => {
  const headers = new Map<string, string>();
  for (const name of connector.callbackHeaders ?? []) {
    const value = request.raw.headersDistinct[name.toLowerCase()]?.[0];
    if (value !== undefined) headers.set(name.toLowerCase(), value);
  }
  return headers;
};

/**
 * Where "Choose another login method" leads: the original request again, or for a device login (whose redirect
 * URI is idport's own device callback, not a client's) the code-entry page with its user code.
 */
const backUrlOf = (provider: Provider, pending: AuthRequest): string => {
  const base = provider.settings.basePath;
  if (pending.redirectUri === deviceCallbackUrl(provider.settings)) {
    const userCode = pending.state.slice(0, Math.max(0, pending.state.indexOf('.')));
    return `${base}/device?${new URLSearchParams({ user_code: formatUserCode(userCode) }).toString()}`;
  }
  return `${base}/auth?${backQuery(pending)}`;
};

/**
 * The chooser link from a password page: the original request again, so the user can pick another connector.
 * Everything that shapes the response is kept (an explicit response_mode, forced consent, max_age, login_hint),
 * or going back would quietly change where and how the client gets its answer.
 */
const backQuery = (request: AuthRequest): string => {
  const params = new URLSearchParams({
    client_id: request.clientId,
    response_type: request.responseTypes.join(' '),
    scope: request.scopes.join(' '),
    response_mode: request.responseMode,
  });
  // Only when the client sent it: a redirect_uri in the request obliges the client to repeat it at /token (RFC 6749 §4.1.3).
  if (request.redirectUriSent) params.set('redirect_uri', request.redirectUri);
  if (request.state !== '') params.set('state', request.state);
  if (request.nonce !== '') params.set('nonce', request.nonce);
  if (request.codeChallenge !== '') {
    params.set('code_challenge', request.codeChallenge);
    params.set('code_challenge_method', request.codeChallengeMethod);
  }
  if (request.prompt.length > 0) params.set('prompt', request.prompt.join(' '));
  if (request.forceApproval) params.set('approval_prompt', 'force');
  if (request.maxAge !== undefined) params.set('max_age', String(request.maxAge));
  if (request.loginHint !== '') params.set('login_hint', request.loginHint);
  return params.toString();
};

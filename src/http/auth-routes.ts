/**
 * Browser routes of the authorization flow: /auth, connector logins, callbacks and the approval page. Each handler
 * parses the request, calls src/oauth/authorize, and renders what it returns.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthRequest } from '../../storage/storage.js';
import { renderApproval, renderFormPost, renderLogin, renderPassword } from '../../web/render.js';
import {
  callbackLogin,
  connectorChoices,
  connectorUrl,
  passwordLogin,
  startConnectorLogin,
} from '../oauth/authorize/connector-step.js';
import { checkCsrf, chooseConnector, loadRequest, startAuthorization } from '../oauth/authorize/flow.js';
import { afterLogin, approvalAnswer, approvalPage, passwordForm, switchAccount } from '../oauth/authorize/steps.js';
import type { Provider } from '../oauth/provider.js';
import { browserCookieOf, browserIdOf, queryOf, queryParam, sessionCookieOf } from './browser-state.js';
import { completeLogin, sendStep } from './complete-login.js';
import { pageErrorHandler } from './errors.js';
import { formOf } from './form.js';
import { redirect, sendAuthorizationResponse, sendPage, type PageContext } from './pages.js';

export interface AuthRoutesOptions {
  readonly provider: Provider;
  readonly page: PageContext;
}

/** The password form of a pending request; `failed` carries the last attempt when it was refused. */
const passwordPageOf = (
  options: AuthRoutesOptions,
  pending: AuthRequest,
  named: string,
  failed?: { readonly username: string; readonly rememberMe: boolean },
): string => {
  const { provider, page } = options;
  const view = passwordForm(provider, pending, named);
  return renderPassword({
    ...page.base,
    postUrl: view.postUrl,
    username: failed?.username ?? pending.loginHint,
    usernamePrompt: view.usernamePrompt,
    invalid: failed !== undefined,
    csrfToken: pending.csrfToken,
    rememberMe: { shown: true, checked: failed?.rememberMe ?? provider.settings.sessions.rememberMeDefault },
    ...(view.backUrl !== undefined ? { backUrl: view.backUrl } : {}),
  });
};

/** /auth (GET and POST, OIDC Core §3.1.2.1) and the start of a connector login. */
const startRoutes = (app: FastifyInstance, options: AuthRoutesOptions): void => {
  const { provider, page } = options;
  const authorize = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const params = request.method === 'POST' ? formOf(request) : queryOf(request);
    const browserId = browserIdOf(provider, request, reply);
    const start = await startAuthorization(provider, params, browserId, sessionCookieOf(provider, request));
    if (start.kind === 'respond') return sendAuthorizationResponse(reply, page, start.response);
    if (start.kind === 'loggedIn') return sendStep(reply, page, await afterLogin(provider, start.request));
    if (start.kind === 'connector') return redirect(reply, connectorUrl(provider, start.connectorId, start.request.id));
    sendPage(reply, page, renderLogin({ ...page.base, connectors: connectorChoices(provider, start.request.id) }));
  };
  app.get('/auth', authorize);
  app.post('/auth', authorize);

  app.get<{ Params: { connector: string } }>('/auth/:connector', async (request, reply) => {
    const pending = await loadRequest(provider, queryParam(request, 'req'), browserCookieOf(request));
    const chosen = await chooseConnector(provider, pending, request.params.connector);
    const step = await startConnectorLogin(provider, chosen);
    if (step.kind === 'redirect') return redirect(reply, step.url);
    const form = renderFormPost({ ...page.base, redirectUri: step.action, params: step.params });
    sendPage(reply, page, form, { redirectUri: step.action });
  });
};

/** The password form of a password connector, and its POST. */
const passwordRoutes = (app: FastifyInstance, options: AuthRoutesOptions): void => {
  const { provider, page } = options;
  app.get<{ Params: { connector: string } }>('/auth/:connector/login', async (request, reply) => {
    const pending = await loadRequest(provider, queryParam(request, 'state'), browserCookieOf(request));
    sendPage(reply, page, passwordPageOf(options, pending, request.params.connector));
  });

  app.post<{ Params: { connector: string } }>('/auth/:connector/login', async (request, reply) => {
    const pending = await loadRequest(provider, queryParam(request, 'state'), browserCookieOf(request));
    const form = formOf(request);
    checkCsrf(pending, form.get('csrf') ?? undefined);
    const username = form.get('login') ?? '';
    const password = form.get('password') ?? '';
    const attempt = { named: request.params.connector, username, password, clientIp: request.ip };
    const identity = await passwordLogin(provider, pending, attempt);
    const rememberMe = form.get('remember_me') === 'on';
    if (identity === undefined) {
      const reason = 'invalid username or password';
      const who = { connector: pending.connectorId, username, client_id: pending.clientId };
      request.log.warn({ ...who, reason }, 'login failed');
      const retry = passwordPageOf(options, pending, pending.connectorId, { username, rememberMe });
      return sendPage(reply, page, retry, { status: 401 });
    }
    return completeLogin(options, request, reply, { pending, identity, rememberMe });
  });
};

/** The approval page (GET) and the user's answer (POST). */
const approvalRoutes = (app: FastifyInstance, options: AuthRoutesOptions): void => {
  const { provider, page } = options;
  app.get('/approval', async (request, reply) => {
    const pending = await loadRequest(provider, queryParam(request, 'req'), browserCookieOf(request));
    const view = await approvalPage(provider, pending);
    if ('kind' in view) return sendAuthorizationResponse(reply, page, view.response);
    const { basePath } = provider.settings;
    const model = { ...view, scopes: pending.scopes, postUrl: `${basePath}/approval`, authReqId: pending.id };
    sendPage(reply, page, renderApproval({ ...page.base, ...model, csrfToken: pending.csrfToken }));
  });

  app.post('/approval', async (request, reply) => {
    const form = formOf(request);
    const pending = await loadRequest(provider, form.get('req') ?? undefined, browserCookieOf(request));
    checkCsrf(pending, form.get('csrf') ?? undefined);
    if (form.get('approval') === 'switch') return redirect(reply, await switchAccount(provider, pending));
    const response = await approvalAnswer(provider, pending, form.get('approval') === 'approve');
    sendAuthorizationResponse(reply, page, response);
  });
};

export const authRoutes = async (app: FastifyInstance, options: AuthRoutesOptions): Promise<void> => {
  const { provider, page } = options;
  app.setErrorHandler(pageErrorHandler(provider, page));
  startRoutes(app, options);
  passwordRoutes(app, options);
  const callback = async (
    request: FastifyRequest<{ Params: { connector?: string } }>,
    reply: FastifyReply,
  ): Promise<void> => {
    const pending = await loadRequest(provider, queryParam(request, 'state'), browserCookieOf(request));
    const identity = await callbackLogin(provider, pending, {
      named: request.params.connector,
      query: queryOf(request),
      header: (name) => request.raw.headersDistinct[name]?.[0],
    });
    return completeLogin(options, request, reply, { pending, identity });
  };
  app.get('/callback', callback);
  app.get('/callback/:connector', callback);
  approvalRoutes(app, options);
};

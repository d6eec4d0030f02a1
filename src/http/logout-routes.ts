/** /logout: OpenID Connect RP-Initiated Logout 1.0, with a confirmation page when the client cannot be proven. */
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthorizePageError } from '../oauth/authorize/request.js';
import { endSession, subjectOf, validateLogout, type LogoutRequest } from '../oauth/session/logout.js';
import type { Provider } from '../oauth/provider.js';
import { loadSession } from '../oauth/session/sessions.js';
import { withResponseParams } from '../oauth/primitives/redirect-uri.js';
import { hashSecret, safeEqual } from '../oauth/primitives/secrets.js';
import { renderLoggedOut, renderLogout } from '../../web/render.js';
import { sessionCookieOptions } from './auth-routes.js';
import { pageErrorHandler } from './errors.js';
import { formOf } from './form.js';
import { redirect, sendPage, type PageContext } from './pages.js';

/** The confirmation form's CSRF token: derived from the session cookie, so only this browser can confirm. */
const csrfFor = (cookie: string): string => hashSecret(`idport-logout:${cookie}`);

/** Where a finished logout sends the browser (§3: the registered URI with `state`), or the logged-out page. */
const finish = (reply: FastifyReply, page: PageContext, request: LogoutRequest): void => {
  if (request.postLogoutRedirectUri !== undefined) {
    const state = new URLSearchParams(request.state === undefined ? {} : { state: request.state });
    return redirect(reply, withResponseParams(request.postLogoutRedirectUri, state));
  }
  sendPage(
    reply,
    page,
    renderLoggedOut({ ...page.base, ...(request.client?.name ? { clientName: request.client.name } : {}) }),
  );
};

export const logoutRoutes = async (
  app: FastifyInstance,
  options: { provider: Provider; page: PageContext },
): Promise<void> => {
  const { provider, page } = options;
  const cookieName = provider.settings.sessions.cookieName;
  app.setErrorHandler(pageErrorHandler(provider, page));

  const logout = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // The confirmation form carries the original parameters in its action URL and the CSRF token in its body.
    const params = new URLSearchParams(
      request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '',
    );
    if (request.method === 'POST') for (const [name, value] of formOf(request)) params.set(name, value);
    const logoutRequest = await validateLogout(provider, params);
    const cookie = request.cookies[cookieName];
    const session = await loadSession(provider, cookie);
    const confirmed = request.method === 'POST' && params.has('csrf');
    if (confirmed && (cookie === undefined || !safeEqual(params.get('csrf') ?? '', csrfFor(cookie)))) {
      throw new AuthorizePageError('The logout form was not submitted from this browser. Go back and try again.');
    }
    // A valid id_token_hint for this session's user proves the client asks on the user's behalf (§2); otherwise ask the user.
    const proven =
      logoutRequest.hintSubject !== undefined &&
      (session === undefined || logoutRequest.hintSubject === subjectOf(session));
    if (session !== undefined && cookie !== undefined && !proven && !confirmed) {
      const carried = new URLSearchParams();
      for (const name of ['post_logout_redirect_uri', 'state', 'client_id', 'id_token_hint']) {
        const value = params.get(name);
        if (value !== null) carried.set(name, value);
      }
      return sendPage(
        reply,
        page,
        renderLogout({
          ...page.base,
          postUrl: `${provider.settings.basePath}/logout?${carried.toString()}`,
          csrfToken: csrfFor(cookie),
        }),
      );
    }
    if (session !== undefined) {
      const { deliveries } = await endSession(provider, session);
      void deliveries; // back-channel notifications finish in the background
    }
    void reply.clearCookie(cookieName, sessionCookieOptions(provider));
    finish(reply, page, logoutRequest);
  };
  app.get('/logout', logout);
  app.post('/logout', logout);
};

/** /logout: OpenID Connect RP-Initiated Logout 1.0, with a confirmation page when the client cannot be proven. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderLoggedOut, renderLogout } from '../../web/render.js';
import type { Client } from '../../storage/storage.js';
import type { Provider } from '../oauth/provider.js';
import { decideLogout, type LogoutRequest } from '../oauth/session/logout.js';
import { withResponseParams } from '../oauth/primitives/redirect-uri.js';
import { clearSessionCookie, queryOf, sessionCookieOf } from './browser-state.js';
import { pageErrorHandler } from './errors.js';
import { formOf } from './form.js';
import { redirect, sendPage, type PageContext } from './pages.js';

/** Where a finished logout sends the browser (§3: the registered URI with `state`), or the logged-out page. */
const finish = (reply: FastifyReply, page: PageContext, request: LogoutRequest): void => {
  if (request.postLogoutRedirectUri !== undefined) {
    const state = new URLSearchParams(request.state === undefined ? {} : { state: request.state });
    return redirect(reply, withResponseParams(request.postLogoutRedirectUri, state));
  }
  const { client } = request;
  const clientName = client === undefined ? {} : { clientName: client.name || client.id };
  const returnUrl = client === undefined ? undefined : applicationUrlOf(client);
  sendPage(reply, page, renderLoggedOut({ ...page.base, ...clientName, ...(returnUrl ? { returnUrl } : {}) }));
};

/**
 * Where "Return to <app>" leads after a logout that named a client without a post_logout_redirect_uri: the first
 * registered post-logout URI, else the origin of the first web redirect URI (the application's front page).
 */
const applicationUrlOf = (client: Client): string | undefined => {
  const [registered] = client.postLogoutRedirectURIs ?? [];
  if (registered !== undefined) return registered;
  const web = client.redirectURIs.find((uri) => /^https?:\/\//.test(uri));
  return web === undefined ? undefined : `${new URL(web).origin}/`;
};

export const logoutRoutes = async (
  app: FastifyInstance,
  options: { provider: Provider; page: PageContext },
): Promise<void> => {
  const { provider, page } = options;
  app.setErrorHandler(pageErrorHandler(provider, page));

  const logout = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // The confirmation form carries the original parameters in its action URL and the CSRF token in its body.
    const params = queryOf(request);
    const posted = request.method === 'POST';
    if (posted) for (const [name, value] of formOf(request)) params.set(name, value);
    const step = await decideLogout(provider, { params, cookie: sessionCookieOf(provider, request), posted });
    if (step.kind === 'confirm') {
      const { postUrl, csrfToken, signedInAs } = step;
      return sendPage(reply, page, renderLogout({ ...page.base, postUrl, csrfToken, signedInAs }));
    }
    clearSessionCookie(provider, reply);
    finish(reply, page, step.request);
  };
  app.get('/logout', logout);
  app.post('/logout', logout);
};

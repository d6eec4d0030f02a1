/**
 * The end of every connector login (password, callback, SAML): the browser session starts, then approval or the
 * authorization response. Shared by the route modules that finish logins, which never import each other.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Identity } from '../../connectors/connector.js';
import type { AuthRequest } from '../../storage/storage.js';
import { finishLogin } from '../oauth/authorize/flow.js';
import { afterLogin, type ApprovalStep } from '../oauth/authorize/steps.js';
import type { Provider } from '../oauth/provider.js';
import { sessionCookieOf, setSessionCookie } from './browser-state.js';
import { redirect, sendAuthorizationResponse, type PageContext } from './pages.js';

/** Renders an approval step: the authorization response, or a redirect to the approval page. */
export const sendStep = (reply: FastifyReply, page: PageContext, step: ApprovalStep): void =>
  step.kind === 'respond' ? sendAuthorizationResponse(reply, page, step.response) : redirect(reply, step.url);

/** A login a connector verified; `rememberMe` from the password form (an upstream login has none: the default decides). */
export interface VerifiedLogin {
  readonly pending: AuthRequest;
  readonly identity: Identity;
  readonly rememberMe?: boolean;
}

/** Starts the browser session of a verified login, then answers with approval or the authorization response. */
export const completeLogin = async (
  context: { readonly provider: Provider; readonly page: PageContext },
  request: FastifyRequest,
  reply: FastifyReply,
  login: VerifiedLogin,
): Promise<void> => {
  const { provider, page } = context;
  const loggedIn = await finishLogin(provider, login.pending, login.identity, {
    rememberMe: login.rememberMe ?? provider.settings.sessions.rememberMeDefault,
    sessionCookie: sessionCookieOf(provider, request),
  });
  setSessionCookie(provider, reply, loggedIn.cookie);
  const { claims, connectorId, clientId } = loggedIn.request;
  const user = { user: claims?.username, email: claims?.email, connector: connectorId, client_id: clientId };
  request.log.info(user, 'login successful');
  sendStep(reply, page, await afterLogin(provider, loggedIn.request));
};

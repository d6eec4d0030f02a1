/**
 * The SAML side of the browser flow (HTTP-POST binding both ways): the AuthnRequest form to the IdP, and the
 * Assertion Consumer Service at Dex's `/callback`.
 *
 * The IdP answers with a cross-site POST, which carries no SameSite=Lax cookie, so the ACS cannot tell whose
 * browser it is. It therefore decides nothing: it re-posts the response from a page of idport's own origin to
 * `/callback/saml/continue`, a same-site POST on which the browser-binding cookie is sent. There the auth request
 * is loaded for this browser only (as every other connector's callback does), its SAML request id is used up, and
 * only then is the response verified. That is the protection a callback connector's /callback has (a cross-site
 * top-level GET carries the Lax cookie too): a response counts only with the RelayState of a login bound to this
 * browser and only as the answer to that login's own AuthnRequest (InResponseTo), so another site posting its own
 * response through the ACS page gains nothing. Nothing changes for other connectors. The replay rule (the SAML request
 * used up by compare-and-swap) lives in src/oauth/authorize/connector-step.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderFormPost } from '../../web/render.js';
import { samlLogin } from '../oauth/authorize/connector-step.js';
import { loadRequest } from '../oauth/authorize/flow.js';
import { PageError } from '../oauth/primitives/page-error.js';
import type { Provider } from '../oauth/provider.js';
import { browserCookieOf } from './browser-state.js';
import { completeLogin } from './complete-login.js';
import { pageErrorHandler } from './errors.js';
import { formOf } from './form.js';
import { sendPage, type PageContext } from './pages.js';

/** Where the ACS page re-posts to: two segments, so no connector id under `/callback/:connector` can shadow it. */
export const SAML_CONTINUE_PATH = '/callback/saml/continue';

export interface SamlRoutesOptions {
  readonly provider: Provider;
  readonly page: PageContext;
}

/** Registers the ACS (`POST /callback`, `POST /callback/:connector`) and its same-site continuation. */
export const samlRoutes = async (app: FastifyInstance, options: SamlRoutesOptions): Promise<void> => {
  const { provider, page } = options;
  const base = provider.settings.basePath;
  app.setErrorHandler(pageErrorHandler(provider, page));

  const acs = async (
    request: FastifyRequest<{ Params: { connector?: string } }>,
    reply: FastifyReply,
  ): Promise<void> => {
    const form = formOf(request);
    const samlResponse = form.get('SAMLResponse');
    const relayState = form.get('RelayState');
    if (samlResponse === null || samlResponse === '' || relayState === null || relayState === '') {
      request.log.warn({ reason: 'POST without SAMLResponse or RelayState' }, 'SAML response refused');
      throw new PageError('saml_response_missing');
    }
    const { connector } = request.params;
    const query = connector === undefined ? '' : `?${new URLSearchParams({ connector }).toString()}`;
    const params = { SAMLResponse: samlResponse, RelayState: relayState };
    sendPage(
      reply,
      page,
      renderFormPost({ ...page.base, redirectUri: `${base}${SAML_CONTINUE_PATH}${query}`, params }),
    );
  };
  app.post('/callback', acs);
  app.post('/callback/:connector', acs);

  app.post<{ Querystring: { connector?: string } }>(SAML_CONTINUE_PATH, async (request, reply) => {
    const form = formOf(request);
    const relayState = form.get('RelayState') ?? '';
    const pending = await loadRequest(provider, relayState, browserCookieOf(request)).catch((err: unknown) => {
      const reason =
        'RelayState names no pending login of this browser (unknown, expired, finished, or another browser)';
      request.log.warn({ reason }, 'SAML response refused');
      throw err;
    });
    // Dex: /callback/<id> must be the connector the login was started with.
    const named = typeof request.query.connector === 'string' ? request.query.connector : undefined;
    const samlResponse = form.get('SAMLResponse') ?? '';
    const identity = await samlLogin(provider, pending, { named, samlResponse, relayState });
    return completeLogin(options, request, reply, { pending, identity });
  });
};

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
 * response through the ACS page gains nothing. Nothing changes for other connectors.
 */
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConnectorError, type Identity, type SamlConnector } from '../../connectors/connector.js';
import { NotFoundError, type AuthRequest } from '../../storage/storage.js';
import { renderFormPost } from '../../web/render.js';
import { connectorOf, loadRequest, saveConnectorState, scopesOf } from '../oauth/authorize/flow.js';
import { AuthorizePageError } from '../oauth/authorize/request.js';
import type { Provider } from '../oauth/provider.js';
import { formOf } from './form.js';
import { sendPage, type PageContext } from './pages.js';

/** Where the ACS page re-posts to: two segments, so no connector id under `/callback/:connector` can shadow it. */
export const SAML_CONTINUE_PATH = '/callback/saml/continue';

export interface SamlRoutesOptions {
  readonly provider: Provider;
  readonly page: PageContext;
  /** Name of the browser-binding cookie (auth-routes' BROWSER_COOKIE; passed in to keep the imports one-way). */
  readonly browserCookie: string;
  /** Finishes a verified login as for every connector: session cookie, then approval or the authorization response. */
  readonly complete: (
    request: FastifyRequest,
    reply: FastifyReply,
    pending: AuthRequest,
    identity: Identity,
  ) => Promise<void>;
}

/** Sends the browser to the IdP: the AuthnRequest in an auto-submitting form, RelayState = the auth request id (as Dex). */
export const sendSamlLogin = async (
  provider: Provider,
  page: PageContext,
  reply: FastifyReply,
  chosen: AuthRequest,
  connector: SamlConnector,
): Promise<void> => {
  const { action, samlRequest, connectorState } = await connector.postData(scopesOf(chosen), chosen.id);
  await saveConnectorState(provider, chosen, connectorState);
  sendPage(
    reply,
    page,
    renderFormPost({ ...page.base, redirectUri: action, params: { SAMLRequest: samlRequest, RelayState: chosen.id } }),
    200,
    action,
  );
};

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/**
 * Uses up the login's SAML request (compare-and-swap in storage), so one response is accepted at most once,
 * even when it is posted twice at the same moment or to two replicas.
 */
const takeConnectorState = async (provider: Provider, pending: AuthRequest): Promise<Uint8Array | undefined> => {
  const taken = pending.connectorState;
  if (taken === undefined) return undefined;
  try {
    await provider.storage.authRequests.update(pending.id, (old) => {
      if (old.connectorState === undefined || !sameBytes(old.connectorState, taken)) {
        throw new ConnectorError('SAML response for a login whose request was already answered (replay)');
      }
      return { ...old, connectorState: undefined };
    });
  } catch (err: unknown) {
    if (err instanceof NotFoundError)
      throw new ConnectorError('SAML response for a login that has just ended (replay)');
    throw err;
  }
  return taken;
};

/** Registers the ACS (`POST /callback`, `POST /callback/:connector`) and its same-site continuation. */
export const samlRoutes = (app: FastifyInstance, options: SamlRoutesOptions): void => {
  const { provider, page } = options;
  const base = provider.settings.basePath;

  const acs = async (
    request: FastifyRequest<{ Params: { connector?: string } }>,
    reply: FastifyReply,
  ): Promise<void> => {
    const form = formOf(request);
    const samlResponse = form.get('SAMLResponse');
    const relayState = form.get('RelayState');
    if (samlResponse === null || samlResponse === '' || relayState === null || relayState === '') {
      request.log.warn({ reason: 'POST without SAMLResponse or RelayState' }, 'SAML response refused');
      throw new AuthorizePageError(
        'The identity provider sent no login response. Go back to the application and sign in again.',
      );
    }
    const query =
      request.params.connector === undefined
        ? ''
        : `?${new URLSearchParams({ connector: request.params.connector }).toString()}`;
    sendPage(
      reply,
      page,
      renderFormPost({
        ...page.base,
        redirectUri: `${base}${SAML_CONTINUE_PATH}${query}`,
        params: { SAMLResponse: samlResponse, RelayState: relayState },
      }),
    );
  };
  app.post('/callback', acs);
  app.post('/callback/:connector', acs);

  app.post<{ Querystring: { connector?: string } }>(SAML_CONTINUE_PATH, async (request, reply) => {
    const form = formOf(request);
    const relayState = form.get('RelayState') ?? '';
    let pending: AuthRequest;
    try {
      pending = await loadRequest(provider, relayState, request.cookies[options.browserCookie]);
    } catch (err: unknown) {
      request.log.warn(
        {
          reason: 'RelayState names no pending login of this browser (unknown, expired, finished, or another browser)',
        },
        'SAML response refused',
      );
      throw err;
    }
    // Dex: /callback/<id> must be the connector the login was started with.
    const named = typeof request.query.connector === 'string' ? request.query.connector : pending.connectorId;
    if (named !== pending.connectorId) throw new AuthorizePageError('This login request belongs to another connector.');
    const { connector } = connectorOf(provider, pending.connectorId);
    if (connector.kind !== 'saml') throw new AuthorizePageError('This login request does not use SAML.');
    const connectorState = await takeConnectorState(provider, pending);
    const identity = await connector.handlePost(
      scopesOf(pending),
      connectorState,
      form.get('SAMLResponse') ?? '',
      relayState,
    );
    return options.complete(request, reply, pending, identity);
  });
};

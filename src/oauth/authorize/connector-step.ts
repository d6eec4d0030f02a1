/**
 * The connector step of the browser flow: which connector a pending request logs in with, how the browser gets
 * there (a password form, an upstream redirect, a SAML AuthnRequest form), and turning what comes back into an
 * identity. The one place the connector-kind dispatch and the "request belongs to another connector" rule live;
 * src/http only parses requests and renders what this returns.
 */
import { guardPasswordLogin } from '../brute-force.js';
import type { CallbackConnector, CallbackHeaders, Connector, Identity } from '../../../connectors/connector.js';
import { ConnectorError } from '../../../connectors/connector.js';
import type { AuthRequest } from '../../../storage/storage.js';
import { NotFoundError } from '../../../storage/storage.js';
import { PageError, type PageErrorCode } from '../primitives/page-error.js';
import type { Provider } from '../provider.js';
import { connectorOf, saveConnectorState, scopesOf } from './flow.js';

/** Where a pending request's connector login is started: GET `<base>/auth/<connector>?req=<request id>`. */
export const connectorUrl = (provider: Provider, connectorId: string, requestId: string): string =>
  `${provider.settings.basePath}/auth/${encodeURIComponent(connectorId)}?req=${encodeURIComponent(requestId)}`;

/** Where a logged-in request is approved: GET `<base>/approval?req=<request id>`. */
export const approvalUrl = (provider: Provider, requestId: string): string =>
  `${provider.settings.basePath}/approval?req=${encodeURIComponent(requestId)}`;

/** Where a password connector's form posts for a pending request. */
export const passwordLoginUrl = (provider: Provider, connectorId: string, requestId: string): string =>
  `${provider.settings.basePath}/auth/${encodeURIComponent(connectorId)}/login?state=${encodeURIComponent(requestId)}`;

/** The connectors on the chooser page, each leading to its login for the pending request. */
export const connectorChoices = (
  provider: Provider,
  requestId: string,
): { readonly name: string; readonly type: string; readonly url: string }[] =>
  [...provider.connectors.values()].map((entry) => ({
    name: entry.name,
    type: entry.type,
    url: connectorUrl(provider, entry.id, requestId),
  }));

/** How the browser goes on to the connector: a redirect, or an auto-submitting form (SAML's HTTP-POST binding). */
export type LoginStep =
  | { readonly kind: 'redirect'; readonly url: string }
  | { readonly kind: 'form_post'; readonly action: string; readonly params: Readonly<Record<string, string>> };

/** Starts the login at the connector the request was bound to: its password form, upstream or IdP. */
export const startConnectorLogin = async (provider: Provider, chosen: AuthRequest): Promise<LoginStep> => {
  const { connector } = connectorOf(provider, chosen.connectorId);
  if (connector.kind === 'password')
    return { kind: 'redirect', url: passwordLoginUrl(provider, chosen.connectorId, chosen.id) };
  if (connector.kind === 'callback') {
    const callbackUrl = `${provider.settings.issuer}/callback`;
    const { url, connectorState } = await connector.loginUrl(scopesOf(chosen), callbackUrl, chosen.id);
    await saveConnectorState(provider, chosen, connectorState);
    return { kind: 'redirect', url };
  }
  // RelayState = the auth request id (as Dex).
  const { action, samlRequest, connectorState } = await connector.postData(scopesOf(chosen), chosen.id);
  await saveConnectorState(provider, chosen, connectorState);
  return { kind: 'form_post', action, params: { SAMLRequest: samlRequest, RelayState: chosen.id } };
};

const WRONG_KIND: Record<Connector['kind'], PageErrorCode> = {
  password: 'connector_takes_no_password',
  callback: 'connector_uses_no_callback',
  saml: 'connector_uses_no_saml',
};

/**
 * The connector a step of a pending request talks to. The path may name a connector (Dex: /callback/<id>, the
 * password form's /auth/<id>/login); it must be the one the login was started with, and of the kind the step needs.
 */
export const connectorForStep = <K extends Connector['kind']>(
  provider: Provider,
  pending: AuthRequest,
  step: { readonly named: string | undefined; readonly kind: K },
): Extract<Connector, { kind: K }> => {
  const named = step.named ?? pending.connectorId;
  if (named !== pending.connectorId) throw new PageError('wrong_connector');
  const { connector } = connectorOf(provider, pending.connectorId);
  if (connector.kind !== step.kind) throw new PageError(WRONG_KIND[step.kind]);
  return connector as Extract<Connector, { kind: K }>;
};

/** The password step: undefined for wrong credentials (the form is shown again). */
export const passwordLogin = async (
  provider: Provider,
  pending: AuthRequest,
  attempt: {
    readonly named: string;
    readonly username: string;
    readonly password: string;
    readonly clientIp: string | undefined;
  },
): Promise<Identity | undefined> => {
  const connector = connectorForStep(provider, pending, { named: attempt.named, kind: 'password' });
  const budget = { connectorId: pending.connectorId, username: attempt.username, clientIp: attempt.clientIp };
  return guardPasswordLogin(provider, budget, () =>
    connector.login(scopesOf(pending), attempt.username, attempt.password),
  );
};

/** The headers a callback connector declared, first value of each (Go's Header.Get), by lower-case name. */
const trustedHeaders = (
  connector: CallbackConnector,
  header: (lowerCaseName: string) => string | undefined,
): CallbackHeaders => {
  const headers = new Map<string, string>();
  for (const name of connector.callbackHeaders ?? []) {
    const value = header(name.toLowerCase());
    if (value !== undefined) headers.set(name.toLowerCase(), value);
  }
  return headers;
};

/** The upstream's redirect back: the connector in the path (if any), the query, and a reader of request headers. */
export interface CallbackRequest {
  readonly named: string | undefined;
  readonly query: URLSearchParams;
  /** The first value of a request header by lower-case name. */
  readonly header: (lowerCaseName: string) => string | undefined;
}

/** The callback step: the upstream's redirect back, with its query. */
export const callbackLogin = async (
  provider: Provider,
  pending: AuthRequest,
  callback: CallbackRequest,
): Promise<Identity> => {
  const connector = connectorForStep(provider, pending, { named: callback.named, kind: 'callback' });
  // Only the connector's own callback path carries its trusted headers (a proxy guards that path, as in Dex).
  const headers = callback.named === undefined ? new Map<string, string>() : trustedHeaders(connector, callback.header);
  return connector.handleCallback(scopesOf(pending), pending.connectorState, callback.query, headers);
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

/**
 * The SAML step, at the same-site continuation of the ACS: the login's SAML request is used up first, and only then
 * is the response verified, as the answer to that request (InResponseTo).
 */
export const samlLogin = async (
  provider: Provider,
  pending: AuthRequest,
  post: { readonly named: string | undefined; readonly samlResponse: string; readonly relayState: string },
): Promise<Identity> => {
  const connector = connectorForStep(provider, pending, { named: post.named, kind: 'saml' });
  const connectorState = await takeConnectorState(provider, pending);
  return connector.handlePost(scopesOf(pending), connectorState, post.samlResponse, post.relayState);
};

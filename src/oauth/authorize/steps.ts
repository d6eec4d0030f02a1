/**
 * The decisions behind the browser flow's pages after the connector step: approval or the response, what the
 * approval and password pages show, and where "choose another login method" leads. src/http renders the results.
 */
import type { AuthRequest } from '../../../storage/storage.js';
import { deviceCallbackUrl, formatUserCode } from '../device/authorization.js';
import { PageError } from '../primitives/page-error.js';
import type { Provider } from '../provider.js';
import { approvalUrl, connectorForStep, connectorUrl, passwordLoginUrl } from './connector-step.js';
import { approvedResponse, deniedResponse, needsApproval, type AuthorizationResponse } from './flow.js';

/** After a login or at the approval page: answer the client now, or ask the user first. */
export type ApprovalStep =
  | { readonly kind: 'respond'; readonly response: AuthorizationResponse }
  | { readonly kind: 'ask'; readonly url: string };

/** Once the user is logged in: the response when no approval is needed, otherwise the approval page. */
export const afterLogin = async (provider: Provider, request: AuthRequest): Promise<ApprovalStep> => {
  if (!(await needsApproval(provider, request)))
    return { kind: 'respond', response: await approvedResponse(provider, request) };
  return { kind: 'ask', url: approvalUrl(provider, request.id) };
};

/** What the approval page shows about the client, the user, and (a device login) the device's code. */
export interface ApprovalView {
  readonly clientName: string;
  readonly clientLogoUrl?: string;
  /** Who is logged in: the email, or the username when the connector gave none. */
  readonly signedInAs?: string;
  /** The user code of a device login, formatted as the device shows it. */
  readonly userCode?: string;
}

/** The user code of a device login (its state is `<user code>.<mac>`); undefined for a client's request. */
const deviceUserCodeOf = (provider: Provider, pending: AuthRequest): string | undefined => {
  if (pending.redirectUri !== deviceCallbackUrl(provider.settings)) return undefined;
  return formatUserCode(pending.state.slice(0, Math.max(0, pending.state.indexOf('.'))));
};

/** GET /approval: the response when approval is no longer needed, otherwise what the page shows. */
export const approvalPage = async (
  provider: Provider,
  pending: AuthRequest,
): Promise<{ readonly kind: 'respond'; readonly response: AuthorizationResponse } | ApprovalView> => {
  if (!pending.loggedIn) throw new PageError('login_before_approval');
  if (!(await needsApproval(provider, pending)))
    return { kind: 'respond', response: await approvedResponse(provider, pending) };
  const client = await provider.storage.clients.get(pending.clientId);
  const who = pending.claims?.email || pending.claims?.username;
  const userCode = deviceUserCodeOf(provider, pending);
  return {
    clientName: client?.name !== undefined && client.name !== '' ? client.name : pending.clientId,
    ...(client?.logoURL ? { clientLogoUrl: client.logoURL } : {}),
    ...(who ? { signedInAs: who } : {}),
    ...(userCode !== undefined ? { userCode } : {}),
  };
};

/**
 * "Switch account" on the approval page: the request forgets its login and goes back to its connector's login, where
 * another user can log in (finishLogin then ends the previous user's session). Returns where the browser goes.
 */
export const switchAccount = async (provider: Provider, pending: AuthRequest): Promise<string> => {
  if (!pending.loggedIn) throw new PageError('login_before_approval');
  await provider.storage.authRequests.update(pending.id, (old) => ({
    ...old,
    loggedIn: false,
    claims: undefined,
    connectorData: undefined,
    authTime: undefined,
    sessionId: undefined,
  }));
  return connectorUrl(provider, pending.connectorId, pending.id);
};

/** POST /approval: the user's answer, after the form's CSRF token was checked. */
export const approvalAnswer = async (
  provider: Provider,
  pending: AuthRequest,
  approved: boolean,
): Promise<AuthorizationResponse> => {
  if (!pending.loggedIn) throw new PageError('login_before_approval');
  return approved ? approvedResponse(provider, pending) : deniedResponse(provider, pending);
};

/** What a password connector's form shows for a pending request. */
export interface PasswordFormView {
  readonly postUrl: string;
  readonly usernamePrompt: string;
  /** The chooser link, when there is more than one connector to choose from. */
  readonly backUrl?: string;
}

/** The password form of the connector the request was bound to; `named` is the connector in the path. */
export const passwordForm = (provider: Provider, pending: AuthRequest, named: string): PasswordFormView => {
  const connector = connectorForStep(provider, pending, { named, kind: 'password' });
  return {
    postUrl: passwordLoginUrl(provider, pending.connectorId, pending.id),
    usernamePrompt: connector.prompt(),
    ...(provider.connectors.size > 1 ? { backUrl: backUrlOf(provider, pending) } : {}),
  };
};

/**
 * Where "Choose another login method" leads: the original request again, or for a device login (whose redirect
 * URI is idport's own device callback, not a client's) the code-entry page with its user code.
 */
const backUrlOf = (provider: Provider, pending: AuthRequest): string => {
  const base = provider.settings.basePath;
  const userCode = deviceUserCodeOf(provider, pending);
  if (userCode !== undefined) return `${base}/device?${new URLSearchParams({ user_code: userCode }).toString()}`;
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

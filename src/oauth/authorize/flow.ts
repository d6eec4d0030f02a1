/**
 * The browser side of the authorization flow: from a validated /auth request through the connector login
 * and the approval page to the authorization response. Plain functions over a Provider; src/http renders.
 */
import { PageError } from '../primitives/page-error.js';
import type { Identity, Scopes } from '../../../connectors/connector.js';
import type { AuthRequest, ResponseMode, Session } from '../../../storage/storage.js';
import { OAuthError } from '../../errors.js';
import { RedirectableError, validateAuthorization, type ValidatedAuthorization } from './request.js';
import { endSession, subjectOf } from '../session/logout.js';
import {
  hasConsent,
  isSessionLive,
  loadSession,
  sessionServes,
  recordGrant,
  startSession,
  type SessionCookie,
} from '../session/sessions.js';
import { claimsOf, loginOf, type GrantFacts } from '../tokens/claims.js';
import { mintIdToken, mintTokens, verifyIdTokenHint } from '../tokens/mint.js';
import { OOB_REDIRECT_URI, withResponseParams } from '../primitives/redirect-uri.js';
import { wireDescription } from '../primitives/error-description.js';
import type { ConnectorEntry, Provider } from '../provider.js';
import { codeGrantRef } from '../primitives/grant-ref.js';
import { hasScope } from '../primitives/scopes.js';
import { hashSecret, randomToken, safeEqual } from '../primitives/secrets.js';
import { userDenied } from '../primitives/shared-errors.js';

/**
 * What the browser should see after /auth: the connector chooser, straight to one connector, on to approval
 * because the session already logged the user in, or (prompt=none) the response at once.
 */
export type AuthStart =
  | { readonly kind: 'choose'; readonly request: AuthRequest }
  | { readonly kind: 'connector'; readonly request: AuthRequest; readonly connectorId: string }
  | { readonly kind: 'loggedIn'; readonly request: AuthRequest }
  | { readonly kind: 'respond'; readonly response: AuthorizationResponse };

/** The response delivered to the client's redirect URI. */
export type AuthorizationResponse =
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'form_post'; readonly redirectUri: string; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'oob'; readonly code: string };

export const scopesOf = (request: Pick<AuthRequest, 'scopes'>): Scopes => ({
  offlineAccess: hasScope(request.scopes, 'offline_access'),
  groups: hasScope(request.scopes, 'groups'),
});

/**
 * Whether the browser session can stand in for a login (OIDC Core §3.1.2.1): not with prompt=login, not when
 * the last login is older than max_age, not when id_token_hint names another user.
 */
const sessionSatisfies = async (
  provider: Provider,
  session: Session | undefined,
  validated: ValidatedAuthorization,
  idTokenHint: string | null,
): Promise<boolean> => {
  if (session === undefined || validated.prompt.includes('login')) return false;
  if (!(await sessionServes(provider, session, validated.clientId))) return false;
  const now = provider.deps.clock.now().getTime();
  if (validated.maxAge !== undefined && now - session.authTime.getTime() > validated.maxAge * 1000) return false;
  if (idTokenHint !== null && idTokenHint !== '') {
    let hinted: string | undefined;
    try {
      const payload = await verifyIdTokenHint(provider, idTokenHint);
      hinted = typeof payload.sub === 'string' ? payload.sub : undefined;
    } catch {
      throw new OAuthError('invalid_request', 'id_token_hint is not an ID token this provider issued');
    }
    if (hinted !== subjectOf(session)) return false;
  }
  return true;
};

/** How long a request nobody has logged in to lives at most (README "Parameter limits"). */
export const PENDING_LOGIN_TTL_MS = 10 * 60_000;

/** The lifetime of a request before its login, and the least left after one: the shorter of 10 minutes and the TTL. */
export const pendingLoginTtlMs = (settings: Pick<Provider['settings'], 'authRequestTtlMs'>): number =>
  Math.min(settings.authRequestTtlMs, PENDING_LOGIN_TTL_MS);

/** Validates an authorization request, stores it bound to this browser, and says where the browser goes next. */
export const startAuthorization = async (
  provider: Provider,
  params: URLSearchParams,
  browserId: string,
  sessionCookie: string | undefined,
): Promise<AuthStart> => {
  const { storage, settings, deps } = provider;
  const validated = await validateAuthorization(params, {
    settings,
    getClient: (id) => storage.clients.get(id),
    connectorIds: [...provider.connectors.keys()],
  });
  const target = { redirectUri: validated.redirectUri, responseMode: validated.responseMode, state: validated.state };
  let session: Session | undefined;
  let reuse: boolean;
  try {
    session = await loadSession(provider, sessionCookie);
    reuse = await sessionSatisfies(provider, session, validated, params.get('id_token_hint'));
  } catch (err: unknown) {
    if (err instanceof OAuthError) throw new RedirectableError(err, target);
    throw err;
  }
  const now = deps.clock.now();
  const base = {
    ...validated,
    id: randomToken(deps.randomBytes),
    csrfToken: randomToken(deps.randomBytes),
    browserHash: hashSecret(browserId),
    // Anyone can create a request; until someone logs in to it, it lives minutes, not `expiry.authRequests`.
    expiry: new Date(now.getTime() + (reuse ? settings.authRequestTtlMs : pendingLoginTtlMs(settings))),
  };
  const request: AuthRequest =
    reuse && session !== undefined
      ? {
          ...base,
          loggedIn: true,
          connectorId: session.connectorId,
          claims: session.claims,
          connectorData: session.connectorData,
          authTime: session.authTime,
          sessionId: session.id,
        }
      : { ...base, loggedIn: false };
  if (validated.prompt.includes('none')) {
    // OIDC Core §3.1.2.6: answer at once, without any page.
    if (!reuse) throw new RedirectableError(new OAuthError('login_required', 'the user is not logged in'), target);
    if (await needsApproval(provider, request))
      throw new RedirectableError(new OAuthError('consent_required', 'the user has not approved this client'), target);
    // Answered within this request, so the auth request is never stored (silent renewals are frequent).
    return { kind: 'respond', response: await approvedResponse(provider, request, { stored: false }) };
  }
  await storage.authRequests.create(request);
  if (request.loggedIn) return { kind: 'loggedIn', request };
  if (validated.connectorId !== '') return { kind: 'connector', request, connectorId: validated.connectorId };
  const [only] = provider.connectors.keys();
  if (provider.connectors.size === 1 && only !== undefined && !settings.alwaysShowLoginScreen)
    return { kind: 'connector', request, connectorId: only };
  return { kind: 'choose', request };
};

const expiredRequest = (): PageError => new PageError('login_request_expired');

/** Loads a pending request for this browser; anything else (unknown, expired, another browser's) is the same page error. */
export const loadRequest = async (
  provider: Provider,
  requestId: string | undefined,
  browserId: string | undefined,
): Promise<AuthRequest> => {
  if (requestId === undefined || requestId === '') throw expiredRequest();
  const request = await provider.storage.authRequests.get(requestId);
  if (request === undefined || request.expiry.getTime() <= provider.deps.clock.now().getTime()) throw expiredRequest();
  if (browserId === undefined || !safeEqual(hashSecret(browserId), request.browserHash)) throw expiredRequest();
  // A logged-in request stands for its session: once that ends (logout, expiry, another user's login in this
  // browser), a page still in the history must not approve it and mint a code for the user who left.
  if (request.sessionId !== undefined && !(await isSessionLive(provider, request.sessionId))) throw expiredRequest();
  return request;
};

/** A POSTed form must carry the request's CSRF token. */
export const checkCsrf = (request: AuthRequest, csrf: string | undefined): void => {
  if (csrf === undefined || !safeEqual(csrf, request.csrfToken)) {
    throw new PageError('login_form_csrf');
  }
};

export const connectorOf = (provider: Provider, connectorId: string): ConnectorEntry => {
  const entry = provider.connectors.get(connectorId);
  if (entry === undefined) throw new PageError('unknown_connector', { connectorId });
  return entry;
};

/** Binds the request to the connector the user picked; a finished login cannot switch connectors. */
export const chooseConnector = async (
  provider: Provider,
  request: AuthRequest,
  connectorId: string,
): Promise<AuthRequest> => {
  connectorOf(provider, connectorId);
  if (request.loggedIn) throw expiredRequest();
  return provider.storage.authRequests.update(request.id, (old) => ({ ...old, connectorId }));
};

/** Stores what a callback connector needs back at the callback (PKCE verifier, nonce, …). */
export const saveConnectorState = async (
  provider: Provider,
  request: AuthRequest,
  connectorState: Uint8Array | undefined,
): Promise<void> => {
  await provider.storage.authRequests.update(request.id, (old) => ({ ...old, connectorState }));
};

/**
 * Records a successful connector login on the request and starts a new browser session for it (a new id, so
 * a planted cookie gains nothing). Returns the cookie to set.
 */
export const finishLogin = async (
  provider: Provider,
  request: AuthRequest,
  identity: Identity,
  options: { readonly rememberMe: boolean; readonly sessionCookie: string | undefined },
): Promise<{ request: AuthRequest; cookie: SessionCookie }> => {
  const now = provider.deps.clock.now();
  const claims = claimsOf(identity);
  const previous = await loadSession(provider, options.sessionCookie);
  const sameUser =
    previous !== undefined && previous.connectorId === request.connectorId && previous.claims.userId === claims.userId;
  if (previous !== undefined && !sameUser) {
    // Another user takes over this browser: the previous user's session ends as a logout ends it (its
    // session-bound refresh tokens revoked, its clients told over the back channel), not by a silent delete.
    const { deliveries } = await endSession(provider, previous);
    void deliveries; // in the background, as at /logout
  }
  const { session, cookie } = await startSession(
    provider,
    {
      connectorId: request.connectorId,
      claims,
      connectorData: identity.connectorData,
      authTime: now,
      rememberMe: options.rememberMe,
      clientId: request.clientId,
    },
    sameUser ? previous : undefined,
  );
  const updated = await provider.storage.authRequests.update(request.id, (old) => ({
    ...old,
    loggedIn: true,
    // A user who took most of the pending lifetime to log in still has time for the approval page.
    expiry: new Date(Math.max(old.expiry.getTime(), now.getTime() + pendingLoginTtlMs(provider.settings))),
    claims,
    connectorData: identity.connectorData,
    authTime: now,
    sessionId: session.id,
  }));
  return { request: updated, cookie };
};

/** Whether the approval page must be shown: forced by the client, or not skipped by config and not yet given in this session. */
export const needsApproval = async (provider: Provider, request: AuthRequest): Promise<boolean> => {
  if (request.forceApproval) return true;
  if (provider.settings.skipApprovalScreen) return false;
  const session = request.sessionId === undefined ? undefined : await provider.storage.sessions.get(request.sessionId);
  return !hasConsent(session, request.clientId, request.scopes);
};

/** Where the user goes when they deny consent (ARCHITECTURE.md decision 3: access_denied, not a page). */
export const deniedResponse = async (provider: Provider, request: AuthRequest): Promise<AuthorizationResponse> => {
  await consumeRequest(provider, request);
  return errorResponse(
    provider,
    { redirectUri: request.redirectUri, responseMode: request.responseMode, state: request.state },
    userDenied(),
  );
};

/** The request is single-use: deleting it must succeed, so a double submit cannot mint two codes. */
const consumeRequest = async (provider: Provider, request: AuthRequest): Promise<void> => {
  if (!(await provider.storage.authRequests.delete(request.id))) throw expiredRequest();
};

/** Issues the code and/or tokens for an approved, logged-in request and builds the response (OIDC Core §3.1.2.5, §3.2.2.5, §3.3.2.5). */
export const approvedResponse = async (
  provider: Provider,
  request: AuthRequest,
  options: { readonly stored: boolean } = { stored: true },
): Promise<AuthorizationResponse> => {
  const { storage, deps, settings } = provider;
  if (!request.loggedIn || request.claims === undefined || request.authTime === undefined) throw expiredRequest();
  if (options.stored) await consumeRequest(provider, request);
  if (request.sessionId !== undefined) await recordGrant(provider, request.sessionId, request.clientId, request.scopes);
  const now = deps.clock.now();
  const params: Record<string, string> = {};
  const types = request.responseTypes;
  let code: string | undefined;
  if (types.includes('code')) {
    code = randomToken(deps.randomBytes);
    await storage.authCodes.create({
      id: hashSecret(code),
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      redirectUriSent: request.redirectUriSent,
      scopes: request.scopes,
      nonce: request.nonce,
      claims: request.claims,
      connectorId: request.connectorId,
      connectorData: request.connectorData,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: request.codeChallengeMethod,
      authTime: request.authTime,
      sessionId: request.sessionId,
      expiry: new Date(now.getTime() + settings.authCodeTtlMs),
    });
    if (request.redirectUri === OOB_REDIRECT_URI) return { kind: 'oob', code };
    params.code = code;
  }
  if (types.includes('token') || types.includes('id_token')) {
    const login = loginOf({ ...request, claims: request.claims, authTime: request.authTime });
    const facts: GrantFacts = { ...login, scopes: request.scopes };
    // A front-channel access token of a hybrid response belongs to its code's grant, so a replayed code revokes it too.
    const withIdToken = types.includes('id_token');
    if (types.includes('token')) {
      const tokens = await mintTokens(provider, facts, {
        code,
        withIdToken,
        includeNonce: true,
        grantRef: code === undefined ? undefined : codeGrantRef(hashSecret(code)),
      });
      params.access_token = tokens.accessToken;
      params.token_type = 'Bearer';
      params.expires_in = String(tokens.expiresIn);
      if (tokens.idToken !== undefined) params.id_token = tokens.idToken;
    } else if (withIdToken) {
      // No access token goes out, so none is signed and the ID token carries no at_hash.
      params.id_token = await mintIdToken(provider, facts, { code, includeNonce: true });
    }
  }
  return deliver(provider, request, params);
};

/** Sends an error to a verified redirect URI in the request's response mode (RFC 6749 §4.1.2.1). */
export const errorResponse = (
  provider: Provider,
  target: { redirectUri: string; responseMode: ResponseMode; state: string },
  error: OAuthError,
): AuthorizationResponse => {
  if (target.redirectUri === OOB_REDIRECT_URI) throw new PageError('request_failed', { error: error.code });
  const params: Record<string, string> = { error: error.code };
  if (error.description !== undefined) params.error_description = wireDescription(error.description);
  return deliver(provider, target, params);
};

/** The response at the verified redirect URI, in the request's response mode, with `state` and `iss` added. */
const deliver = (
  provider: Provider,
  target: { readonly redirectUri: string; readonly responseMode: ResponseMode; readonly state: string },
  params: Record<string, string>,
): AuthorizationResponse => {
  const { redirectUri, responseMode, state } = target;
  if (state !== '') params.state = state;
  params.iss = provider.settings.issuer; // RFC 9207
  if (responseMode === 'form_post') return { kind: 'form_post', redirectUri, params };
  const placement = responseMode === 'fragment' ? 'fragment' : 'query';
  return { kind: 'redirect', location: withResponseParams(redirectUri, new URLSearchParams(params), placement) };
};
